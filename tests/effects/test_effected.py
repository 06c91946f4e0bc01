"""The effect-augmented dataset: determinism, item contract, FXAug removal items, sources."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import soundfile as sf
import torch

from deconstruct.audio import Audio
from deconstruct.data.datasets.effected import (
    EffectedDataset,
    RandomChainEffect,
    effected_loader,
    multitrack_source,
    train_dry_files,
    train_rir_files,
)
from deconstruct.data.material.recordings import shared_data_root
from deconstruct.effects.catalog import EFFECT_NAMES, total_params
from deconstruct.effects.chain import Chain
from deconstruct.errors import InputError
from tests.conftest import shared_file

RATE = 16000


@pytest.fixture()
def dry_folder(tmp_path):
    rng = np.random.default_rng(0)
    t = np.arange(RATE) / RATE
    sf.write(tmp_path / "tone.wav", 0.3 * np.sin(2 * np.pi * 220 * t) * np.exp(-3 * t), RATE)
    sf.write(tmp_path / "noise.flac", 0.1 * rng.standard_normal((RATE // 2, 2)), RATE)
    (tmp_path / "notes.txt").write_text("not audio")
    return tmp_path


def small(sources, **kwargs) -> EffectedDataset:
    return EffectedDataset(sources, **{"sample_rate": RATE, "duration_s": 0.25, "length": 16, **kwargs})


def test_items_follow_the_contract_and_are_deterministic(dry_folder):
    dataset = small(dry_folder, channels=2, seed=3)
    assert len(dataset.files) == 2 and len(dataset) == 16
    item = dataset[5]
    assert item["wet"].shape == item["dry"].shape == item["target"].shape == (2, 4000)
    assert item["labels"].shape == (len(EFFECT_NAMES),) and item["params"].shape == (total_params(),)
    chain = Chain.from_dict(json.loads(item["chain"]))
    np.testing.assert_array_equal(item["labels"].numpy(), chain.labels())
    np.testing.assert_array_equal(item["param_mask"].numpy(), chain.normalised()[1])
    torch.testing.assert_close(item["target"], item["dry"])
    again = small(dry_folder, channels=2, seed=3)[5]
    assert all(torch.equal(item[k], again[k]) for k in ("wet", "dry", "params")) and item["chain"] == again["chain"]
    other_seed = small(dry_folder, channels=2, seed=4)[5]
    assert not torch.equal(item["wet"], other_seed["wet"])


def test_set_epoch_draws_new_items(dry_folder):
    dataset = small(dry_folder)
    first = [dataset[i]["chain"] for i in range(8)]
    dataset.set_epoch(1)
    assert [dataset[i]["chain"] for i in range(8)] != first


def test_chains_span_0_to_k_effects_and_wet_differs_when_effects_apply(dry_folder):
    dataset = small(dry_folder, max_effects=2, length=40)
    counts = set()
    for i in range(len(dataset)):
        item = dataset[i]
        counts.add(int(item["labels"].sum()))
        if item["labels"].sum() == 0:
            torch.testing.assert_close(item["wet"], item["dry"])
        assert float(item["wet"].abs().max()) <= 0.99 + 1e-6
    assert counts == {0, 1, 2}


def test_removal_items_follow_fxaug(dry_folder):
    dataset = small(dry_folder, remove="delay", max_effects=3, length=40)
    holding = 0
    for i in range(len(dataset)):
        item = dataset[i]
        names = Chain.from_dict(json.loads(item["chain"])).names
        assert all(EFFECT_NAMES.index(n) <= EFFECT_NAMES.index("delay") for n in names)  # later ones come off first
        if "delay" in names:
            holding += 1
            assert not torch.allclose(item["target"], item["wet"])
        else:
            torch.testing.assert_close(item["target"], item["wet"])
    assert 10 <= holding <= 30


def test_callable_source_is_used(dry_folder):
    def source(seed: int) -> Audio:
        freq = 200 + seed % 500
        t = torch.arange(8000) / 8000
        return Audio(torch.sin(2 * math.pi * freq * t)[None], 8000)

    dataset = small(source, effects=["distortion"], min_effects=1, max_effects=1)
    item = dataset[0]
    assert item["wet"].shape == (1, 4000) and item["labels"][EFFECT_NAMES.index("distortion")] == 1


def test_bad_sources_raise_clear_errors(tmp_path, dry_folder):
    sf.write(tmp_path / "silence.wav", np.zeros(RATE), RATE)
    with pytest.raises(InputError, match="silent"):
        small([tmp_path / "silence.wav"])[0]
    with pytest.raises(InputError, match="not found"):
        small([tmp_path / "missing.wav"])
    with pytest.raises(ValueError, match="catalog effect"):
        small(dry_folder, remove="wah")


def test_loader_batches_items(dry_folder):
    batch = next(iter(effected_loader(small(dry_folder), batch_size=4)))
    assert batch["wet"].shape == (4, 1, 4000) and batch["labels"].shape == (4, 7) and len(batch["chain"]) == 4


def test_default_set_uses_train_recordings_and_train_rooms_only():
    shared_file("splits.json")
    splits = json.loads((shared_data_root() / "splits.json").read_text())
    train_entries = splits["train"]
    for path in train_dry_files() + train_rir_files():
        relative = path.relative_to(shared_data_root()).as_posix()
        assert any(relative == e or (e.endswith("/") and relative.startswith(e)) for e in train_entries)
    assert not any(p.name.startswith("Stereo") for p in train_dry_files())
    dataset = EffectedDataset(length=4, duration_s=0.5, convolution_probability=1.0, effects=["reverb"], min_effects=1)
    assert {str(p) for p in train_rir_files()} == set(dataset.rir_files)
    rooms = {json.loads(dataset[i]["chain"])[0]["rir"] for i in range(4)}
    assert rooms <= set(dataset.rir_files)


def test_random_chain_effect_follows_the_stem_effect_protocol():
    effect = RandomChainEffect(max_effects=2, min_effects=1, effects=("distortion", "delay"))
    dry = torch.randn(2, 4000) * 0.1
    wet, info = effect(dry, RATE, np.random.default_rng(1))
    again, info_again = effect(dry, RATE, np.random.default_rng(1))
    assert wet.shape == dry.shape and torch.equal(wet, again) and info == info_again
    chain = Chain.from_dict(info["chain"])
    assert 1 <= len(chain) <= 2 and info["labels"] == chain.labels().tolist()
    json.dumps(info)


def test_multitrack_source_feeds_dry_stems(dry_folder):
    class Multitracks:  # the part of SyntheticMultitracks the source uses
        sample_rate = 8000

        def __len__(self):
            return 3

        def item(self, index):
            t = torch.arange(4000) / 8000
            tone = torch.sin(2 * math.pi * 100 * (index + 1) * t).repeat(2, 1)
            return type("Item", (), {"dry": {"bass": tone, "vocals": torch.zeros(2, 4000)}})()

    source = multitrack_source(Multitracks())
    assert source(0).samples.abs().max() > 0.5 and source(3).samples.abs().max() == 0  # bass, then vocals
    item = small(source, channels=2)[0]
    assert item["dry"].abs().max() > 0
