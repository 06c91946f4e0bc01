"""Fixtures of the data-engine tests: a synthetic voice recording and small rendered datasets."""

from __future__ import annotations

import numpy as np
import pytest

from deconstruct.data.rendering.multitrack import SyntheticMultitracks
from deconstruct.data.rendering.vocals import VoiceLibrary, analyse

SAMPLE_RATE = 44100


def vowel(f0_hz: float = 120.0, seconds: float = 2.0, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """A crude sustained vowel: a glottal-like pulse train through three formant resonators, with pauses."""
    from scipy import signal

    n = int(seconds * sample_rate)
    pulses = np.zeros(n)
    pulses[:: int(round(sample_rate / f0_hz))] = 1.0
    x = signal.lfilter([1.0], [1.0, -0.95], pulses)
    for formant, bandwidth in ((700.0, 90.0), (1200.0, 110.0), (2600.0, 160.0)):
        r = np.exp(-np.pi * bandwidth / sample_rate)
        theta = 2 * np.pi * formant / sample_rate
        x = signal.lfilter([1.0 - r], [1.0, -2 * r * np.cos(theta), r * r], x)
    x[n // 2: n // 2 + sample_rate // 10] = 0.0  # a pause (unvoiced stretch) in the middle
    return (x / np.abs(x).max() * 0.5).astype(np.float32)


@pytest.fixture(scope="session")
def voice_library() -> VoiceLibrary:
    """A library of one synthetic full-band voice (independent of the shared data set)."""
    return VoiceLibrary([analyse("vowel", vowel(), SAMPLE_RATE, SAMPLE_RATE / 2)], SAMPLE_RATE)


@pytest.fixture(scope="session")
def dataset(voice_library) -> SyntheticMultitracks:
    """A 4-stem synthetic set singing half its vocal lines with the synthetic voice; no scores, no clips."""
    return SyntheticMultitracks(seed=11, num_items=8, duration_s=2.0, score_probability=0.0,
                                recorded_voice_probability=0.5, voice_library=voice_library, clip_library=None)
