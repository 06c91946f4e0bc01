"""Removal suite: how much of each effect a removal model undoes, and what it costs when the effect is absent.

Cases are built from the ``eval`` dry recordings of the shared ``splits.json`` (never trained or tuned on) with
:class:`~deconstruct.data.datasets.effected.EffectedDataset` (mono, 44.1 kHz, levels -24..-12 dBFS, catalog parameters
drawn uniformly); convolution reverb uses the ``eval`` measured room impulse responses. Every case is scored
by SI-SDR against the dry reference (dB, per case capped at :data:`SI_SDR_CAP_DB`) and by the multi-resolution
STFT distance (auraloss defaults; the meaningful one for modulation and reverberation). The true effects are
given (oracle detection) in two ways: by name only (``names``) and with their true parameters (``params``,
what a perfect analysis would pass), so signal-processing inverses and networks are compared on the same cases.

Tables (pandas DataFrames, one row per case):

- ``single``: one effect per case (reverb algorithmic), and ``rir``: reverb by convolution with ``eval`` rooms;
- ``chains``: 2- and 3-effect chains, every effect of the chain given;
- ``lacking``: one effect that is not the one removed (what a wrong detection costs: SI-SDR lost against the
  dry reference); ``dry``: clean input to each remover alone (SI-SDR of the output against the input);
- ``detected``: the whole remover on clean input in ``detected`` mode, with an analysis callable's estimates when
  one is given (no estimates otherwise: then it must pass through unchanged), and in ``all`` mode (worst case);
- ``summary``: means per effect / chain length.

    python -m eval.removal_suite --model removal-default --out reports/removal
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from deconstruct.audio import Audio
from deconstruct.data.datasets.effected import EffectedDataset, list_audio_files
from deconstruct.data.material.recordings import shared_data_root
from deconstruct.effects.catalog import EFFECT_NAMES, EffectEstimate
from deconstruct.effects.chain import Chain
from deconstruct.errors import InputError
from deconstruct.metrics.sdr import si_sdr
from deconstruct.metrics.stft import mrstft_distance
from deconstruct.removal import EffectRemover

__all__ = [
    "SI_SDR_CAP_DB",
    "add_arguments",
    "eval_split_files",
    "evaluate_removal",
    "run",
    "summarise",
]

SI_SDR_CAP_DB = 60.0
SAMPLE_RATE = 44100
DRY_FOLDERS = ("dry_speech", "dry_vocals", "dry_instruments")
RIR_FOLDERS = ("rir", "brir")
Analyze = Callable[[Audio], Sequence[EffectEstimate]]


def eval_split_files(root: str | Path | None = None) -> tuple[list[Path], list[Path]]:
    """The ``eval`` dry recordings and measured room impulse responses of ``splits.json``.

    Raises:
        InputError: no shared data folder, or no dry recording in its ``eval`` split.
    """
    root = shared_data_root() if root is None else Path(root)
    if root is None or not (root / "splits.json").is_file():
        raise InputError("no shared data folder with a splits.json; set DECONSTRUCT_SHARED_DATA to it")
    entries = [root / entry for entry in json.loads((root / "splits.json").read_text())["eval"]]

    def expand(folders: tuple[str, ...]) -> list[Path]:
        chosen = [e for e in entries if e.relative_to(root).parts[0] in folders]
        return [f for e in chosen for f in (list_audio_files(e) if e.is_dir() else [e])]

    dry = expand(DRY_FOLDERS)
    if not dry:
        raise InputError(f"{root / 'splits.json'}: no eval dry recordings under {', '.join(DRY_FOLDERS)}")
    return dry, expand(RIR_FOLDERS)


def _si_sdr(reference: torch.Tensor, estimate: torch.Tensor) -> float:
    return min(float(si_sdr(reference, estimate).mean()), SI_SDR_CAP_DB)


def _mrstft(reference: torch.Tensor, estimate: torch.Tensor) -> float:
    return float(mrstft_distance(reference[None], estimate[None])[0])


def _cases(files: list[Path], rirs: list[Path], count: int, seed: int, effects: Sequence[str], size: int,
           duration_s: float, convolution_probability: float = 0.5,
           channels: int = 1) -> list[tuple[Chain, torch.Tensor, torch.Tensor]]:
    """``count`` (chain, dry [C, T], wet [C, T]) cases of exactly ``size`` effects drawn from ``effects``."""
    dataset = EffectedDataset(files, rir_files=rirs, sample_rate=SAMPLE_RATE, duration_s=duration_s,
                              channels=channels,
                              length=count, seed=seed, max_effects=size, min_effects=size, effects=effects,
                              convolution_probability=convolution_probability)
    out = []
    for index in range(count):
        item = dataset[index]
        out.append((Chain.from_dict(json.loads(item["chain"])), item["dry"], item["wet"]))
    return out


def _remove(remover: EffectRemover, wet: torch.Tensor, chain: Chain, names: Sequence[str],
            with_params: bool) -> tuple[torch.Tensor, str]:
    given: list[EffectEstimate | str] = list(names)
    if with_params:
        given = [EffectEstimate(n, 1.0, dict(chain.get(n).params) if chain.get(n) else {}) for n in names]
    result = remover.remove(Audio(wet, SAMPLE_RATE), given, mode="given")
    methods = ",".join(f"{r.name}:{r.method}" for r in result.removals)
    return result.audio.samples, methods


def _oracle_row(remover: EffectRemover, chain: Chain, dry: torch.Tensor, wet: torch.Tensor,
                analyze: Analyze | None = None) -> dict[str, Any]:
    row: dict[str, Any] = {"chain": "+".join(chain.names), "input_si_sdr": _si_sdr(dry, wet),
                           "input_mrstft": _mrstft(dry, wet)}
    for label, with_params in (("names", False), ("params", True)):
        out, methods = _remove(remover, wet, chain, chain.names, with_params)
        row.update({f"{label}_si_sdr": _si_sdr(dry, out), f"{label}_mrstft": _mrstft(dry, out),
                    f"{label}_methods": methods})
    if analyze is not None:  # the realistic system: detections and parameters from the analysis stage
        result = remover.remove(Audio(wet, SAMPLE_RATE), list(analyze(Audio(wet, SAMPLE_RATE))), mode="detected")
        row.update({"analysis_si_sdr": _si_sdr(dry, result.audio.samples),
                    "analysis_mrstft": _mrstft(dry, result.audio.samples),
                    "analysis_methods": ",".join(f"{r.name}:{r.method}" for r in result.removals)})
    return row


BASELINES = ("wpe",)


def _baseline_row(dry: torch.Tensor, wet: torch.Tensor, baselines: Sequence[str]) -> dict[str, float]:
    """Scores of the classical dereverberation baselines on one reverb case."""
    row: dict[str, float] = {}
    for name in baselines:
        if name not in BASELINES:
            raise InputError(f"unknown baseline {name!r}; known: {', '.join(BASELINES)}")
        from deconstruct.removal.wpe import wpe_dereverb

        out = wpe_dereverb(wet, SAMPLE_RATE)
        row.update({f"{name}_si_sdr": _si_sdr(dry, out), f"{name}_mrstft": _mrstft(dry, out)})
    return row


def evaluate_removal(
    remover: EffectRemover,
    root: str | Path | None = None,
    cases_per_effect: int = 12,
    chain_cases: int = 24,
    lacking_cases: int = 8,
    duration_s: float = 3.0,
    seed: int = 20240,
    effects: Sequence[str] = EFFECT_NAMES,
    analyze: Analyze | None = None,
    log: Callable[[str], None] | None = None,
    channels: int = 1,
    baselines: Sequence[str] = (),
) -> dict[str, pd.DataFrame]:
    """Score a removal model on the ``eval`` recordings (see the module docstring for the tables).

    Args:
        remover: the model under test.
        root: the shared data folder (found automatically when ``None``).
        cases_per_effect: single-effect cases per effect (and reverb cases with ``eval`` rooms).
        chain_cases: cases per chain length (2 and 3).
        lacking_cases: cases per effect with one other effect; as many clean ones (halved).
        duration_s: case length, s.
        seed: base seed of the cases.
        effects: the effects to test (chains are drawn from them; all by default).
        analyze: optional analysis ``audio -> estimates``: every effected case is then also run in ``detected``
            mode on its estimates (columns ``analysis_*``), and clean input is checked with them.
        log: optional progress callback.
        channels: channels of every case (mono sources duplicated; stereo reverb decorrelates them).
        baselines: classical methods scored beside the model on the reverb cases (``"wpe"``: weighted prediction
            error, :func:`deconstruct.removal.wpe.wpe_dereverb`; columns ``wpe_si_sdr``, ``wpe_mrstft``).

    Returns:
        DataFrames ``single``, ``rir``, ``chains``, ``lacking``, ``dry``, ``detected`` and ``summary``.
    """
    files, rirs = eval_split_files(root)
    say = log or (lambda message: None)
    single, rir, chains, lacking, clean, detected = [], [], [], [], [], []
    effects = [name for name in EFFECT_NAMES if name in effects]
    for number, effect in enumerate(effects):
        say(f"single {effect}")
        for index, (chain, dry, wet) in enumerate(_cases(files, rirs, cases_per_effect, seed + number, [effect], 1,
                                                          duration_s, convolution_probability=0.0, channels=channels)):
            single.append({"effect": effect, "case": index, **_oracle_row(remover, chain, dry, wet, analyze),
                           **(_baseline_row(dry, wet, baselines) if effect == "reverb" else {})})
    if rirs and "reverb" in effects:
        say("reverb with eval rooms")
        for index, (chain, dry, wet) in enumerate(_cases(files, rirs, cases_per_effect, seed + 50, ["reverb"], 1,
                                                          duration_s, convolution_probability=1.0, channels=channels)):
            room = Path(chain.get("reverb").rir).stem
            rir.append({"effect": "reverb", "room": room, "case": index,
                        **_oracle_row(remover, chain, dry, wet, analyze), **_baseline_row(dry, wet, baselines)})
    for size in (2, 3)[: max(0, len(effects) - 1)]:
        say(f"{size}-effect chains")
        for index, (chain, dry, wet) in enumerate(_cases(files, rirs, chain_cases, seed + 100 + size, effects,
                                                          size, duration_s, channels=channels)):
            chains.append({"effects": size, "case": index, **_oracle_row(remover, chain, dry, wet, analyze)})
    for number, effect in enumerate(effects):
        say(f"lacking {effect}")
        others = [n for n in EFFECT_NAMES if n != effect]
        for index, (chain, dry, wet) in enumerate(_cases(files, rirs, lacking_cases, seed + 200 + number, others, 1,
                                                          duration_s, channels=channels)):
            out, methods = _remove(remover, wet, chain, [effect], False)
            before, after = _si_sdr(dry, wet), _si_sdr(dry, out)
            lacking.append({"effect": effect, "other": chain.names[0], "case": index, "input_si_sdr": before,
                            "output_si_sdr": after, "loss_db": before - after, "method": methods})
        for index, (_, dry, _) in enumerate(_cases(files, rirs, max(1, lacking_cases // 2), seed + 300 + number,
                                                   EFFECT_NAMES, 0, duration_s, channels=channels)):
            out, methods = _remove(remover, dry, Chain(), [effect], False)
            clean.append({"effect": effect, "case": index, "output_si_sdr": _si_sdr(dry, out), "method": methods})
    say("clean input, detected and all modes")
    for index, (_, dry, _) in enumerate(_cases(files, rirs, chain_cases, seed + 400, EFFECT_NAMES, 0, duration_s,
                                               channels=channels)):
        audio = Audio(dry, SAMPLE_RATE)
        estimates = list(analyze(audio)) if analyze is not None else []
        found = remover.remove(audio, estimates, mode="detected")
        everything = remover.remove(audio, [], mode="all")
        detected.append({
            "case": index, "analysis": "given" if analyze is not None else "none",
            "detected": ",".join(found.applied), "detected_si_sdr": _si_sdr(dry, found.audio.samples),
            "unchanged": bool(torch.equal(found.audio.samples, dry)),
            "all_si_sdr": _si_sdr(dry, everything.audio.samples),
        })
    tables = {"single": pd.DataFrame(single), "rir": pd.DataFrame(rir), "chains": pd.DataFrame(chains),
              "lacking": pd.DataFrame(lacking), "dry": pd.DataFrame(clean), "detected": pd.DataFrame(detected)}
    tables["summary"] = summarise(tables)
    return tables


def _oracle_summary(table: pd.DataFrame, key: str, label: str) -> pd.DataFrame:
    methods = ["input", "names", "params"] + [m for m in ("analysis", *BASELINES) if f"{m}_si_sdr" in table]
    metrics = [f"{method}_{metric}" for metric in ("si_sdr", "mrstft") for method in methods]
    summary = table.groupby(key)[metrics].mean().reset_index()
    for method in methods[1:]:
        summary[f"{method}_gain_db"] = summary[f"{method}_si_sdr"] - summary["input_si_sdr"]
    summary.insert(0, "table", label)
    return summary.rename(columns={key: "case_set"})


def summarise(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Means per effect (single, rir), per chain length (chains); loss when lacking; clean-input figures."""
    parts = [_oracle_summary(tables["single"], "effect", "single")]
    if len(tables["rir"]):
        parts.append(_oracle_summary(tables["rir"], "effect", "rir"))
    if len(tables["chains"]):
        chains = tables["chains"].assign(effects=tables["chains"]["effects"].astype(str) + "-effect")
        parts.append(_oracle_summary(chains, "effects", "chains"))
    summary = pd.concat(parts, ignore_index=True)
    lacking = tables["lacking"].groupby("effect")["loss_db"].agg(["mean", "max"]).reset_index()
    lacking.columns = ["case_set", "lacking_loss_db", "lacking_max_loss_db"]
    clean = tables["dry"].groupby("effect")["output_si_sdr"].mean().reset_index()
    clean.columns = ["case_set", "clean_output_si_sdr"]
    summary = summary.merge(lacking, on="case_set", how="left").merge(clean, on="case_set", how="left")
    detected = tables["detected"]
    if len(detected):
        summary = pd.concat([summary, pd.DataFrame([{
            "table": "detected", "case_set": f"clean input ({detected['analysis'].iloc[0]} analysis)",
            "names_si_sdr": float(detected["detected_si_sdr"].mean()),
            "params_si_sdr": float(detected["all_si_sdr"].mean()),  # "all" mode: every remover
            "input_si_sdr": SI_SDR_CAP_DB,
        }])], ignore_index=True)
    return summary


def headline(summary: pd.DataFrame) -> dict[str, float]:
    """A few numbers for the model index: mean SI-SDR gains (names only, and with true parameters) per effect and
    chain length, and the worst mean loss on input lacking the effect."""
    rows = summary[summary["table"].isin(["single", "chains"])]
    out: dict[str, float] = {}
    for row in rows.itertuples():
        out[f"si_sdr_gain_db/{row.case_set}"] = round(float(row.names_gain_db), 2)
        out[f"si_sdr_gain_db/{row.case_set}/params"] = round(float(row.params_gain_db), 2)
        if "analysis_gain_db" in summary:
            out[f"si_sdr_gain_db/{row.case_set}/analysis"] = round(float(row.analysis_gain_db), 2)
    out["lacking_max_mean_loss_db"] = round(float(summary["lacking_loss_db"].max()), 2)
    return out


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``python -m eval removal``."""
    parser.add_argument("--model", default=None, help="removal model: shipped name, checkpoint path or dsp-only")
    parser.add_argument("--out", type=Path, required=True, help="report folder (CSV tables, summary JSON)")
    parser.add_argument("--data", type=Path, default=None, help="shared data folder (found automatically)")
    parser.add_argument("--analysis-model", default=None,
                        help="also run every case through this analysis model's detections and parameters")
    parser.add_argument("--cases", type=int, default=12, help="cases per effect")
    parser.add_argument("--chain-cases", type=int, default=24, help="cases per chain length")
    parser.add_argument("--effects", default=",".join(EFFECT_NAMES), help="comma-separated effects to test")
    parser.add_argument("--channels", type=int, default=1, help="channels per case (2: stereo)")
    parser.add_argument("--duration", type=float, default=3.0, help="case length, s")
    parser.add_argument("--baseline", action="append", default=[], choices=BASELINES,
                        help="also score a classical method on the reverb cases (wpe)")
    parser.add_argument("--overwrite", action="store_true", help="write into a report folder that has files")
    parser.add_argument("--store", action="store_true",
                        help="write the results into the model's metrics file (a shipped model's "
                             "deconstruct/models/weights/<name>.metrics.json, or <checkpoint>.metrics.json)")


def run(args: argparse.Namespace) -> int:
    """Run the suite and write ``<table>.csv`` and ``summary.json`` into ``args.out``."""
    from eval.report_folder import prepare_output_dir, write_csv, write_json

    torch.set_num_threads(1)
    out = prepare_output_dir(args.out, overwrite=args.overwrite)
    remover = EffectRemover(args.model)
    analyze = None
    if args.analysis_model:
        from deconstruct.analysis import EffectAnalyzer

        analyze = EffectAnalyzer(args.analysis_model).analyze
    started = time.monotonic()
    tables = evaluate_removal(remover, args.data, args.cases, args.chain_cases, duration_s=args.duration,
                              effects=[e for e in args.effects.split(",") if e],
                              analyze=analyze, log=print, channels=args.channels, baselines=args.baseline)
    for name, table in tables.items():
        write_csv(table, out / f"{name}.csv")
    summary = tables["summary"]
    results = {"model": remover.name, "analysis_model": args.analysis_model,
               "seconds": round(time.monotonic() - started, 1),
               "headline": headline(summary), "summary": summary.to_dict(orient="records")}
    write_json(results, out / "summary.json")
    if args.store:
        from eval.store import store_suite_results

        print(f"stored in {store_suite_results(args.model or remover.name, 'removal_suite', results)}")
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.precision", 2):
        print(summary.drop(columns=["input_mrstft", "names_mrstft", "params_mrstft"], errors="ignore"))
    return 0 if math.isfinite(float(summary["names_si_sdr"].mean())) else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m eval.removal_suite", description=__doc__.splitlines()[0])
    add_arguments(parser)
    raise SystemExit(run(parser.parse_args()))
