"""The smoke recipe trains, exports a removal checkpoint, and the stage loads and runs it."""

from __future__ import annotations

import torch

from deconstruct.audio import Audio
from deconstruct.models.checkpoint import load_checkpoint
from deconstruct.models.registry import resolve
from deconstruct.removal import EffectRemover
from tests.removal.conftest import RATE, dry_signal


def test_smoke_checkpoint_is_a_removal_model(smoke_checkpoint):
    payload = load_checkpoint(smoke_checkpoint)
    config = payload["config"]
    assert config["stage"] == "removal"
    assert config["effects"]["reverb"]["net"]["architecture"] == "mask_tcn"
    assert config["effects"]["delay"] == {"dsp": True}
    assert all(key.split(".")[0] in ("reverb", "compressor") for key in payload["state_dict"])
    assert {"gain_db", "dry_fidelity_db"} & set(payload["metrics"]["reverb"]["train_side_validation"])
    assert resolve("removal", smoke_checkpoint).name == "removal-smoke"


def test_trained_model_removes_with_networks_and_inverses(smoke_checkpoint):
    remover = EffectRemover(smoke_checkpoint)
    audio = Audio(dry_signal(0.6, channels=2), RATE)
    result = remover.remove(audio, ["reverb", "compressor", "chorus"], mode="given")
    methods = {r.name: r.method for r in result.removals}
    assert methods == {"reverb": "neural", "chorus": "pass-through", "compressor": "neural"}
    assert result.audio.samples.shape == audio.samples.shape
    assert bool(torch.isfinite(result.audio.samples).all())


def test_removal_checkpoint_is_refused_by_another_stage(smoke_checkpoint):
    import pytest

    from deconstruct.errors import ModelError

    with pytest.raises(ModelError, match="removal model"):
        resolve("separation", smoke_checkpoint)


def test_every_trained_network_is_kept_in_the_run_folder(smoke_checkpoint):
    remover = EffectRemover(smoke_checkpoint.with_name("reverb-network.pt"))
    assert remover.removers["reverb"].description == "network"
    assert remover.removers["compressor"].description == "pass-through"
