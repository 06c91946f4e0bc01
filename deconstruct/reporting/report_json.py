"""The ``report.json`` contract (schema 2): input facts, per-stage models and timings, per-stem levels.

Only stages that ran appear; values that do not exist (loudness of silence) are ``null``, never invented.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from deconstruct.audio import Audio, loudness_lufs, peak_dbfs
from deconstruct.versions import package_versions

if TYPE_CHECKING:
    from deconstruct.streaming import LevelMeter

SCHEMA = 2


def level_entry(audio: Audio, file: str | None = None) -> dict[str, Any]:
    """Loudness (LUFS) and sample peak (dBFS) of ``audio``, with its file when written."""
    entry = {"loudness_lufs": round(loudness_lufs(audio), 2), "peak_dbfs": round(peak_dbfs(audio.samples), 2)}
    return {"file": file, **entry} if file else entry


def meter_entry(meter: "LevelMeter", file: str | None = None) -> dict[str, Any]:
    """Like :func:`level_entry`, from a streaming :class:`~deconstruct.streaming.LevelMeter`."""
    entry = {"loudness_lufs": round(meter.loudness_lufs(), 2), "peak_dbfs": round(meter.peak_dbfs(), 2)}
    return {"file": file, **entry} if file else entry


def build_report(source: str | None, input_levels: dict[str, Any], sample_rate: int, channels: int,
                 duration_s: float, models: dict[str, dict[str, str]], timings_s: dict[str, float],
                 stems: dict[str, dict[str, Any]], extras: dict[str, Any] | None = None) -> dict[str, Any]:
    """Assemble the report dictionary.

    Args:
        source: input file path (``None`` for in-memory audio).
        input_levels: ``{loudness_lufs, peak_dbfs}`` of the input.
        sample_rate, channels, duration_s: the input's format.
        models: per stage ``{name, sha256, source}``.
        timings_s: per stage seconds.
        stems: per stem ``{file, loudness_lufs, peak_dbfs, analysis?, dry?, removals?}``.
        extras: top-level sections of later stages (``renders``, ``resynthesis``), present only when they ran.
    """
    return {
        "schema": SCHEMA,
        "input": {"file": source, "sample_rate": sample_rate, "channels": channels,
                  "duration_s": round(duration_s, 3), **input_levels},
        "stages": {stage: {**model, "time_s": timings_s.get(stage)} for stage, model in models.items()},
        "stems": stems,
        **(extras or {}),
        **({"render_time_s": timings_s["render"]} if "render" in timings_s else {}),
        "versions": package_versions(),
    }
