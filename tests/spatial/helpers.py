"""Signals and measurements shared by the spatial tests."""

from __future__ import annotations

import numpy as np
import torch

from deconstruct.audio import Audio

RATE = 44100


def noise(channels: int, seconds: float = 0.25, correlation: float = 0.0, seed: int = 0) -> Audio:
    """White noise at -20 dBFS RMS; with 2 channels, ``correlation`` is their correlation coefficient."""
    rng = np.random.default_rng(seed)
    length = int(seconds * RATE)
    common = rng.standard_normal(length)
    channels_data = [common]
    for _ in range(channels - 1):
        channels_data.append(correlation * common + np.sqrt(1 - correlation**2) * rng.standard_normal(length))
    return Audio(torch.tensor(np.stack(channels_data) * 0.1, dtype=torch.float32), RATE)


def band_stems() -> dict[str, Audio]:
    """A band: nearly mono vocals and bass, wide drums and other, a mono piano."""
    return {
        "vocals": noise(2, correlation=0.95, seed=1),
        "drums": noise(2, correlation=0.5, seed=2),
        "bass": noise(2, correlation=0.99, seed=3),
        "other": noise(2, correlation=0.3, seed=4),
        "piano": noise(1, seed=5),
    }


def energy(samples: torch.Tensor) -> float:
    """Sum of squares (all channels)."""
    return float((samples.double() ** 2).sum())


def level_db(samples: torch.Tensor) -> float:
    """Energy in dB."""
    return 10.0 * np.log10(energy(samples))
