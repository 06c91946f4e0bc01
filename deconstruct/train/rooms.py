"""Synthetic room impulse responses: training rooms beyond the few measured ones of the ``train`` split.

A response is a direct impulse, a handful of sparse early reflections and a diffuse tail of Gaussian noise that
decays exponentially with a frequency-dependent reverberation time (octave bands, high bands decaying faster, as
air and wall absorption do), after Lehmann and Johansson's statistical model ("Diffuse reverberation model for
efficient image-source simulation of room impulse responses", IEEE TASLP 2010). Everything is drawn from a seed, so
the same seed gives the same rooms.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

__all__ = ["synthetic_rir", "synthetic_rir_bank", "write_synthetic_rirs"]

BAND_EDGES_HZ = (0.0, 250.0, 500.0, 1000.0, 2000.0, 4000.0, 8000.0, math.inf)


def synthetic_rir(rng: np.random.Generator, sample_rate: int = 44100, rt60_s: tuple[float, float] = (0.2, 3.0),
                  drr_db: tuple[float, float] = (-6.0, 8.0), max_s: float = 3.0) -> torch.Tensor:
    """One synthetic room impulse response, unit energy.

    Args:
        rng: random generator (consumed).
        sample_rate: Hz.
        rt60_s: range of the broadband reverberation time (drawn log-uniformly), s.
        drr_db: range of the direct-to-reverberant energy ratio, dB.
        max_s: longest response, s.

    Returns:
        float32 ``[1, taps]``, direct sound at sample 0.
    """
    rt60 = float(np.exp(rng.uniform(math.log(rt60_s[0]), math.log(rt60_s[1]))))
    taps = int(min(max_s, 1.2 * rt60 + 0.05) * sample_rate)
    time = np.arange(taps) / sample_rate
    predelay = rng.uniform(0.002, 0.025)
    noise = rng.standard_normal(taps)
    spectrum = np.fft.rfft(noise)
    freqs = np.fft.rfftfreq(taps, 1.0 / sample_rate)
    tail = np.zeros(taps)
    high_damping = rng.uniform(0.3, 0.9)  # RT60 of the top band relative to the broadband one
    for band, (low, high) in enumerate(zip(BAND_EDGES_HZ[:-1], BAND_EDGES_HZ[1:])):
        part = np.fft.irfft(np.where((freqs >= low) & (freqs < high), spectrum, 0.0), n=taps)
        band_rt60 = rt60 * (1.0 + (high_damping - 1.0) * band / (len(BAND_EDGES_HZ) - 2))
        tail += part * np.exp(-6.9078 * time / band_rt60)  # 60 dB of amplitude decay over RT60
    onset = np.clip((time - predelay) / 0.01, 0.0, 1.0)  # diffuse field builds up over 10 ms
    tail *= onset
    for _ in range(int(rng.integers(3, 12))):  # sparse early reflections
        at = int(rng.uniform(0.001, 0.04) * sample_rate)
        if at < taps:
            tail[at] += rng.choice([-1.0, 1.0]) * rng.uniform(0.1, 0.6) * math.exp(-6.9078 * at / sample_rate / rt60)
    tail_energy = float(np.sum(tail**2)) + 1e-12
    drr = 10.0 ** (rng.uniform(*drr_db) / 10.0)
    response = tail * math.sqrt(1.0 / (drr * tail_energy))
    response[0] = 1.0
    response /= math.sqrt(float(np.sum(response**2)))
    return torch.from_numpy(response.astype(np.float32))[None]


def synthetic_rir_bank(count: int, seed: int, sample_rate: int = 44100, **ranges: tuple[float, float]
                       ) -> list[torch.Tensor]:
    """``count`` responses ``[1, taps]`` from one seed (see :func:`synthetic_rir`)."""
    rng = np.random.default_rng([seed, 7031])
    return [synthetic_rir(rng, sample_rate, **ranges) for _ in range(count)]


def write_synthetic_rirs(folder: str | Path, count: int, seed: int, sample_rate: int = 44100) -> list[Path]:
    """Write ``count`` synthetic responses as WAV files (kept when already there: same seed, same rooms).

    Returns:
        The files, sorted.
    """
    import soundfile

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    files = [folder / f"synthetic_room_s{seed}_{index:03d}.wav" for index in range(count)]
    if not all(f.is_file() for f in files):
        for path, response in zip(files, synthetic_rir_bank(count, seed, sample_rate)):
            soundfile.write(str(path), response[0].numpy(), sample_rate, subtype="FLOAT")
    return files
