"""Removal networks: identity at initialisation, shapes, rank checks, the config builder."""

from __future__ import annotations

import pytest
import torch

from deconstruct.models.removal_nets import GainTCN, MaskTCN, build_removal_net
from tests.removal.conftest import dry_signal


@pytest.mark.parametrize("net", [MaskTCN(n_fft=512, bands=24, hidden=8, layers=2), GainTCN(hop=64, hidden=8, layers=2)])
def test_untrained_network_is_the_identity(net):
    x = torch.stack([dry_signal(0.3, channels=2, seed=1), dry_signal(0.3, channels=2, seed=2)])
    with torch.no_grad():
        y = net(x)
    assert y.shape == x.shape
    assert torch.allclose(y, x, atol=1e-4)


def test_mask_network_handles_inputs_shorter_than_its_window():
    net = MaskTCN(n_fft=512, bands=24, hidden=8, layers=1)
    with torch.no_grad():
        assert net(torch.ones(1, 1, 100) * 0.1).shape == (1, 1, 100)


@pytest.mark.parametrize("net", [MaskTCN(n_fft=512, bands=24, hidden=8, layers=1), GainTCN(hidden=8, layers=1)])
def test_networks_refuse_unbatched_audio(net):
    with pytest.raises(ValueError, match=r"\[batch, channels, samples\]"):
        net(torch.zeros(2, 1000))


def test_builder_knows_its_architectures():
    net = build_removal_net({"architecture": "gain_tcn", "arch_kwargs": {"hidden": 8, "layers": 1}}, 44100)
    assert isinstance(net, GainTCN)
    with pytest.raises(ValueError, match="unknown removal architecture"):
        build_removal_net({"architecture": "nope"}, 44100)
    with pytest.raises(ValueError, match="mask_bound"):
        MaskTCN(mask_bound=1.0)


def test_loss_prefers_the_target_and_caps_the_identity():
    from deconstruct.train.removal import RemovalLoss

    target = dry_signal(0.5)[None]
    noise = 0.05 * torch.randn(target.shape, generator=torch.Generator().manual_seed(0))
    loss = RemovalLoss(sdr_cap_db=40.0)
    assert loss(target + noise, target) > loss(target + 0.1 * noise, target) > loss(target, target)
    exact = loss(target.clone().requires_grad_(True), target)
    assert float(exact.detach()) == pytest.approx(-4.0, abs=1e-3)  # SI-SDR capped at 40 dB, STFT terms zero


@pytest.mark.parametrize("recipe", ["smoke", "default", "full"])
def test_recipe_networks_build(recipe):
    import yaml

    from tests.conftest import REPO

    config = yaml.safe_load((REPO / "recipes" / "effect_removal" / f"{recipe}.yaml").read_text())
    for name, entry in config["effects"].items():
        if entry.get("net"):
            net = build_removal_net(entry["net"], config["sample_rate"])
            assert net(torch.zeros(1, 1, 4096)).shape == (1, 1, 4096), name
