"""A deconstruction built by hand from synthetic audio: every report section without a trained model."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deconstruct.analysis import StemAnalysis
from deconstruct.audio import Audio
from deconstruct.effects.catalog import EFFECT_NAMES, EffectEstimate
from deconstruct.pipeline import Deconstruction

RATE = 22050
STEMS = ("vocals", "bass")


def tone(frequency: float, seconds: float, seed: int) -> torch.Tensor:
    """A stereo tone with a little noise, ``[2, samples]`` float32."""
    rng = np.random.default_rng(seed)
    t = np.arange(round(seconds * RATE)) / RATE
    mono = 0.2 * np.sin(2 * np.pi * frequency * t) + 0.01 * rng.standard_normal(t.size)
    return torch.from_numpy(np.stack([mono, 0.7 * mono]).astype(np.float32))


def analysis(detected: dict[str, dict[str, float]]) -> StemAnalysis:
    """Every catalog effect, probability 0.9 with ``params`` for those in ``detected``, 0.1 otherwise."""
    return StemAnalysis(tuple(EffectEstimate(name, 0.9 if name in detected else 0.1, detected.get(name, {}))
                              for name in EFFECT_NAMES), windows=3, duration_s=2.0)


def build_deconstruction(seconds: float = 2.0, later_stages: bool = True) -> Deconstruction:
    stems = {name: Audio(tone(f, seconds, seed), RATE) for seed, (name, f) in enumerate(zip(STEMS, (440.0, 82.0)))}
    mixture = Audio(sum(a.samples for a in stems.values()), RATE)
    models = {"separation": {"name": "hand-made", "sha256": "ab" * 32, "source": "test"}}
    if not later_stages:
        return Deconstruction(mixture, stems, models, {"separation": 0.1})
    analyses = {"vocals": analysis({"compressor": {"threshold_db": -30.0, "ratio": 3.0, "attack_ms": 5.0,
                                                   "release_ms": 100.0}}),
                "bass": analysis({})}
    dry = {name: Audio(audio.samples * 0.5, RATE) for name, audio in stems.items()}
    removals = {"vocals": [{"name": "compressor", "method": "dsp", "params": {"threshold_db": -30.0}}], "bass": []}
    renders = {"5.1": Audio(torch.zeros(6, mixture.num_samples), RATE)}
    channels = {"5.1": ("L", "R", "C", "LFE", "Ls", "Rs")}
    models["analysis"] = {"name": "hand-analysis", "sha256": "", "source": "test"}
    return Deconstruction(mixture, stems, models, {"separation": 0.1, "analysis": 0.2, "render": 0.05},
                          "/music/My <Song>.wav", analyses, dry, removals, renders, channels)


@pytest.fixture()
def deconstruction() -> Deconstruction:
    return build_deconstruction()
