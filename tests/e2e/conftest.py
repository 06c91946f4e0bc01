"""Fixtures of the end-to-end suite's tests: short synthetic dry recordings and a tiny analysis model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
import yaml

from tests.conftest import REPO


def write_recordings(folder: Path) -> dict[str, Path]:
    """A sung-like vowel (16 kHz mono), a flute-like tone (48 kHz stereo), a short room response (44.1 kHz) and a
    ``splits.json`` naming them all ``eval``."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    t16 = np.arange(16000) / 16000
    voice = np.sin(2 * np.pi * 220 * t16) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t16)) * 0.3
    t48 = np.arange(round(0.8 * 48000)) / 48000
    flute = 0.2 * np.sin(2 * np.pi * 523.25 * t48) + 0.002 * rng.standard_normal(t48.size)
    room = rng.standard_normal(round(0.3 * 44100)) * np.exp(-np.arange(round(0.3 * 44100)) / 3000)
    room[0] = 1.0
    paths = {"voice": folder / "dry_vocals" / "voice.wav", "flute": folder / "dry_instruments" / "flute.wav",
             "rir": folder / "rir" / "room.wav"}
    for path in paths.values():
        path.parent.mkdir(exist_ok=True)
    sf.write(paths["voice"], voice.astype(np.float32), 16000)
    sf.write(paths["flute"], np.stack([flute, flute], 1).astype(np.float32), 48000)
    sf.write(paths["rir"], (0.5 * room).astype(np.float32), 44100)
    (folder / "splits.json").write_text(json.dumps({"train": [], "eval": ["dry_vocals/", "dry_instruments/", "rir/"]}))
    return paths


@pytest.fixture(scope="session")
def recordings(tmp_path_factory) -> dict[str, Path]:
    return write_recordings(tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="session")
def tiny_analysis_checkpoint(tmp_path_factory) -> Path:
    """The smoke analysis recipe's network, untrained (random weights): runs every analysis code path in seconds."""
    from deconstruct.models.checkpoint import save_checkpoint
    from deconstruct.models.effect_nets import build_effect_net
    from deconstruct.train.analysis import model_config

    config = model_config(yaml.safe_load((REPO / "recipes" / "effect_classifier" / "smoke.yaml").read_text()))
    torch.manual_seed(0)
    net = build_effect_net(config)
    return save_checkpoint(tmp_path_factory.mktemp("analysis") / "tiny-analysis.pt", "tiny-analysis", config,
                           net.state_dict())
