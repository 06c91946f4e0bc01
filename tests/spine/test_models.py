"""Checkpoints, the registry and the separation networks."""

from __future__ import annotations

import pytest
import torch

from deconstruct.errors import ModelError
from deconstruct.models.checkpoint import load_checkpoint, save_checkpoint
from deconstruct.models.registry import resolve
from deconstruct.models.separation_nets import SoftmaskSeparator, build_separation_net

CONFIG = {"stage": "separation", "architecture": "softmask", "stems": ["a", "b", "c"], "channels": 2,
          "sample_rate": 22050, "arch_kwargs": {"n_fft": 256, "hidden": 16, "layers": 1}}


def test_untrained_softmask_is_exactly_mixture_over_stems():
    net = SoftmaskSeparator(num_stems=3, n_fft=256, hidden=16, layers=1)
    x = torch.randn(2, 2, 4000)
    out = net(x)
    assert out.shape == (2, 3, 2, 4000)
    assert torch.allclose(out, x.unsqueeze(1).expand_as(out) / 3, atol=1e-5)


def test_softmask_estimates_sum_to_mixture_after_training_step():
    net = SoftmaskSeparator(num_stems=3, n_fft=256, hidden=16, layers=1)
    torch.nn.init.normal_(net.mask_logits.weight)
    x = torch.randn(1, 2, 3000)
    assert torch.allclose(net(x).sum(1), x, atol=1e-4)
    with pytest.raises(ValueError, match="batch"):
        net(x[0])


def test_checkpoint_round_trip_half_and_strict(tmp_path):
    net = build_separation_net(CONFIG)
    path = save_checkpoint(tmp_path / "m.pt", "m", CONFIG, net.state_dict(), {"sdr": 1.0}, half=True)
    resolved = resolve("separation", path)
    assert resolved.name == "m" and resolved.metrics == {"sdr": 1.0} and len(resolved.sha256) == 64
    assert all(v.dtype == torch.float32 for v in resolved.state_dict.values() if v.is_floating_point())
    fresh = build_separation_net(CONFIG)
    fresh.load_state_dict(resolved.state_dict, strict=True)
    payload = load_checkpoint(path)
    assert set(payload) == {"name", "config", "state_dict", "versions", "metrics", "tensors_sha256"}


def test_registry_errors(tmp_path):
    with pytest.raises(ModelError, match="unknown separation model"):
        resolve("separation", "no-such-model")
    with pytest.raises(ModelError, match="no such checkpoint"):
        resolve("separation", tmp_path / "missing.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(ModelError, match="not a loadable checkpoint"):
        resolve("separation", junk)
    wrong = save_checkpoint(tmp_path / "w.pt", "w", dict(CONFIG, stage="analysis"), {}, {})
    with pytest.raises(ModelError, match="analysis model"):
        resolve("separation", wrong)


def test_torchaudio_hdemucs_state_dict_loads_from_local_file(tmp_path):
    from torchaudio.models import hdemucs_low

    published = hdemucs_low(sources=["drums", "bass", "other", "vocals"]).state_dict()
    path = tmp_path / "hdemucs_low_like.pt"
    torch.save(published, path)
    config = {"architecture": "hdemucs", "stems": ["drums", "bass", "other", "vocals"],
              "arch_kwargs": {"size": "low"}}
    net = build_separation_net(config)
    resolved = resolve("separation", path)
    assert resolved.config["architecture"] == "hdemucs"
    net.load_state_dict(resolved.state_dict, strict=True)
    assert net(torch.randn(1, 2, 44100)).shape == (1, 4, 2, 44100)


def test_asteroid_mono_models_run_per_channel():
    pytest.importorskip("asteroid", reason="asteroid is an extra: pip install -e '.[asteroid]' (part of [dev])")
    net = build_separation_net({"architecture": "convtasnet", "stems": ["a", "b"],
                                "arch_kwargs": {"n_blocks": 2, "n_repeats": 1, "n_filters": 32, "bn_chan": 16,
                                                "hid_chan": 16, "skip_chan": 16}})
    assert net(torch.randn(2, 2, 8000)).shape == (2, 2, 2, 8000)
