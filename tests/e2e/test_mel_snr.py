"""The Music Source Restoration challenge's measures: SI-SNR and Multi-Mel-SNR."""

from __future__ import annotations

import math

import pytest
import torch

from deconstruct.metrics.mel_snr import multi_mel_snr, si_snr


@pytest.fixture(scope="module")
def signal() -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    t = torch.arange(44100) / 44100
    tone = 0.3 * torch.sin(2 * math.pi * 330 * t) * (1 + torch.sin(2 * math.pi * 2 * t)) / 2
    return torch.stack([tone, 0.5 * tone]) + 0.01 * torch.randn(2, 44100, generator=generator)


def test_both_ignore_gain_and_rank_noise_levels(signal):
    noise = torch.randn(signal.shape, generator=torch.Generator().manual_seed(1))
    noise *= signal.norm(dim=-1, keepdim=True) / noise.norm(dim=-1, keepdim=True)
    assert si_snr(signal, signal * 3.0) > 100 and multi_mel_snr(signal, signal * 3.0, 44100) > 60
    assert si_snr(signal, signal + 0.1 * noise) == pytest.approx(20.0, abs=0.2)
    quiet, loud = (multi_mel_snr(signal, signal + level * noise, 44100) for level in (0.03, 0.3))
    assert quiet > loud + 10  # ten times the noise: about 20 dB less in power-mel terms, at least 10


def test_it_is_computed_per_channel_and_checks_shapes(signal):
    swapped = signal.flip(0)  # each channel now holds the other's signal: same shape, wrong content
    assert multi_mel_snr(signal, swapped, 44100) < multi_mel_snr(signal, signal * 0.9, 44100)
    with pytest.raises(ValueError, match=r"differ in \[channels, samples\]"):
        multi_mel_snr(signal, signal[:1], 44100)
    with pytest.raises(ValueError, match=r"expects \[channels, samples\]"):
        si_snr(signal[0], signal[0])
