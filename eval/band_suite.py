"""Voice in a band: effect analysis and removal measured on the stem the separator gives, against known truth.

The protocol (fixed seed, so every analyzer is scored on the same items):

- the *source* of item ``i`` is an ``eval`` dry recording of ``splits.json`` (``dry_speech``, ``dry_vocals``,
  ``dry_instruments``; never trained or tuned on), repeated with short random gaps to fill the item, levelled to an
  active RMS drawn in :data:`SOURCE_LEVEL_DB` and panned (constant power) within :data:`PAN_RANGE`. Voices are the
  ``vocals`` stem; an instrument plays the stem its file name says (the flute: ``other``);
- the source carries exactly one effect or none, in equal numbers (item ``i`` takes class ``i mod 6`` of
  :data:`CLASSES`), with parameters uniform over RemFX's ranges (Rice et al., "General Purpose Audio Effect
  Removal", WASPAA 2023), which are the catalog's: reverb is pedalboard's Freeverb with room size 0.3-1.0, wet
  level 0.2-0.6 and dry level 0.8; compressor threshold -42..-20 dB, ratio 1.5-6, attack 1-20 ms, release
  50-300 ms; distortion drive 8-25 dB; delay 0.1-0.5 s, feedback 0.1-0.5, mix 0.2-0.5; chorus rate 0.5-3 Hz,
  depth 0.2-0.8, mix 0.3-0.7;
- the *band* is a real accompaniment: the non-vocal stems of the MUSDB18 preview in the ``eval`` split, or a
  multitrack rendered by the data engine from ``train`` material (a fresh one per seed), minus the stem the source
  plays. A random excerpt of the band is taken;
- the effected source is scaled so its active RMS sits :data:`UNDER_BAND_DB` (3 dB) under the band's, and added;
  the true dry source gets the same gain (when the mixture would clip, everything is scaled alike).

Each item goes through the user's path, :class:`~deconstruct.pipeline.Deconstructor` (separate, analyze, remove),
and is scored on the source's stem in two conditions: ``separated`` (the stem the separator gives) and ``true wet``
(analysis and removal on the true effected source, no separation: what separation costs).

- detection: per effect precision, recall and F1 over :data:`PROTOCOL_EFFECTS`, their macro-F1 beside the "every
  effect present" baseline, and each effect's ROC-AUC of the probabilities (threshold-free, beside chance: 0.5);
  the false-positive rate of every catalog effect on the items whose source carries no effect (``FPR clean``) and
  on every item lacking it (``FPR negatives``); "unsure" decisions are counted apart;
- dry: SI-SDR (dB) of the dry estimate to the true dry source minus that of the condition's input (the separated
  stem, or the true wet source): the gain of removal, for items with an effect and items without;
- levels: every dry stem's RMS, loudness and peak change against its stem (:mod:`eval.levels`; all separated stems,
  not only the source's), and how many move by more than 3 dB / 3 LU.

    python -m eval band --out reports/band --items 60 --analysis-model CANDIDATE.pt --analysis-model default
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from deconstruct.audio import Audio, load_audio
from deconstruct.effects.catalog import EFFECT_NAMES, effect_spec
from deconstruct.effects.chain import Effect
from deconstruct.errors import InputError
from deconstruct.metrics import si_sdr
from eval.accompaniment import Band, data_root, musdb_band, rendered_bands

__all__ = [
    "CLASSES",
    "PROTOCOL_EFFECTS",
    "BandItem",
    "BandResults",
    "add_arguments",
    "build_bands",
    "build_items",
    "evaluate_band",
    "protocol_effect",
    "render_protocol_effect",
    "run",
    "run_band_suite",
    "summarise_band",
    "wide_summary",
]

SAMPLE_RATE = 44100
PROTOCOL_EFFECTS = ("reverb", "compressor", "distortion", "delay", "chorus")
CLASSES: tuple[str | None, ...] = (None, *PROTOCOL_EFFECTS)
"""Item ``i`` carries ``CLASSES[i % 6]`` (``None``: no effect)."""
UNDER_BAND_DB = 3.0
SOURCE_LEVEL_DB = (-22.0, -14.0)
PAN_RANGE = 0.2
REVERB_DRY_LEVEL = 0.8
REVERB_DAMPING = 0.5
SI_SDR_CAP_DB = 60.0
RENDERED_BAND_SEED = 1_000_003
CONDITIONS = ("separated", "true wet")
DEFAULT_MODEL = "default"


# --- items ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BandItem:
    """One item of the protocol.

    Attributes:
        name: the item's name (``item007``).
        mixture: the stereo mixture at :data:`SAMPLE_RATE`.
        stem: the stem the source plays (``vocals``, ``other``...).
        dry: the true dry source as it sits in the mixture ``[2, T]``.
        wet: the true effected source as it sits in the mixture ``[2, T]``.
        band: the accompaniment's stems as they sit in the mixture.
        effect: the source's effect, or ``None``.
        source: the source recording, relative to the data folder.
        band_name: which accompaniment (``musdb:…`` or ``rendered:…``).
    """

    name: str
    mixture: Audio
    stem: str
    dry: Audio
    wet: Audio
    band: dict[str, Audio]
    effect: Effect | None
    source: str
    band_name: str

    @property
    def effect_name(self) -> str:
        """The effect's name, ``"none"`` without one."""
        return self.effect.name if self.effect is not None else "none"


def protocol_effect(name: str | None, rng: np.random.Generator) -> Effect | None:
    """One effect of the protocol with parameters uniform over the catalog's (RemFX's) ranges.

    Args:
        name: one of :data:`PROTOCOL_EFFECTS`, or ``None`` (no effect).
        rng: consumed.

    Returns:
        The setting (reverb: the algorithmic variant), or ``None``.
    """
    if name is None:
        return None
    if name not in PROTOCOL_EFFECTS:
        raise InputError(f"the protocol has no effect {name!r}; it uses {', '.join(PROTOCOL_EFFECTS)}")
    spec = effect_spec(name)
    used = spec.variant_params("algorithmic") if name == "reverb" else spec.param_names
    params = {p.name: float(rng.uniform(p.minimum, p.maximum)) for p in spec.params if p.name in used}
    return Effect(name, params, "algorithmic" if name == "reverb" else "default")


def render_protocol_effect(samples: torch.Tensor, effect: Effect | None, sample_rate: int = SAMPLE_RATE
                           ) -> torch.Tensor:
    """Apply the protocol's effect: the catalog's renderer, except the reverb's fixed dry level of 0.8.

    Shape:
        ``[channels, samples]`` → same (float32; tails beyond the end are cut).
    """
    if effect is None:
        return samples.clone().float()
    if effect.name != "reverb":
        from deconstruct.effects.render import render_effect

        return torch.as_tensor(render_effect(samples.float(), sample_rate, effect))
    import pedalboard

    reverb = pedalboard.Reverb(room_size=effect.params["room_size"], damping=REVERB_DAMPING,
                               wet_level=effect.params["wet_level"], dry_level=REVERB_DRY_LEVEL, width=1.0)
    audio = np.ascontiguousarray(samples.float().numpy())
    out = reverb(audio, float(sample_rate), reset=True)[:, : audio.shape[-1]]
    return torch.from_numpy(np.ascontiguousarray(out, dtype=np.float32))


def build_bands(root: str | Path | None = None, rendered: int = 3, duration_s: float = 6.0,
                seed: int = RENDERED_BAND_SEED, musdb: bool = True) -> list[Band]:
    """The accompaniments: the MUSDB preview's non-vocal stems (when ``musdb`` and present) and ``rendered`` ones.

    Raises:
        InputError: no band at all.
    """
    bands = [band for band in [musdb_band(root)] if band is not None] if musdb else []
    bands += rendered_bands(rendered, duration_s, seed)
    if not bands:
        raise InputError("no accompaniment: the MUSDB preview is missing and no rendered band was asked for")
    return bands


def eval_sources(root: str | Path | None = None, instruments: bool = True) -> list[Path]:
    """The ``eval`` dry recordings the protocol's sources come from (voices first, sorted)."""
    from eval.e2e_suite import stem_role
    from eval.removal_suite import eval_split_files

    root = data_root(root)
    files, _ = eval_split_files(root)
    files = sorted(files, key=lambda f: (stem_role(f.relative_to(root).as_posix()) != "vocals", f.as_posix()))
    chosen = [f for f in files if instruments or stem_role(f.relative_to(root).as_posix()) == "vocals"]
    if not chosen:
        raise InputError(f"{root / 'splits.json'}: no eval dry recording for the protocol")
    return chosen


def _active_rms(samples: torch.Tensor) -> float:
    from deconstruct.data.rendering.mixing import active_rms

    return active_rms(samples.numpy())


def make_item(name: str, source: Path, stem: str, band: Band, effect_class: str | None, duration_s: float,
              seed: int, root: Path) -> BandItem:
    """Build one item (the recipe of the module docstring)."""
    from deconstruct.data.rendering import mixing
    from eval.e2e_suite import arranged

    rng = np.random.default_rng([seed, 7])
    length = round(duration_s * SAMPLE_RATE)
    if band.num_samples < length:
        raise InputError(f"band {band.name} is {band.num_samples / SAMPLE_RATE:.1f} s; ask for items of at most that")
    start = int(rng.integers(0, band.num_samples - length + 1))
    accompaniment = {n: x[:, start:start + length] for n, x in band.stems.items() if n != stem}
    recording = load_audio(source).to_channels(1).resampled(SAMPLE_RATE).samples[0]
    mono = arranged(recording, length, rng)
    stereo = mixing.level(mono.expand(2, -1).numpy().copy(), float(rng.uniform(*SOURCE_LEVEL_DB)))
    dry = torch.from_numpy(mixing.pan(stereo, float(rng.uniform(-PAN_RANGE, PAN_RANGE))))
    effect = protocol_effect(effect_class, rng)
    wet = render_protocol_effect(dry, effect)
    band_sum = sum(accompaniment.values())
    band_rms, wet_rms = _active_rms(band_sum), _active_rms(wet)
    gain = 10 ** (-UNDER_BAND_DB / 20) * band_rms / wet_rms if band_rms > 0 and wet_rms > 0 else 1.0
    mixture = band_sum + gain * wet
    peak = float(mixture.abs().max())
    scale = 0.99 / peak if peak > 0.99 else 1.0
    return BandItem(name, Audio(mixture * scale, SAMPLE_RATE), stem, Audio(dry * gain * scale, SAMPLE_RATE),
                    Audio(wet * gain * scale, SAMPLE_RATE),
                    {n: Audio(x * scale, SAMPLE_RATE) for n, x in accompaniment.items()}, effect,
                    source.relative_to(root).as_posix(), band.name)


def build_items(root: str | Path | None = None, items: int = 60, duration_s: float = 6.0, seed: int = 0,
                rendered_bands: int = 3, musdb: bool = True, instruments: bool = True) -> list[BandItem]:
    """The protocol's items (see the module docstring); classes are balanced when ``items`` is a multiple of 6.

    Args:
        root: the shared data folder (found when ``None``).
        items: how many items.
        duration_s: item length, s (at most the MUSDB preview's 6.8 s when it is used).
        seed: seed of the items (sources, excerpts, levels, effect parameters).
        rendered_bands: how many data-engine accompaniments join the MUSDB one.
        musdb: use the MUSDB preview's accompaniment.
        instruments: also take sources from ``dry_instruments`` (else voices only).
    """
    from eval.e2e_suite import stem_role

    if items < 1 or not duration_s > 0:
        raise InputError(f"asked for {items} items of {duration_s} s; ask for at least one item of positive length")
    root = data_root(root)
    sources = eval_sources(root, instruments)
    bands = build_bands(root, rendered_bands, max(duration_s, 1.0), RENDERED_BAND_SEED + seed, musdb)
    order = np.random.default_rng([seed, 1]).permutation(len(sources) * len(bands))
    out = []
    for index in range(items):
        pair = int(order[index % len(order)])
        source, band = sources[pair % len(sources)], bands[pair // len(sources)]
        stem = stem_role(source.relative_to(root).as_posix())
        out.append(make_item(f"item{index:03d}", source, stem, band, CLASSES[index % len(CLASSES)], duration_s,
                             seed * 100_003 + index, root))
    return out


# --- evaluation ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BandResults:
    """The suite's tables.

    Attributes:
        items: one row per (model, condition, item): truth, every effect's probability, detection and decision,
            the dry SI-SDR of the input and of the dry estimate and their difference (``gain_db``).
        levels: one row per (model, condition, item, stem): :func:`eval.levels.level_change` of the dry stem.
        meta: models, item count and length, seed, wall time.
    """

    items: pd.DataFrame
    levels: pd.DataFrame
    meta: dict[str, Any] = field(default_factory=dict)


def _si_sdr(reference: Audio, estimate: Audio) -> float:
    length = reference.num_samples
    samples = estimate.samples[:, :length]
    samples = torch.nn.functional.pad(samples, (0, length - samples.shape[-1]))
    return min(float(si_sdr(reference.samples, samples).mean()), SI_SDR_CAP_DB)


def decision_of(estimate: Any) -> str:
    """An estimate's decision: its ``decision`` when the analyzer gives one, else detected / absent."""
    decision = getattr(estimate, "decision", None)
    return str(decision) if decision else ("detected" if estimate.detected else "absent")


def analyze_and_remove(deconstructor: Any, audio: Audio) -> tuple[Any, Audio, list[dict[str, Any]]]:
    """The deconstructor's analysis and removal (under its removal policy) of one stem, the path
    :meth:`Deconstructor.run` takes after separation. Returns ``(analysis, dry stem, removal steps)``."""
    analysis = deconstructor.analyzer.analyze(audio)
    removal = deconstructor.remove_stem(audio, analysis)
    return analysis, removal.audio, removal.to_dict()


def removal_columns(steps: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """``removed`` (the removals kept) and ``rejected`` (those attempted and undone by their checks), ``+``-joined."""
    attempted = [s for s in steps if s.get("method") != "pass-through"]
    return {"removed": "+".join(s["name"] for s in attempted if s.get("kept", True)),
            "rejected": "+".join(s["name"] for s in attempted if not s.get("kept", True))}


def _item_row(item: BandItem, condition: str, analysis: Any, stem_in: Audio, dry_out: Audio,
              steps: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    row: dict[str, Any] = {"item": item.name, "condition": condition, "stem": item.stem, "source": item.source,
                           "band": item.band_name, "effect": item.effect_name,
                           "params": json.dumps(dict(item.effect.params) if item.effect else {}),
                           **removal_columns(steps)}
    for estimate in analysis:
        row[f"p_{estimate.name}"] = round(float(estimate.probability), 4)
        row[f"det_{estimate.name}"] = int(bool(estimate.detected))
        row[f"dec_{estimate.name}"] = decision_of(estimate)
    row["si_sdr_input_db"] = _si_sdr(item.dry, stem_in)
    row["si_sdr_dry_db"] = _si_sdr(item.dry, dry_out)
    row["gain_db"] = row["si_sdr_dry_db"] - row["si_sdr_input_db"]
    return row


def evaluate_band(deconstructor: Any, items: Sequence[BandItem], conditions: Sequence[str] = CONDITIONS,
                  label: str | None = None, log: Callable[[str], None] | None = None) -> BandResults:
    """Run one deconstructor on every item and score it (see the module docstring).

    Args:
        deconstructor: a :class:`~deconstruct.pipeline.Deconstructor` with the analyze and remove stages.
        items: :func:`build_items`.
        conditions: ``"separated"`` and/or ``"true wet"``.
        label: the model column's value (default: the analysis model's name).
        log: progress callback.
    """
    from eval.levels import level_change

    if deconstructor.analyzer is None or not deconstructor.removes:
        raise InputError("the band suite needs the analyze and remove stages")
    unknown = set(conditions) - set(CONDITIONS)
    if unknown:
        raise InputError(f"unknown condition(s) {sorted(unknown)}; use {', '.join(CONDITIONS)}")
    label = label or deconstructor.analyzer.name
    rows, levels = [], []
    started = time.perf_counter()
    for number, item in enumerate(items):
        if "separated" in conditions:
            result = deconstructor.run(item.mixture)
            if item.stem not in result.stems:
                raise InputError(f"the separator gives {sorted(result.stems)}, not the {item.stem!r} stem")
            rows.append(_item_row(item, "separated", result.analyses[item.stem], result.stems[item.stem],
                                  result.dry_stems[item.stem], result.removals[item.stem]))
            levels += [{"item": item.name, "condition": "separated", "stem": name, "source_stem": name == item.stem,
                        **level_change(result.stems[name], result.dry_stems[name])} for name in result.stems]
        if "true wet" in conditions:
            analysis, dry, steps = analyze_and_remove(deconstructor, item.wet)
            rows.append(_item_row(item, "true wet", analysis, item.wet, dry, steps))
            levels.append({"item": item.name, "condition": "true wet", "stem": item.stem, "source_stem": True,
                           **level_change(item.wet, dry)})
        if log and (number + 1) % 10 == 0:
            log(f"{label}: {number + 1}/{len(items)} items, {time.perf_counter() - started:.0f} s")
    table = pd.DataFrame(rows)
    table.insert(0, "model", label)
    level_table = pd.DataFrame(levels)
    level_table.insert(0, "model", label)
    meta = {"suite": "band", "items": len(items), "duration_s": items[0].mixture.duration_s if items else 0.0,
            "models": {label: deconstructor._models()}, "seconds": round(time.perf_counter() - started, 1)}
    return BandResults(table, level_table, meta)


# --- summary -------------------------------------------------------------------------------------------------------


def _row(model: str, condition: str, metric: str, value: float, target: str = "", baseline: str = "",
         baseline_value: float = float("nan")) -> dict[str, Any]:
    return {"model": model, "condition": condition, "metric": metric, "value": round(float(value), 4),
            "target": target, "baseline": baseline, "baseline_value": round(float(baseline_value), 4)}


def _auc(truth: np.ndarray, scores: np.ndarray) -> float:
    """ROC-AUC of ``scores`` for boolean ``truth`` (``nan`` when only one class is present)."""
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(truth, scores)) if 0 < truth.sum() < len(truth) else float("nan")


def detection_rows(table: pd.DataFrame, model: str, condition: str) -> list[dict[str, Any]]:
    """Macro-F1 over :data:`PROTOCOL_EFFECTS` beside "every effect present", per-effect F1 and false-positive
    rates, for one (model, condition) slice of :attr:`BandResults.items`."""
    from deconstruct.analysis.scoring import detection_scores, macro_f1

    truth = np.stack([(table["effect"] == name).to_numpy() for name in PROTOCOL_EFFECTS], axis=1)
    guess = np.stack([table[f"det_{name}"].to_numpy() > 0 for name in PROTOCOL_EFFECTS], axis=1)
    scores = detection_scores(guess, truth, PROTOCOL_EFFECTS)
    everything = detection_scores(np.ones_like(truth), truth, PROTOCOL_EFFECTS)
    out = [_row(model, condition, "detection macro-F1", macro_f1(scores), ">= 0.55", "every effect present",
                macro_f1(everything))]
    out += [_row(model, condition, f"F1 {name}", scores[name]["f1"], "", "every effect present",
                 everything[name]["f1"]) for name in PROTOCOL_EFFECTS]
    areas = {name: _auc(truth[:, i], table[f"p_{name}"].to_numpy()) for i, name in enumerate(PROTOCOL_EFFECTS)}
    out.append(_row(model, condition, "mean ROC-AUC (threshold-free)", float(np.nanmean(list(areas.values()))), "",
                    "chance", 0.5))
    out += [_row(model, condition, f"ROC-AUC {name}", area, "", "chance", 0.5) for name, area in areas.items()]
    clean = table[table["effect"] == "none"]
    for name in EFFECT_NAMES:
        if f"det_{name}" not in table:
            continue
        target = "<= 0.10" if name in PROTOCOL_EFFECTS else ""
        out.append(_row(model, condition, f"FPR clean {name}", clean[f"det_{name}"].mean() if len(clean) else np.nan,
                        target, "nothing detected", 0.0))
        negatives = table[table["effect"] != name]
        out.append(_row(model, condition, f"FPR negatives {name}", negatives[f"det_{name}"].mean(), "",
                        "nothing detected", 0.0))
        out.append(_row(model, condition, f"unsure rate {name}", (table[f"dec_{name}"] == "unsure").mean()))
    return out


def summarise_band(results: BandResults) -> pd.DataFrame:
    """The headline numbers: ``model, condition, metric, value, target, baseline, baseline_value`` per row."""
    out = []
    for (model, condition), table in results.items.groupby(["model", "condition"], sort=False):
        out += detection_rows(table, model, condition)
        with_effect, without = table[table["effect"] != "none"], table[table["effect"] == "none"]
        out.append(_row(model, condition, "dry SI-SDR gain, effect on source (dB)", with_effect["gain_db"].mean(),
                        ">= +1.0", "input unchanged", 0.0))
        out.append(_row(model, condition, "dry SI-SDR gain, no effect (dB)", without["gain_db"].mean(), ">= -0.5",
                        "input unchanged", 0.0))
        for name in PROTOCOL_EFFECTS:
            part = table[table["effect"] == name]
            out.append(_row(model, condition, f"dry SI-SDR gain, {name} (dB)", part["gain_db"].mean(), "",
                            "input unchanged", 0.0))
        out.append(_row(model, condition, "input SI-SDR to true dry (dB)", table["si_sdr_input_db"].mean()))
        if "removed" in table:
            out.append(_row(model, condition, "share with a removal kept, effect on source",
                            (with_effect["removed"].fillna("") != "").mean()))
            out.append(_row(model, condition, "share with a removal kept, no effect",
                            (without["removed"].fillna("") != "").mean()))
            out.append(_row(model, condition, "share with a removal rejected by its checks",
                            (table["rejected"].fillna("") != "").mean()))
        levels = results.levels[(results.levels["model"] == model) & (results.levels["condition"] == condition)]
        out.append(_row(model, condition, "max |RMS change| of a dry stem (dB)", levels["rms_change_db"].abs().max(),
                        "<= 3"))
        out.append(_row(model, condition, "max |loudness change| of a dry stem (LU)",
                        levels["loudness_change_lu"].abs().max(), "<= 3"))
        out.append(_row(model, condition, "max peak rise of a dry stem (dB)", levels["peak_change_db"].max(),
                        "<= 3"))
        out.append(_row(model, condition, "dry stems outside 3 dB / 3 LU", int(levels["outside"].sum()), "0"))
    return pd.DataFrame(out)


def wide_summary(summary: pd.DataFrame) -> pd.DataFrame:
    """:func:`summarise_band` with one row per metric and one column per (model, condition), then the target and
    the baseline's value."""
    table = summary.assign(column=summary["model"] + " | " + summary["condition"])
    wide = table.pivot_table(index="metric", columns="column", values="value", sort=False)
    extra = table.drop_duplicates("metric").set_index("metric")[["target", "baseline", "baseline_value"]]
    return wide.join(extra)


# --- command line --------------------------------------------------------------------------------------------------


def run_band_suite(analysis_models: Sequence[str | Path | None] = (None,), separation_model: str | Path | None = None,
                   removal_model: str | Path | None = None, data: str | Path | None = None,
                   out: str | Path | None = None, items: int = 60, duration_s: float = 6.0, seed: int = 0,
                   rendered_bands: int = 3, instruments: bool = True, conditions: Sequence[str] = CONDITIONS,
                   device: str | None = None, options: Mapping[str, Any] | None = None, overwrite: bool = False,
                   log: Callable[[str], None] | None = None) -> tuple[pd.DataFrame, BandResults]:
    """Build the items once and score each analysis model on them.

    Args:
        analysis_models: analysis model names or checkpoint paths (``None`` or ``"default"``: the shipped one).
        separation_model, removal_model: as :class:`~deconstruct.pipeline.Deconstructor` takes them.
        data: the shared data folder (found when ``None``).
        out: report folder to create (``items.csv``, ``levels.csv``, ``summary.csv``, ``summary.json``).
        items, duration_s, seed, rendered_bands, instruments: see :func:`build_items`.
        conditions: see :func:`evaluate_band`.
        device: ``"cpu"`` or ``"cuda"``.
        options: further :class:`~deconstruct.pipeline.Deconstructor` options (a removal policy, say).
        overwrite: write into an existing report folder.
        log: progress callback.

    Returns:
        The summary (:func:`summarise_band`) and the results of every model together.
    """
    from deconstruct.pipeline import Deconstructor
    from eval.report_folder import prepare_output_dir, write_csv, write_json

    folder = prepare_output_dir(Path(out), overwrite=overwrite) if out is not None else None
    built = build_items(data, items, duration_s, seed, rendered_bands, instruments=instruments)
    tables, level_tables, meta = [], [], {"suite": "band", "items": items, "duration_s": duration_s, "seed": seed,
                                          "models": {}, "seconds": 0.0}
    for model in analysis_models:
        chosen = None if model in (None, DEFAULT_MODEL) else model
        deconstructor = Deconstructor(separation_model, device=device, analysis_model=chosen,
                                      removal_model=removal_model, **dict(options or {}))
        label = str(model) if chosen is not None else f"{deconstructor.analyzer.name} (shipped)"
        part = evaluate_band(deconstructor, built, conditions, label, log)
        tables.append(part.items)
        level_tables.append(part.levels)
        meta["models"].update(part.meta["models"])
        meta["seconds"] += part.meta["seconds"]
    results = BandResults(pd.concat(tables, ignore_index=True), pd.concat(level_tables, ignore_index=True), meta)
    summary = summarise_band(results)
    if folder is not None:
        write_csv(results.items, folder / "items.csv")
        write_csv(results.levels, folder / "levels.csv")
        write_csv(summary, folder / "summary.csv")
        write_json({**meta, "summary": summary.to_dict(orient="records")}, folder / "summary.json")
    return summary, results


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``python -m eval band``."""
    parser.add_argument("--analysis-model", action="append", default=None,
                        help="analysis model name or checkpoint path; repeat to compare (default: the shipped one)")
    parser.add_argument("--separation-model", default=None, help="separation model name or checkpoint path")
    parser.add_argument("--removal-model", default=None, help="removal model name, checkpoint path or dsp-only")
    parser.add_argument("--data", default=None, help="shared data folder holding splits.json (default: found)")
    parser.add_argument("--out", default=None, help="report folder to create (default: print only)")
    parser.add_argument("--items", type=int, default=60, help="number of items, a multiple of 6 (default 60)")
    parser.add_argument("--duration", type=float, default=6.0, help="item length in seconds (default 6)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the items (default 0)")
    parser.add_argument("--rendered-bands", type=int, default=3,
                        help="data-engine accompaniments beside the MUSDB one (default 3)")
    parser.add_argument("--voices-only", action="store_true", help="leave the eval instrument recordings out")
    parser.add_argument("--separated-only", action="store_true", help="skip the true-wet condition")
    parser.add_argument("--remove", choices=("safe", "all", "none"), default=None,
                        help="the pipeline's removal policy (default: the pipeline's default)")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    parser.add_argument("--overwrite", action="store_true", help="write into a report folder that has files")


def run(args: argparse.Namespace) -> int:
    """Run the suite from parsed command-line options."""
    conditions = ("separated",) if args.separated_only else CONDITIONS
    summary, _ = run_band_suite(args.analysis_model or [None], args.separation_model, args.removal_model, args.data,
                                args.out, args.items, args.duration, args.seed, args.rendered_bands,
                                not args.voices_only, conditions, args.device,
                                options={"remove": args.remove} if args.remove else None, overwrite=args.overwrite,
                                log=print)
    with pd.option_context("display.width", 220, "display.max_rows", 500, "display.max_colwidth", 40):
        print(wide_summary(summary).to_string())
    if args.out:
        print(f"report written to {args.out}")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m eval.band_suite", description=__doc__.splitlines()[0])
    add_arguments(parser)
    raise SystemExit(run(parser.parse_args()))
