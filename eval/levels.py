"""How much a stage moved a stem's level: RMS, integrated loudness and peak of the output against its input.

Removal must not change a stem's level much (a removal that makes the dry stem 15 LU louder than its stem is
broken, whatever it removed). The limits below are the ones the pipeline's own checks use: RMS within
:data:`RMS_LIMIT_DB`, loudness within :data:`LOUDNESS_LIMIT_LU`. Silent or very quiet signals are floored (RMS at
:data:`RMS_FLOOR_DB`, loudness at BS.1770's absolute gate :data:`LOUDNESS_FLOOR_LUFS`) so that a change is always a
finite number.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from deconstruct.audio import Audio, loudness_lufs, peak_dbfs

__all__ = ["LOUDNESS_FLOOR_LUFS", "LOUDNESS_LIMIT_LU", "RMS_FLOOR_DB", "RMS_LIMIT_DB", "level_change",
           "outside_limits", "rms_dbfs"]

RMS_LIMIT_DB = 3.0
LOUDNESS_LIMIT_LU = 3.0
RMS_FLOOR_DB = -120.0
LOUDNESS_FLOOR_LUFS = -70.0


def rms_dbfs(samples: torch.Tensor) -> float:
    """RMS over all channels and samples in dBFS, floored at :data:`RMS_FLOOR_DB`. Shape: ``[channels, samples]``."""
    power = float(samples.double().square().mean()) if samples.numel() else 0.0
    return max(10.0 * math.log10(power), RMS_FLOOR_DB) if power > 0 else RMS_FLOOR_DB


def _loudness(audio: Audio) -> float:
    value = loudness_lufs(audio)
    return max(value, LOUDNESS_FLOOR_LUFS) if math.isfinite(value) else LOUDNESS_FLOOR_LUFS


def _peak(samples: torch.Tensor) -> float:
    value = peak_dbfs(samples)
    return max(value, RMS_FLOOR_DB) if math.isfinite(value) else RMS_FLOOR_DB


def level_change(stem: Audio, dry: Audio) -> dict[str, Any]:
    """Levels of ``stem`` and the change ``dry - stem`` (same rate; lengths may differ).

    Returns:
        ``stem_rms_dbfs``, ``stem_loudness_lufs``, ``stem_peak_dbfs``, ``rms_change_db``, ``loudness_change_lu``,
        ``peak_change_db`` (positive: ``dry`` is louder) and ``outside`` (True when RMS or loudness moved by more
        than the limits).
    """
    rms, loudness, peak = rms_dbfs(stem.samples), _loudness(stem), _peak(stem.samples)
    row = {"stem_rms_dbfs": round(rms, 3), "stem_loudness_lufs": round(loudness, 3), "stem_peak_dbfs": round(peak, 3),
           "rms_change_db": round(rms_dbfs(dry.samples) - rms, 3),
           "loudness_change_lu": round(_loudness(dry) - loudness, 3),
           "peak_change_db": round(_peak(dry.samples) - peak, 3)}
    row["outside"] = outside_limits(row)
    return row


def outside_limits(row: dict[str, Any]) -> bool:
    """Whether a :func:`level_change` row moved RMS by more than 3 dB or loudness by more than 3 LU."""
    return bool(abs(row["rms_change_db"]) > RMS_LIMIT_DB or abs(row["loudness_change_lu"]) > LOUDNESS_LIMIT_LU)
