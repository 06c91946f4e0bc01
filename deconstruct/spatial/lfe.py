"""The LFE feed: a low-passed sum of the stems.

The low-frequency effects channel gets the mono sum of all stems (after their placement gains) through a
4th-order Butterworth low-pass at 120 Hz, applied forward and backward (zero phase, so it stays aligned with the
main channels), at -10 dB: playback adds +10 dB to the LFE channel (ITU-R BS.775), so the LFE adds bass at
about the level of the main channels' own low end rather than doubling it.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import butter, sosfiltfilt

LFE_CUTOFF_HZ = 120.0
LFE_GAIN_DB = -10.0
LFE_FILTER_ORDER = 4


def lfe_signal(mono_sum: np.ndarray, sample_rate: int, cutoff_hz: float = LFE_CUTOFF_HZ,
               gain_db: float = LFE_GAIN_DB) -> np.ndarray:
    """Low-passed LFE feed.

    Args:
        mono_sum: the stems' mono sum, ``[T]``.
        sample_rate: in Hz.
        cutoff_hz: low-pass cut-off in Hz (below Nyquist).
        gain_db: level of the feed relative to ``mono_sum``.

    Shape:
        ``[T]`` -> ``[T]`` float64.
    """
    if mono_sum.ndim != 1:
        raise ValueError(f"mono_sum must be a 1-D signal [T], got shape {mono_sum.shape}")
    if not 0.0 < cutoff_hz < sample_rate / 2.0:
        raise ValueError(f"cutoff_hz must be between 0 and the Nyquist frequency, got {cutoff_hz}")
    sos = butter(LFE_FILTER_ORDER, cutoff_hz, btype="lowpass", fs=sample_rate, output="sos")
    if mono_sum.size <= 3 * (2 * len(sos) + 1):  # too short for sosfiltfilt's padding
        return np.zeros_like(mono_sum, dtype=np.float64)
    return sosfiltfilt(sos, mono_sum.astype(np.float64)) * 10.0 ** (gain_db / 20.0)
