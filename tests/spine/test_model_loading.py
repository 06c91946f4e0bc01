"""One loader path for every stage: damaged, unbuildable or NaN-producing models are model errors (exit 4)."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

from deconstruct.analysis import EffectAnalyzer
from deconstruct.audio import Audio
from deconstruct.cli import main
from deconstruct.errors import ModelError
from deconstruct.models.checkpoint import CHECKSUM_KEY, load_checkpoint, save_checkpoint, tensors_sha256
from deconstruct.models.registry import resolve
from deconstruct.removal import EffectRemover
from deconstruct.separation import Separator


def _resave(stage: str, path, config=None, state=None):
    """The shipped default of ``stage`` written again as a user checkpoint (optionally altered)."""
    shipped = resolve(stage)
    return save_checkpoint(path, shipped.name, config or shipped.config, state or shipped.state_dict)


def _flip_bit_in_largest_tensor(path) -> None:
    """Flip one bit in the middle of the stored bytes of the checkpoint's largest tensor."""
    state = load_checkpoint(path)["state_dict"]
    tensor = max(state.values(), key=lambda t: t.numel())
    raw = tensor.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()
    data = bytearray(path.read_bytes())
    start = bytes(data).find(raw[:64])
    assert start >= 0, "tensor bytes not found in the file"
    data[start + len(raw) // 2] ^= 0x40
    path.write_bytes(bytes(data))


@pytest.fixture
def song(tmp_path):
    t = np.arange(2 * 44100) / 44100
    x = 0.3 * np.stack([np.sin(2 * np.pi * 220 * t), np.sin(2 * np.pi * 330 * t)], 1)
    path = tmp_path / "song.wav"
    sf.write(path, x.astype(np.float32), 44100, subtype="FLOAT")
    return path


def test_checksum_is_saved_verified_and_optional_for_older_files(tmp_path):
    state = {"w": torch.randn(16, 8), "steps": torch.tensor(3), "mask": torch.ones(4, dtype=torch.bool)}
    path = save_checkpoint(tmp_path / "m.pt", "m", {"stage": "separation"}, state)
    payload = load_checkpoint(path)
    assert payload[CHECKSUM_KEY] == tensors_sha256(state)
    _flip_bit_in_largest_tensor(path)
    with pytest.raises(ModelError, match="checksum"):
        load_checkpoint(path)
    older = {key: value for key, value in payload.items() if key != CHECKSUM_KEY}
    torch.save(older, tmp_path / "older.pt")
    assert torch.equal(load_checkpoint(tmp_path / "older.pt")["state_dict"]["w"], state["w"])


@pytest.mark.parametrize("flag, stage", [("--model", "separation"), ("--analysis-model", "analysis")])
def test_bit_flipped_user_checkpoint_is_exit_4_with_one_line(tmp_path, song, capsys, flag, stage):
    path = _resave(stage, tmp_path / f"{stage}.pt")
    _flip_bit_in_largest_tensor(path)
    code = main([str(song), "-o", str(tmp_path / "out"), flag, str(path), "-q"])
    err = capsys.readouterr().err.strip()
    assert code == 4
    assert "checksum" in err and len(err.splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "out" / "report.json").exists()


def test_config_that_builds_no_network_is_a_model_error_in_every_stage(tmp_path):
    for stage, load in (("separation", Separator), ("analysis", EffectAnalyzer)):
        config = {**resolve(stage).config}
        config["arch_kwargs"] = {**config.get("arch_kwargs", {}), "no_such_argument": 1}
        path = _resave(stage, tmp_path / f"{stage}.pt", config=config)
        with pytest.raises(ModelError, match="does not build a network"):
            load(str(path))
    for stage, load in (("separation", Separator), ("analysis", EffectAnalyzer)):
        shipped = resolve(stage)
        state = dict(shipped.state_dict)
        state.pop(next(iter(state)))
        path = _resave(stage, tmp_path / f"{stage}-missing.pt", state=state)
        with pytest.raises(ModelError, match="do not fit"):
            load(str(path))
    removal = {"stage": "removal", "sample_rate": 44100,
               "effects": {"reverb": {"net": {"architecture": "no-such-net"}}}}
    path = save_checkpoint(tmp_path / "removal.pt", "broken-removal", removal, {})
    with pytest.raises(ModelError):
        EffectRemover(str(path))


def test_nan_producing_model_is_a_model_error_not_an_input_error(tmp_path):
    audio = Audio(0.1 * torch.randn(2, 44100), 44100)
    for stage, load, run in (("separation", Separator, lambda m: m.separate(audio)),
                             ("analysis", EffectAnalyzer, lambda m: m.analyze(audio))):
        state = {key: (torch.full_like(value, float("nan")) if value.is_floating_point() else value)
                 for key, value in resolve(stage).state_dict.items()}
        model = load(str(_resave(stage, tmp_path / f"{stage}-nan.pt", state=state)))
        with pytest.raises(ModelError, match="NaN or infinite"):
            run(model)
