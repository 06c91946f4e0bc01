"""Whole-track SDR of the challenges, SI-SDR and the multi-resolution STFT distance: known values."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from deconstruct.metrics import global_sdr, mrstft_distance, si_sdr

DELTA = 1e-7


def signals(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_global_sdr_known_values():
    reference = signals(2, 2, 44100)
    energy = float(reference[0].square().sum())
    assert global_sdr(reference, torch.zeros_like(reference)).tolist() == [0.0, 0.0]  # silence scores 0 dB
    assert global_sdr(reference[0], 0.9 * reference[0]).item() == pytest.approx(
        10 * math.log10((energy + DELTA) / (0.01 * energy + DELTA)), abs=1e-9
    )  # 20 dB
    assert global_sdr(reference[0], reference[0]).item() == pytest.approx(10 * math.log10((energy + DELTA) / DELTA))


def test_global_sdr_matches_the_challenge_formula_per_item():
    references, estimates = signals(3, 2, 5000), signals(3, 2, 5000, seed=1)
    r, e = references.numpy(), estimates.numpy()
    expected = 10 * np.log10((np.sum(r**2, axis=(1, 2)) + DELTA) / (np.sum((r - e) ** 2, axis=(1, 2)) + DELTA))
    np.testing.assert_allclose(global_sdr(references, estimates).numpy(), expected, rtol=0, atol=1e-12)


def test_si_sdr_is_scale_invariant_and_exact_for_orthogonal_noise():
    reference = signals(4, 8000)
    reference = reference - reference.mean(-1, keepdim=True)
    noise = signals(4, 8000, seed=1)
    noise = noise - noise.mean(-1, keepdim=True)
    noise = noise - (noise * reference).sum(-1, keepdim=True) / reference.square().sum(-1, keepdim=True) * reference
    noise = noise * 0.1
    expected = 10 * torch.log10(reference.square().sum(-1) / noise.square().sum(-1))
    torch.testing.assert_close(si_sdr(reference, reference + noise), expected, rtol=0, atol=1e-6)
    torch.testing.assert_close(si_sdr(reference, 3.0 * (reference + noise)), expected, rtol=0, atol=1e-6)


def test_mrstft_distance_is_zero_for_equal_signals_and_grows_with_noise():
    reference = signals(1, 2, 22050).float()
    noise = signals(1, 2, 22050, seed=1).float()
    distances = [float(mrstft_distance(reference, reference + level * noise)) for level in (0.0, 0.01, 0.1, 1.0)]
    assert distances[0] == pytest.approx(0.0, abs=1e-6)
    assert distances == sorted(distances) and distances[1] > 0.0


def test_mrstft_distance_of_an_item_does_not_depend_on_the_batch():
    references, estimates = signals(3, 1, 16000).float(), signals(3, 1, 16000, seed=1).float()
    batch = mrstft_distance(references, estimates)
    assert batch.shape == (3,)
    single = torch.stack([mrstft_distance(references[i : i + 1], estimates[i : i + 1])[0] for i in range(3)])
    torch.testing.assert_close(batch, single)


@pytest.mark.parametrize(
    "function, references, estimates",
    [(global_sdr, torch.zeros(10), torch.zeros(10)), (global_sdr, torch.zeros(2, 10), torch.zeros(2, 9)),
     (si_sdr, torch.zeros(3, 10), torch.zeros(3, 8)), (mrstft_distance, torch.zeros(10), torch.zeros(10))],
)
def test_wrong_shapes_raise(function, references, estimates):
    with pytest.raises(ValueError):
        function(references, estimates)
