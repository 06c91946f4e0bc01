"""The LFE feed: a low-passed sum of the stems.

The low-frequency effects channel gets the mono sum of all stems (after their placement gains) through a
linear-phase FIR low-pass whose magnitude is that of a 4th-order Butterworth at 120 Hz applied forward and
backward (an 8th-order slope, zero phase once its delay of ``(LFE_TAPS - 1) / 2`` samples is lined up with the
main channels, which the render engine does), at -10 dB: playback adds +10 dB to the LFE channel (ITU-R BS.775),
so the LFE adds bass at about the level of the main channels' own low end rather than doubling it. As an FIR it
runs block by block (:class:`~deconstruct.spatial.streams.FirStream`).
"""

from __future__ import annotations

import numpy as np
from scipy.signal import butter, firwin2, sosfreqz

LFE_CUTOFF_HZ = 120.0
LFE_GAIN_DB = -10.0
LFE_FILTER_ORDER = 4
LFE_TAPS = 2049


def lfe_filter(sample_rate: int, taps: int = LFE_TAPS, cutoff_hz: float = LFE_CUTOFF_HZ,
               gain_db: float = LFE_GAIN_DB) -> np.ndarray:
    """The LFE feed's linear-phase FIR ``[taps]`` (odd ``taps``; delay ``(taps - 1) / 2`` samples).

    Args:
        sample_rate: in Hz.
        taps: filter length (odd).
        cutoff_hz: the Butterworth cut-off in Hz (below Nyquist).
        gain_db: level of the feed relative to the stems' mono sum.
    """
    if not 0.0 < cutoff_hz < sample_rate / 2.0:
        raise ValueError(f"cutoff_hz must be between 0 and the Nyquist frequency, got {cutoff_hz}")
    if taps % 2 == 0:
        raise ValueError(f"taps must be odd (a whole-sample delay), got {taps}")
    sos = butter(LFE_FILTER_ORDER, cutoff_hz, btype="lowpass", fs=sample_rate, output="sos")
    frequencies = np.linspace(0.0, sample_rate / 2.0, 4097)
    _, response = sosfreqz(sos, worN=frequencies, fs=sample_rate)
    magnitude = np.abs(response) ** 2  # forward and backward
    return firwin2(taps, frequencies, magnitude, fs=sample_rate, window=("kaiser", 10.0)) * 10.0 ** (gain_db / 20.0)
