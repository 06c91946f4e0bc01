"""``report.html`` of one deconstruction: the ``report.json`` content as tables, with plots.

The page shows the input's facts, the models and timings per stage, per stem its loudness and peak, every
effect's probability and the detected effects' parameters with units, the removals applied, the renders with
their channel order, the resynthesis check, and spectrograms of the mixture, each stem and its dry version. It
is one file: inline CSS, PNG images as data URIs, no script and no link.

Audio for the spectrograms is given by key: ``"mixture"``, ``"stems/<stem>"`` and ``"dry/<stem>"`` (the keys of
the files a result folder holds), each an :class:`~deconstruct.audio.Audio` or the path of an audio file. Only an
excerpt of each (``excerpt_s`` around the middle of the song) is read and drawn, so long songs stay cheap.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from deconstruct.audio import Audio, resample
from deconstruct.reporting.html_page import MISSING, HtmlReport
from deconstruct.reporting.plots import heatmap, spectrogram_grid

__all__ = ["deconstruction_audio", "format_params", "write_deconstruction_html"]

AudioSource = Audio | str | os.PathLike
UNIT_SUFFIXES = (("_dbfs", "dBFS"), ("_lufs", "LUFS"), ("_db", "dB"), ("_hz", "Hz"), ("_ms", "ms"), ("_s", "s"))
"""Parameter-name suffixes and the unit they stand for (names without one are unitless)."""


def deconstruction_audio(mixture: AudioSource, stems: Mapping[str, AudioSource],
                         dry_stems: Mapping[str, AudioSource] | None = None) -> dict[str, AudioSource]:
    """The ``audio`` mapping of :func:`write_deconstruction_html`: ``mixture``, ``stems/<stem>``, ``dry/<stem>``.

    Values are passed through untouched (a lazy mapping of stems is not read here).
    """
    audio: dict[str, AudioSource] = {"mixture": mixture}
    audio.update({f"stems/{name}": stems[name] for name in stems})
    audio.update({f"dry/{name}": dry_stems[name] for name in dry_stems or {}})
    return audio


def unit_of(name: str) -> str:
    """The unit a parameter name carries in its suffix (``"threshold_db"`` → ``"dB"``; ``""`` when unitless)."""
    return next((unit for suffix, unit in UNIT_SUFFIXES if name.endswith(suffix)), "")


def _number(value: float) -> str:
    return f"{value:.0f}" if abs(value) >= 1000 else f"{value:.4g}"


def format_params(params: Mapping[str, float]) -> str:
    """``"threshold_db = -31.08 dB, ratio = 2.936"``: each parameter with its value and unit."""
    parts = []
    for name, value in params.items():
        unit = unit_of(name)
        parts.append(f"{name} = {_number(float(value))}{' ' + unit if unit else ''}")
    return ", ".join(parts) or MISSING


def write_deconstruction_html(report: Mapping[str, Any], audio: Mapping[str, AudioSource],
                              path: str | os.PathLike, excerpt_s: float = 30.0) -> Path:
    """Write the ``report.html`` page of one deconstruction.

    Args:
        report: the ``report.json`` content (schema 2, as ``Deconstruction.report()`` returns it). Sections of
            stages that did not run are absent from the page too.
        audio: ``"mixture"``, ``"stems/<stem>"``, ``"dry/<stem>"`` → :class:`~deconstruct.audio.Audio` or an
            audio file path; keys that are missing leave their spectrogram out.
        path: the page to write.
        excerpt_s: length of the excerpt drawn as spectrograms, s (around the middle of the song).

    Returns:
        ``path``.
    """
    source = report["input"].get("file")
    page = HtmlReport(f"Deconstruction: {Path(source).name if source else 'in-memory audio'}")
    _input_section(page, report)
    _stages_section(page, report)
    _stems_section(page, report)
    analysed = {name: stem["analysis"] for name, stem in report["stems"].items() if "analysis" in stem}
    if analysed:
        _effects_section(page, analysed)
    removed = {name: stem["removals"] for name, stem in report["stems"].items() if "removals" in stem}
    if removed:
        _removals_section(page, removed, {name: stem["removal"] for name, stem in report["stems"].items()
                                          if "removal" in stem})
    if report.get("renders"):
        page.heading("Renders").rows(["format", "file", "channels", "channel order"], [
            (fmt, entry.get("file"), len(entry["channels"]), ", ".join(entry["channels"]))
            for fmt, entry in report["renders"].items()])
    if "resynthesis" in report:
        _resynthesis_section(page, report["resynthesis"])
    _spectrogram_section(page, report, audio, excerpt_s)
    if report.get("versions"):
        page.heading("Versions").rows(["package", "version"], list(report["versions"].items()))
    return page.write(path)


def _input_section(page: HtmlReport, report: Mapping[str, Any]) -> None:
    facts = report["input"]
    page.heading("Input").rows(["file", "sample rate (Hz)", "channels", "duration (s)", "loudness (LUFS)",
                                "peak (dBFS)"],
                               [(facts.get("file") or "in-memory audio", facts["sample_rate"], facts["channels"],
                                 facts["duration_s"], facts.get("loudness_lufs"), facts.get("peak_dbfs"))])


def _stages_section(page: HtmlReport, report: Mapping[str, Any]) -> None:
    rows = [(stage, entry.get("name"), entry.get("source"), (entry.get("sha256") or "")[:12] or MISSING,
             entry.get("time_s")) for stage, entry in report.get("stages", {}).items()]
    if "render_time_s" in report:
        rows.append(("render", MISSING, MISSING, MISSING, report["render_time_s"]))
    page.heading("Stages").rows(["stage", "model", "source", "sha256 (first 12)", "time (s)"], rows, "{:.3f}")
    separator = report.get("separator")
    if separator:
        page.paragraph(f"Separator: {separator['name']} ({separator['backend']}), stems "
                       f"{', '.join(separator['stems'])}; {separator['reason']}.")


def _stems_section(page: HtmlReport, report: Mapping[str, Any]) -> None:
    rows = []
    for name, stem in report["stems"].items():
        dry = stem.get("dry", {})
        effects = stem.get("analysis", {}).get("effects", [])
        detected = [e["name"] for e in effects if e["detected"]]
        unsure = [e["name"] for e in effects if e.get("decision") == "unsure"]
        applied = [r["name"] for r in stem.get("removals", []) if r.get("kept", r["method"] != "pass-through")]
        rows.append((name, stem.get("file"), stem.get("loudness_lufs"), stem.get("peak_dbfs"), dry.get("file"),
                     dry.get("loudness_lufs"), dry.get("peak_dbfs"),
                     ", ".join(detected) if "analysis" in stem else None,
                     ", ".join(unsure) if "analysis" in stem else None,
                     ", ".join(applied) if "removals" in stem else None))
    page.heading("Stems").rows(["stem", "file", "loudness (LUFS)", "peak (dBFS)", "dry file", "dry loudness (LUFS)",
                                "dry peak (dBFS)", "effects detected", "not sure", "effects removed"], rows)


def _effects_section(page: HtmlReport, analysed: Mapping[str, Mapping[str, Any]]) -> None:
    page.heading("Effects")
    page.paragraph("Every catalog effect with its probability and decision: detected (probability at or above "
                   "the threshold), not sure (between the unsure bound and the threshold: reported, never removed "
                   "by the safe policy) or absent. An EQ whose largest estimated band gain is under 1 dB counts as "
                   "absent, whatever its probability. Parameters are given for the detected and unsure effects; "
                   "compressor and limiter thresholds also relative to the stem's active RMS level "
                   "(threshold_rel_db). Reverb also reports RT60 (s) and the direct-to-reverberant ratio (dB).")
    effects = next(iter(analysed.values()))["effects"]
    names = [effect["name"] for effect in effects]
    matrix = np.array([[e["probability"] for e in analysis["effects"]] for analysis in analysed.values()])
    page.image(heatmap(matrix, list(analysed), names, "probability", vmin=0.0, vmax=1.0),
               "Probability of each effect per stem")
    for name, analysis in analysed.items():
        page.heading(name, level=3)
        if not analysis.get("detectable", True):
            page.paragraph(f"Nothing detectable: {analysis.get('reason')}.")
            continue
        page.rows(["effect", "probability", "unsure from", "threshold", "decision", "parameters", "reason"],
                  [(e["name"], e["probability"], e.get("unsure_below"), e["threshold"],
                    e.get("decision", "detected" if e["detected"] else "absent"),
                    format_params(e["params"]) if e["params"] else MISSING, e.get("reason") or MISSING)
                   for e in analysis["effects"]], "{:.3f}")


def _removals_section(page: HtmlReport, removed: Mapping[str, list[Mapping[str, Any]]],
                      policies: Mapping[str, Mapping[str, Any]]) -> None:
    page.heading("Removals")
    page.paragraph("Effects are undone in reverse chain order; a pass-through leaves the stem as it was. Each "
                   "removal is checked: re-applying the estimated effect to the dry estimate must explain the "
                   "stem at least 3 dB better than the identity (multi-resolution magnitude SNR), the dry "
                   "estimate's loudness and RMS must stay within 3 LU / 3 dB of the stem's, and its peak at most "
                   "3 dB above the stem's; under the safe policy the analysis must also no longer detect the "
                   "effect on the dry estimate (re-analysis). Under the safe policy a removal that fails is rejected "
                   "and the stem passes through; under the all policy the checks are recorded but not enforced. Levels are never "
                   "renormalised to pass a check.")
    for name, removals in removed.items():
        page.heading(name, level=3)
        policy = policies.get(name)
        if policy:
            page.paragraph(f"Policy {policy['policy']}: checks {policy['checks']}.")
        if not removals:
            page.paragraph("No effect was removed. The dry stem is an exact copy of the stem.")
            continue
        page.rows(["step", "effect", "method", "kept", "parameters", "note"],
                  [(step, r["name"], r["method"], _kept(r), format_params(r.get("params", {})),
                    r.get("note") or MISSING) for step, r in enumerate(removals, start=1)])
        checked = [r for r in removals if r.get("checks")]
        if checked:
            page.rows(["effect", "checks passed", "resynthesis gain (dB)", "loudness change (LU)",
                       "RMS change (dB)", "dry peak (dBFS)", "peak limit (dBFS)"],
                      [(r["name"], "yes" if r["checks"]["passed"] else "no",
                        r["checks"]["resynthesis"].get("improvement_db"), r["checks"]["loudness"]["change_lu"],
                        r["checks"]["rms"]["change_db"], r["checks"]["peak"]["dry_dbfs"],
                        r["checks"]["peak"]["limit_dbfs"]) for r in checked], "{:.2f}")


def _kept(removal: Mapping[str, Any]) -> str:
    if removal["method"] == "pass-through":
        return "nothing removed"
    return "yes" if removal.get("kept", True) else "rejected"


def _resynthesis_section(page: HtmlReport, scores: Mapping[str, float]) -> None:
    page.heading("Resynthesis")
    page.paragraph("The estimated chains re-applied to the dry stems and summed, compared with the input: how "
                   "much of the mixture the deconstruction explains.")
    page.rows(["SDR (dB)", "MR-STFT distance"], [(scores.get("sdr_db"), scores.get("mrstft"))], "{:.3f}")
    page.definitions({"SDR": "whole-signal signal-to-distortion ratio of the resynthesis to the mixture; higher "
                             "is closer",
                      "MR-STFT distance": "multi-resolution STFT distance (spectral convergence + log-magnitude "
                                          "L1, auraloss); lower is closer, 0 when identical"})


def _spectrogram_section(page: HtmlReport, report: Mapping[str, Any], audio: Mapping[str, AudioSource],
                         excerpt_s: float) -> None:
    duration = float(report["input"]["duration_s"])
    length = min(duration, excerpt_s)
    start = max(0.0, (duration - length) / 2)
    rate = int(report["input"]["sample_rate"])
    rows = []
    if "mixture" in audio:
        rows.append(("mixture", [("input", _excerpt(audio["mixture"], start, length, rate))]))
    for name in report["stems"]:
        panels = [(title, _excerpt(audio[key], start, length, rate))
                  for title, key in (("stem", f"stems/{name}"), ("dry", f"dry/{name}")) if key in audio]
        if panels:
            rows.append((name, panels))
    if rows:
        page.heading("Spectrograms")
        page.image(spectrogram_grid(rows, rate),
                   f"Log-magnitude spectrograms, {start:.1f}–{start + length:.1f} s (channels averaged)")


def _excerpt(source: AudioSource, start_s: float, length_s: float, sample_rate: int) -> torch.Tensor:
    """Mono ``[samples]`` excerpt of an :class:`Audio` or an audio file at ``sample_rate`` (a file is read in part)."""
    if isinstance(source, Audio):
        rate, first = source.sample_rate, round(start_s * source.sample_rate)
        samples = source.samples[:, first:first + round(length_s * rate)]
    else:
        from deconstruct.streaming import FileReader

        reader = FileReader(source)
        try:
            rate, first = reader.sample_rate, round(start_s * reader.sample_rate)
            samples = reader.read(first, min(reader.num_samples, first + round(length_s * rate)))
        finally:
            reader.close()
    mono = samples.float().mean(dim=0)
    return resample(mono[None], rate, sample_rate)[0] if rate != sample_rate else mono
