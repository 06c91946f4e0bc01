"""Analysis suite: effect detection and parameter estimation on unseen dry recordings with synthetic chains.

Protocol (fixed seed, so every model is scored on the same cases):

- sources: the dry recordings of the ``eval`` split of ``splits.json`` (entries under ``dry_*`` folders: speech,
  an anechoic operatic voice, a flute note), each whole, at its own rate;
- ``chains`` cases per source: the source levelled to an RMS drawn in [-24, -12] dBFS, then a chain of 0-3
  catalog effects from :func:`~deconstruct.effects.chain.sample_chain` (uniform parameters), rendered at the
  source's rate; reverbs are convolution with an ``eval`` room response (never seen in training) half of the time;
  the result is scaled to a 0.99 peak when it would clip (as the training data is);
- the analyzer sees each case whole (windows and aggregation as in use).

Tables:

- ``detection``: per effect precision, recall and F1 at 0.5 and at the checkpoint's tuned thresholds, beside the
  all-effects-present baseline (every effect predicted on every case);
- ``params``: per parameter the mean absolute error over the cases where that effect (and EQ section) is present,
  normalised and in physical units (RT60 and DRR against :func:`deconstruct.analysis.reverb.reverb_descriptors`);
- ``rir``: reverb detection on each ``eval`` dry source convolved with each ``eval`` room response (wet levels 0.2,
  0.4, 0.6 and fully wet), and the dry sources alone (false positives), with RT60/DRR estimates and truth;
- ``summary``: macro-F1 (all 7 effects, and RemFX's five: compressor, distortion, chorus, delay, reverb), mean
  normalised parameter MAE, reverb recall on measured rooms.

    python -m eval analysis --model analysis-effect-cnn --out reports/analysis
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from deconstruct.audio import Audio, load_audio
from deconstruct.errors import InputError
from eval.report_folder import prepare_output_dir, write_csv, write_json
from eval.store import store_suite_results

__all__ = [
    "AnalysisResults",
    "REMFX_EFFECTS",
    "add_arguments",
    "eval_dry_files",
    "eval_rir_files",
    "evaluate_analysis",
    "run",
    "stored_results",
]

REMFX_EFFECTS = ("compressor", "distortion", "chorus", "delay", "reverb")
LEVEL_DB = (-24.0, -12.0)
RIR_WET_LEVELS = (0.2, 0.4, 0.6, 1.0)


@dataclass(frozen=True)
class AnalysisResults:
    """The suite's tables (see the module docstring) and its headline numbers."""

    cases: pd.DataFrame
    detection: pd.DataFrame
    params: pd.DataFrame
    rir: pd.DataFrame
    summary: dict[str, Any]


def _eval_entries(root: Path) -> list[Path]:
    splits = json.loads((root / "splits.json").read_text())
    return [root / entry for entry in splits["eval"]]


def _files(entry: Path) -> list[Path]:
    from deconstruct.data.datasets.effected import list_audio_files

    return list_audio_files(entry) if entry.is_dir() else [entry]


def eval_dry_files(root: Path) -> list[Path]:
    """The ``eval`` dry recordings of ``root/splits.json``: its entries under ``dry_*`` folders."""
    return [f for e in _eval_entries(root) if e.relative_to(root).parts[0].startswith("dry_") for f in _files(e)]


def eval_rir_files(root: Path) -> list[Path]:
    """The ``eval`` measured room responses of ``root/splits.json``: its entries under ``rir/`` and ``brir/``."""
    return [f for e in _eval_entries(root) if e.relative_to(root).parts[0] in ("rir", "brir") for f in _files(e)]


def _levelled(audio: Audio, level_db: float) -> torch.Tensor:
    rms = float(audio.samples.double().square().mean().sqrt())
    if rms <= 0:
        raise InputError("an evaluation source is digital silence")
    return audio.samples * float(10.0 ** (level_db / 20.0) / rms)


def _clip_safe(samples: torch.Tensor) -> torch.Tensor:
    peak = float(samples.abs().max())
    return samples * (0.99 / peak) if peak > 0.99 else samples


def _chain_cases(files: list[Path], rirs: list[Path], chains: int, seed: int) -> list[dict[str, Any]]:
    from deconstruct.effects.chain import sample_chain

    rng = np.random.default_rng(seed)
    cases = []
    for file in files:
        for _ in range(chains):
            level = float(rng.uniform(*LEVEL_DB))
            chain = sample_chain(rng, max_effects=3, rir_files=rirs, convolution_probability=0.5)
            cases.append({"file": file, "level_db": level, "chain": chain})
    return cases


def evaluate_analysis(analyzer: Any, root: str | Path | None = None, chains: int = 40, seed: int = 0,
                      progress: bool = False) -> AnalysisResults:
    """Score an :class:`~deconstruct.analysis.EffectAnalyzer` with the protocol of the module docstring.

    Args:
        analyzer: the analyzer (its tuned thresholds give the ``@tuned`` columns).
        root: the shared data folder (default: found as the data package finds it).
        chains: chains per dry source.
        seed: seed of the chains and levels.
        progress: print a line every 20 cases.

    Returns:
        :class:`AnalysisResults`.
    """
    from deconstruct.analysis.layout import output_specs, targets_from_chain
    from deconstruct.analysis.scoring import detection_scores, macro_f1
    from deconstruct.data.material.recordings import shared_data_root
    from deconstruct.effects.catalog import EFFECT_NAMES, total_params
    from deconstruct.effects.render import render_chain

    root = Path(root) if root is not None else shared_data_root()
    if root is None or not (root / "splits.json").is_file():
        raise InputError("no shared data folder with a splits.json; pass --data or set DECONSTRUCT_SHARED_DATA")
    files, rirs = eval_dry_files(root), eval_rir_files(root)
    if not files:
        raise InputError(f"{root / 'splits.json'} lists no eval dry recordings")
    sources = {file: load_audio(file) for file in files}

    rows, estimates, truths, masks = [], [], [], []
    for number, case in enumerate(_chain_cases(files, rirs, chains, seed)):
        source = sources[case["file"]]
        wet = _clip_safe(render_chain(_levelled(source, case["level_db"]), source.sample_rate, case["chain"]))
        out = analyzer.network_outputs(wet, source.sample_rate)
        values, mask = targets_from_chain(case["chain"])
        labels = case["chain"].labels()
        row = {"file": case["file"].name, "level_db": case["level_db"], "chain": json.dumps(case["chain"].to_dict()),
               "reason": out.reason}
        for index, name in enumerate(EFFECT_NAMES):
            row[f"true/{name}"] = int(labels[index])
            row[f"p/{name}"] = float(out.probabilities[index])
        rows.append(row)
        estimates.append(out.params.numpy() if out.reason is None else np.full(len(values), np.nan))
        truths.append(values)
        catalog_mask = case["chain"].normalised()[1]  # MAE over what is present: EQ fill-ins are not scored
        masks.append(np.concatenate([catalog_mask, mask[total_params():]]))
        if progress and number % 20 == 19:
            print(f"{number + 1} cases", flush=True)
    cases = pd.DataFrame(rows)

    labels = cases[[f"true/{n}" for n in EFFECT_NAMES]].to_numpy()
    probabilities = cases[[f"p/{n}" for n in EFFECT_NAMES]].to_numpy()
    limits = np.array([analyzer.thresholds[n] for n in EFFECT_NAMES])
    at_half = detection_scores(probabilities >= 0.5, labels, EFFECT_NAMES)
    at_tuned = detection_scores(probabilities >= limits, labels, EFFECT_NAMES)
    baseline = detection_scores(np.ones_like(labels, dtype=bool), labels, EFFECT_NAMES)
    detection = pd.DataFrame([
        {"effect": name, "support": int(at_half[name]["support"]), "threshold": float(analyzer.thresholds[name]),
         **{f"{key}@0.5": at_half[name][key] for key in ("precision", "recall", "f1")},
         **{f"{key}@tuned": at_tuned[name][key] for key in ("precision", "recall", "f1")},
         "f1_all_present": baseline[name]["f1"]}
        for name in EFFECT_NAMES
    ])

    params = _param_table(np.array(estimates), np.array(truths), np.array(masks), output_specs())
    rir = _rir_table(analyzer, sources, rirs)
    catalog_rows = params[~params["parameter"].isin(["rt60_s", "drr_db"])]
    dry_rows = rir[rir["rir"] == ""]
    wet_rows = rir[rir["rir"] != ""]
    summary = {
        "cases": len(cases),
        "sources": [f.name for f in files],
        "chains_per_source": chains,
        "seed": seed,
        "macro_f1@0.5": macro_f1(at_half),
        "macro_f1@tuned": macro_f1(at_tuned),
        "macro_f1_all_present_baseline": macro_f1(baseline),
        "macro_f1_remfx5@0.5": macro_f1(at_half, REMFX_EFFECTS),
        "macro_f1_remfx5@tuned": macro_f1(at_tuned, REMFX_EFFECTS),
        "f1@0.5": {name: at_half[name]["f1"] for name in EFFECT_NAMES},
        "f1@tuned": {name: at_tuned[name]["f1"] for name in EFFECT_NAMES},
        "param_mae_normalised": float(catalog_rows["mae_normalised"].mean()),
        "param_mae_normalised_per_effect": catalog_rows.groupby("effect", sort=False)["mae_normalised"].mean()
        .to_dict(),
        "rt60_mae_s": _physical_mae(params, "rt60_s"),
        "drr_mae_db": _physical_mae(params, "drr_db"),
        "rir_reverb_recall@tuned": float(wet_rows["detected@tuned"].mean()) if len(wet_rows) else float("nan"),
        "rir_reverb_recall@0.5": float((wet_rows["p_reverb"] >= 0.5).mean()) if len(wet_rows) else float("nan"),
        "rir_dry_false_positive@tuned": float(dry_rows["detected@tuned"].mean()) if len(dry_rows) else float("nan"),
        "rir_rt60_mae_s": float((wet_rows["rt60_s"] - wet_rows["true_rt60_s"]).abs().mean()),
        "rir_drr_mae_db": float((wet_rows["drr_db"] - wet_rows["true_drr_db"]).abs().mean()),
    }
    return AnalysisResults(cases, detection, params, rir, summary)


def _physical_mae(params: pd.DataFrame, name: str) -> float:
    rows = params.loc[params["parameter"] == name, "mae_physical"] if len(params) else pd.Series(dtype=float)
    return float(rows.iloc[0]) if len(rows) else float("nan")


def _param_table(estimates: np.ndarray, truths: np.ndarray, masks: np.ndarray, specs: list) -> pd.DataFrame:
    """MAE per output parameter over the cases where it is present (normalised and physical)."""
    rows = []
    for column, (effect, spec) in enumerate(specs):
        present = (masks[:, column] > 0.5) & np.isfinite(estimates[:, column])
        if not present.any():
            continue
        estimate, truth = estimates[present, column], truths[present, column]
        physical = [abs(spec.denormalise(float(e)) - spec.denormalise(float(t))) for e, t in zip(estimate, truth)]
        rows.append({"effect": effect, "parameter": spec.name, "unit": spec.unit, "count": int(present.sum()),
                     "mae_normalised": float(np.mean(np.abs(estimate - truth))),
                     "mae_physical": float(np.mean(physical))})
    return pd.DataFrame(rows)


def _room_case(dry: torch.Tensor, sample_rate: int, rir: Path, wet: float) -> tuple[torch.Tensor, dict[str, float]]:
    """``dry`` through a measured room at ``wet`` (1: the room alone) and the RT60/DRR of that response."""
    from deconstruct.analysis.reverb import drr_db, reverb_descriptors
    from deconstruct.effects.chain import Effect
    from deconstruct.effects.render import apply_rir
    from deconstruct.effects.rir import load_rir

    audio = apply_rir(dry, sample_rate, rir, wet_level=wet)
    if wet <= 0.6:  # inside the catalog range: the same truth as the training targets
        return audio, reverb_descriptors(Effect("reverb", {"wet_level": wet}, "convolution", str(rir)))
    response = wet * load_rir(rir, 44100)[0].double().numpy()
    response[0] += 1.0 - wet
    rt60 = reverb_descriptors(Effect("reverb", {"wet_level": 0.6}, "convolution", str(rir)))["rt60_s"]
    return audio, {"rt60_s": rt60, "drr_db": drr_db(response, 44100)}


def _rir_table(analyzer: Any, sources: dict[Path, Audio], rirs: list[Path]) -> pd.DataFrame:
    """Reverb detection and RT60/DRR on dry sources convolved with measured rooms, and on the dry sources."""
    from deconstruct.analysis.layout import DESCRIPTORS
    from deconstruct.effects.catalog import EFFECT_NAMES, total_params

    reverb = EFFECT_NAMES.index("reverb")
    rows = []
    for file, source in sources.items():
        dry = _levelled(source, -18.0)
        for rir, wet in [(None, 0.0)] + [(rir, wet) for rir in rirs for wet in RIR_WET_LEVELS]:
            audio, truth = dry, {"rt60_s": float("nan"), "drr_db": float("nan")}
            if rir is not None:
                audio, truth = _room_case(dry, source.sample_rate, rir, wet)
            out = analyzer.network_outputs(_clip_safe(audio), source.sample_rate)
            probability = float(out.probabilities[reverb])
            estimate = {d.name: float("nan") for d in DESCRIPTORS}
            if out.reason is None:
                estimate = {d.name: float(d.denormalise(float(out.params[total_params() + i])))
                            for i, d in enumerate(DESCRIPTORS)}
            rows.append({"file": file.name, "rir": rir.name if rir else "", "wet_level": wet,
                         "p_reverb": probability, "detected@tuned": probability >= analyzer.thresholds["reverb"],
                         "rt60_s": estimate["rt60_s"], "true_rt60_s": truth["rt60_s"],
                         "drr_db": estimate["drr_db"], "true_drr_db": truth["drr_db"]})
    return pd.DataFrame(rows)


def stored_results(results: AnalysisResults) -> dict[str, Any]:
    """What ``--store`` writes into the model's metrics file: the summary and the detection and parameter tables."""
    return {"summary": results.summary, "detection": results.detection.to_dict(orient="records"),
            "params": results.params.to_dict(orient="records")}


def write_report(results: AnalysisResults, out: Path) -> None:
    """CSV tables and ``summary.json`` in ``out``."""
    write_csv(results.cases, out / "cases.csv")
    write_csv(results.detection, out / "detection.csv")
    write_csv(results.params, out / "params.csv")
    write_csv(results.rir, out / "rir.csv")
    write_json(results.summary, out / "summary.json")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The suite's command-line options."""
    parser.add_argument("--model", default=None, help="analysis model name or checkpoint path (default: shipped)")
    parser.add_argument("--data", default=None, help="shared data folder holding splits.json (default: found)")
    parser.add_argument("--out", required=True, help="report folder to create")
    parser.add_argument("--chains", type=int, default=40, help="chains per eval dry source (default 40)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the chains (default 0)")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    parser.add_argument("--store", action="store_true",
                        help="write the summary and tables into the model's metrics file (a shipped model's "
                             "deconstruct/models/weights/<name>.metrics.json, or <checkpoint>.metrics.json)")
    parser.add_argument("--overwrite", action="store_true", help="replace the files of an existing report folder")


def run(args: argparse.Namespace) -> int:
    """Run the suite from parsed command-line options and write the report folder."""
    from deconstruct.analysis import EffectAnalyzer

    out = prepare_output_dir(Path(args.out), overwrite=args.overwrite)
    analyzer = EffectAnalyzer(args.model, device=args.device)
    results = evaluate_analysis(analyzer, args.data, chains=args.chains, seed=args.seed, progress=True)
    write_report(results, out)
    if args.store:
        path = store_suite_results(args.model or analyzer.name, "analysis_suite", stored_results(results))
        print(f"stored in {path}")
    summary = results.summary
    print(f"macro-F1 {summary['macro_f1@0.5']:.3f} @0.5, {summary['macro_f1@tuned']:.3f} tuned "
          f"(all-present {summary['macro_f1_all_present_baseline']:.3f}); "
          f"param MAE {summary['param_mae_normalised']:.3f}; report written to {out}")
    return 0
