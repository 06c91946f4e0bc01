"""Tiny multitrack data sets written into a test's temporary folder."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from deconstruct.audio import Audio
from eval.tracks import MUSDB_STEMS, Track

RATE = 44100
FREQUENCIES = {"vocals": 440.0, "drums": 2000.0, "bass": 80.0, "other": 660.0}


def synthetic_stems(seconds: float = 2.2, seed: int = 0) -> dict[str, np.ndarray]:
    """One stereo tone plus a little noise per MUSDB stem, ``[samples, channels]`` float32."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    stems = {}
    for index, name in enumerate(MUSDB_STEMS):
        tone = 0.2 * np.sin(2 * math.pi * FREQUENCIES[name] * t)
        stereo = np.stack([tone, (0.5 + 0.1 * index) * tone], axis=1) + 0.01 * rng.standard_normal((t.size, 2))
        stems[name] = stereo.astype(np.float32)
    return stems


def write_wav_track(folder: Path, seconds: float = 2.2, seed: int = 0) -> dict[str, np.ndarray]:
    """``folder/{mixture,vocals,drums,bass,other}.wav`` (float WAV); returns the stems."""
    folder.mkdir(parents=True)
    stems = synthetic_stems(seconds, seed)
    for name, samples in stems.items():
        sf.write(folder / f"{name}.wav", samples, RATE, subtype="FLOAT")
    sf.write(folder / "mixture.wav", sum(stems.values()), RATE, subtype="FLOAT")
    return stems


def memory_track(name: str = "song", seconds: float = 2.2, seed: int = 0) -> Track:
    stems = {k: Audio(torch.from_numpy(v.T.copy()), RATE) for k, v in synthetic_stems(seconds, seed).items()}
    mixture = Audio(sum(stem.samples for stem in stems.values()), RATE)
    return Track(name, mixture, stems)
