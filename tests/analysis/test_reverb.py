"""Reverb descriptors: Schroeder RT60 and DRR on responses with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from deconstruct.analysis.reverb import drr_db, freeverb_response, reverb_descriptors, rt60_s
from deconstruct.effects.chain import Effect

RATE = 16000


def exponential_tail(rt60: float, seconds: float = 3.0, seed: int = 0) -> np.ndarray:
    t = np.arange(round(seconds * RATE)) / RATE
    return np.random.default_rng(seed).standard_normal(t.size) * 10 ** (-3.0 * t / rt60)


@pytest.mark.parametrize("rt60", [0.3, 0.8, 1.5])
def test_rt60_of_an_exponential_decay(rt60):
    assert rt60_s(exponential_tail(rt60), RATE) == pytest.approx(rt60, rel=0.05)


def test_rt60_ignores_a_noise_floor():
    noisy = exponential_tail(0.5) + 1e-3 * np.random.default_rng(1).standard_normal(3 * RATE)
    assert rt60_s(noisy, RATE) == pytest.approx(0.5, rel=0.1)


def test_drr_of_a_delta_and_a_tail():
    response = np.zeros(RATE)
    response[0] = 1.0
    response[200:] = 0.01  # energy 0.01² per sample, all after the 2.5 ms direct window
    expected = 10 * math.log10(1.0 / (0.01**2 * (RATE - 200)))
    assert drr_db(response, RATE) == pytest.approx(expected)
    assert drr_db(np.eye(1, 100)[0], RATE) == math.inf


def test_freeverb_room_size_lengthens_the_decay_and_wet_level_lowers_drr():
    short = rt60_s(freeverb_response(0.3, seconds=4.0), 44100)
    long = rt60_s(freeverb_response(0.9, seconds=4.0), 44100)
    assert 0.3 < short < long
    low = reverb_descriptors(Effect("reverb", {"room_size": 0.5, "wet_level": 0.2}))
    high = reverb_descriptors(Effect("reverb", {"room_size": 0.5, "wet_level": 0.6}))
    assert high["rt60_s"] == low["rt60_s"] and high["drr_db"] < low["drr_db"] - 10
    with pytest.raises(ValueError, match="reverb"):
        reverb_descriptors(Effect("distortion", {"drive_db": 10.0}))
