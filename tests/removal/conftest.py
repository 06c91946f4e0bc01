"""Fixtures of the removal tests: synthetic dry audio, and the smoke recipe trained once per session."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from tests.conftest import REPO

RATE = 44100


def dry_signal(seconds: float = 1.0, channels: int = 1, seed: int = 0, rate: int = RATE) -> torch.Tensor:
    """Decaying harmonic notes with a little noise, RMS about -20 dBFS: ``[channels, samples]`` float32."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    out = np.zeros((channels, t.size))
    starts = np.cumsum(rng.uniform(0.08, 0.37, size=int(seconds / 0.08) + 1)) - 0.08  # irregular: no rhythm
    for start in starts[starts < seconds]:
        pitch = 110.0 * 2 ** (rng.integers(0, 24) / 12)
        env = np.where(t >= start, np.exp(-(t - start) * 6.0), 0.0)
        for harmonic in (1, 2, 3):
            out += env * np.sin(2 * np.pi * pitch * harmonic * t + rng.uniform(0, 6)) / harmonic
    out += 0.01 * rng.standard_normal(out.shape)
    out *= 0.1 / np.sqrt(np.mean(out**2))
    return torch.from_numpy(out.astype(np.float32))


@pytest.fixture(scope="session")
def smoke_checkpoint(tmp_path_factory) -> Path:
    """The smoke recipe trained on a folder of synthetic dry files (seconds on CPU)."""
    import yaml

    from deconstruct.train.removal import train

    folder = tmp_path_factory.mktemp("dry")
    for seed in range(3):
        sf.write(folder / f"dry{seed}.wav", dry_signal(1.5, seed=seed).numpy().T, RATE)
    config = yaml.safe_load((REPO / "recipes" / "effect_removal" / "smoke.yaml").read_text())
    config["data"].update(recordings=False, folders=[str(folder)])
    return train(config, tmp_path_factory.mktemp("removal_smoke"))


@pytest.fixture(autouse=True)
def one_thread():
    """Run each removal test on one thread (small tensors: thread hand-offs cost more than they save)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
