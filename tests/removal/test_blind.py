"""Removal by name alone: blind compressor estimation, and the WPE dereverberation baseline."""

from __future__ import annotations

import sys

import pytest
import torch

from deconstruct.audio import Audio
from deconstruct.effects.catalog import effect_spec
from deconstruct.errors import DependencyError
from deconstruct.removal import EffectRemover
from deconstruct.removal.blind import ESTIMATOR_FILE, dynamics_features, estimate_compressor
from tests.conftest import shared_file

SR = 44100


def _bursts(seconds: float = 3.0, level: float = 0.3) -> torch.Tensor:
    """Noise bursts with a wide dynamic range, ``[1, T]``."""
    generator = torch.Generator().manual_seed(0)
    t = torch.arange(int(seconds * SR)) / SR
    envelope = 0.05 + 0.95 * (torch.sin(2 * torch.pi * 1.5 * t) > 0.3).float() * torch.exp(-((t * 1.5) % 1.0) * 4)
    return (level * envelope * torch.randn(t.numel(), generator=generator))[None]


def test_features_are_absolute_levels():
    x = _bursts()
    quieter = dynamics_features(x * 0.1, SR)
    louder = dynamics_features(x, SR)
    assert quieter.shape == louder.shape and torch.isfinite(louder).all()
    assert torch.allclose(louder[:15] - quieter[:15], torch.full((15,), 20.0), atol=0.1)  # peak quantiles, dB


def _speech() -> torch.Tensor:
    """A ``train`` speech recording at -18 dBFS RMS, ``[1, T]`` (the estimator knows real level distributions)."""
    from deconstruct.data.datasets.effected import train_dry_files
    shared_file()
    from deconstruct.audio import load_audio, resample

    path = next(p for p in train_dry_files() if "ljspeech" in p.name)
    audio = load_audio(path)
    x = resample(audio.samples, audio.sample_rate, SR)[:1, : 4 * SR]
    return x * (10 ** (-18 / 20) / x.pow(2).mean().sqrt())


@pytest.mark.skipif(not ESTIMATOR_FILE.is_file(), reason="no blind estimator shipped")
def test_compressor_removal_by_name_alone_runs_the_inverse_on_compressed_audio():
    from deconstruct.effects.chain import Chain, Effect
    from deconstruct.effects.render import render_chain

    params = {"threshold_db": -36.0, "ratio": 5.0, "attack_ms": 2.0, "release_ms": 100.0}
    wet = render_chain(_speech(), SR, Chain((Effect("compressor", params),)))
    estimate = estimate_compressor(wet, SR)
    assert estimate is not None
    spec = effect_spec("compressor")
    assert all(spec.param(k).minimum <= v <= spec.param(k).maximum for k, v in estimate.items())
    result = EffectRemover("dsp-only").remove(Audio(wet, SR), ["compressor"])
    assert result.removals[0].method == "dsp" and "blindly" in result.removals[0].note
    assert not torch.equal(result.audio.samples, wet)


def test_wpe_keeps_shape_and_names_its_package_when_missing(monkeypatch):
    from deconstruct.removal.wpe import wpe_dereverb

    x = torch.cat([_bursts(1.0), _bursts(1.0) * 0.5])
    out = wpe_dereverb(x, SR, taps=4, iterations=1)
    assert out.shape == x.shape and torch.isfinite(out).all()
    monkeypatch.setitem(sys.modules, "nara_wpe", None)
    monkeypatch.setitem(sys.modules, "nara_wpe.wpe", None)
    with pytest.raises(DependencyError, match="nara-wpe"):
        wpe_dereverb(x, SR)
