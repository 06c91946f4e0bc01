"""Fixtures for the published-separator tests: a short song, tiny model folders, isolated caches, no network."""

from __future__ import annotations

import socket

import numpy as np
import pytest
import soundfile as sf
import torch

from tests.separation.fakes import demucs_repo


@pytest.fixture()
def short_song(tmp_path):
    """2 s of stereo tones and noise at 44.1 kHz."""
    rng = np.random.default_rng(0)
    t = np.arange(2 * 44100) / 44100
    x = np.stack([0.3 * np.sin(2 * np.pi * 220 * t), 0.3 * np.sin(2 * np.pi * 330 * t)], 1)
    x += 0.05 * rng.standard_normal(x.shape)
    path = tmp_path / "song.wav"
    sf.write(path, x.astype(np.float32), 44100)
    return path


@pytest.fixture(scope="session")
def six_source_repo(tmp_path_factory):
    """A local demucs model folder holding a tiny 6-source HTDemucs as the bag ``tiny6s``."""
    return demucs_repo(tmp_path_factory.mktemp("demucs_repo"))


@pytest.fixture()
def no_network(monkeypatch, tmp_path):
    """Empty demucs caches (Hugging Face and torch hub) and every TCP connect refused: nothing reaches a network."""
    import huggingface_hub
    from huggingface_hub import constants

    def refuse(*args, **kwargs):
        raise ConnectionRefusedError("no network in tests")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", refuse)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf_cache"))
    monkeypatch.setattr(torch.hub, "_hub_dir", str(tmp_path / "torch_hub"))
    monkeypatch.delenv("DECONSTRUCT_MODEL_REPO", raising=False)
    return tmp_path
