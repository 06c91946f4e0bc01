"""Level and placement of tracks in a synthetic mix (numpy, ``[2, samples]`` float32)."""

from __future__ import annotations

import numpy as np


def active_rms(track: np.ndarray, frame: int = 2048, floor_db: float = -60.0) -> float:
    """RMS over the frames that are not near-silent (so sparse parts are levelled by what they play).

    Shape:
        track: ``[channels, samples]``. Returns 0.0 for silence.
    """
    if track.shape[-1] == 0:
        return 0.0
    power = (track.astype(np.float64) ** 2).mean(axis=0)
    frames = len(power) // frame
    if frames == 0:
        return float(np.sqrt(power.mean()))
    per_frame = power[: frames * frame].reshape(frames, frame).mean(axis=1)
    loudest = per_frame.max()
    if loudest <= 0.0:
        return 0.0
    active = per_frame[per_frame > loudest * 10.0 ** (floor_db / 10.0)]
    return float(np.sqrt(active.mean()))


def pan(track: np.ndarray, position: float) -> np.ndarray:
    """Constant-power pan of a stereo track.

    Args:
        track: ``[2, samples]``.
        position: -1 hard right ... 0 centre ... +1 hard left (positive to the left, as azimuth is).

    Returns:
        ``[2, samples]``; at 0 the track is unchanged.
    """
    if track.ndim != 2 or track.shape[0] != 2:
        raise ValueError(f"pan expects a [2, samples] track, got shape {track.shape}")
    angle = (1.0 - float(np.clip(position, -1.0, 1.0))) * np.pi / 4.0  # 0 = full left, pi/2 = full right
    gains = (np.array([np.cos(angle), np.sin(angle)]) * np.sqrt(2.0)).astype(np.float32)
    return track * gains[:, None]


def level(track: np.ndarray, target_rms_db: float) -> np.ndarray:
    """Scale ``track`` so its active RMS is ``target_rms_db`` dBFS (silence stays silence)."""
    rms = active_rms(track)
    if rms <= 1e-9:
        return np.zeros_like(track)
    return track * np.float32(10.0 ** (target_rms_db / 20.0) / rms)
