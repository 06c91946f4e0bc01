"""Separated-stem analysis material: labels by each stem's own chain, determinism, the shard cache."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deconstruct.analysis.layout import output_names
from deconstruct.data.datasets.separated import (
    MaterialSpec,
    SeparatedBank,
    Song,
    SongMaker,
    material_shard_path,
    prepare_material,
    song_windows,
)
from deconstruct.effects.catalog import EFFECT_NAMES
from deconstruct.effects.chain import Chain, Effect
from deconstruct.errors import InputError
from deconstruct.models.effect_nets import FEATURE_KEYS
from tests.data.test_rawstems import rawstems  # noqa: F401  (fixture)

RATE = 44100
WINDOW, HOP = RATE, RATE // 2


def _noise(seed: int, seconds: float = 3.0, level: float = 0.1) -> torch.Tensor:
    return torch.randn(2, int(seconds * RATE), generator=torch.Generator().manual_seed(seed)) * level


def _label(name: str) -> torch.Tensor:
    return torch.tensor([float(n == name) for n in EFFECT_NAMES])


def test_labels_follow_each_stems_own_chain():
    vocals, drums = _noise(0), _noise(1)
    reverb = Chain((Effect("reverb", {"room_size": 0.5, "wet_level": 0.3}, "algorithmic"),))
    song = Song(vocals + drums, {"vocals": vocals, "drums": drums, "other": drums * 1e-3},
                {"vocals": reverb, "drums": Chain(()), "other": reverb}, "band")
    separated = {"vocals": vocals + 0.1 * drums, "drums": drums + 0.1 * vocals,  # bleed both ways
                 "bass": 0.05 * vocals,  # a stem the song lacks: bleed only
                 "other": 0.05 * vocals}  # its own sound is 34 dB under the bleed
    rows = song_windows(song, separated, WINDOW, HOP, np.random.default_rng(0), windows_per_stem=3)
    by_role = {role: [r for r in rows if r["role"] == role] for role in separated}
    assert all(len(v) == 3 for v in by_role.values())
    assert all(torch.equal(r["labels"], _label("reverb")) and r["present"] for r in by_role["vocals"])
    for role in ("drums", "bass", "other"):  # the neighbour's reverb in the bleed never counts
        assert all(not r["labels"].any() and not r["stem_labels"].any() for r in by_role[role]), role
    reverb_targets = [r["mask"] for r in by_role["vocals"]]
    assert all(m.shape == (len(output_names()),) and m.sum() > 0 for m in reverb_targets)
    assert all(r["audio"].shape == (WINDOW,) for r in rows)


def _config(tmp_path, **material) -> dict:
    engine = {"voice_library": None, "clip_library": None, "score_probability": 0.0}
    return {"features": {}, "model": {"hop_s": 1.5},
            "data": {"separated": {"cache_dir": str(tmp_path / "cache"), "duration_s": 3.5, "engine": engine,
                                   "windows_per_stem": 1, **material,
                                   "train": {"songs": 2, "shards": 1, "seed": 3},
                                   "valid": {"songs": 2, "shards": 2, "seed": 4}}}}


def test_songs_are_deterministic_and_protocol_targets_carry_one_effect_or_none(tmp_path):
    config = _config(tmp_path, shares={"protocol": 1.0})
    config["data"]["separated"]["train"]["songs"] = 6
    spec = MaterialSpec.from_config(config, "train")
    maker = SongMaker(spec, 0)
    first, again = maker.song(1), SongMaker(spec, 0).song(1)
    assert torch.equal(first.mixture, again.mixture)
    assert torch.allclose(first.mixture, torch.stack(list(first.wet.values())).sum(0), atol=1e-5)
    seen = set()
    for index in range(6):
        song = maker.song(index)
        assert song.kind == "protocol" and song.target in song.wet
        names = song.chains[song.target].names
        assert len(names) <= 1 and set(names) <= {"reverb", "compressor", "distortion", "delay", "chorus"}
        seen.add(names)
        band = torch.stack([x for r, x in song.wet.items() if r != song.target]).sum(0)
        rms = [float(x.square().mean().sqrt()) for x in (song.wet[song.target], band)]
        assert -12.0 < 20 * np.log10(rms[0] / rms[1]) < 3.0  # under the band (active RMS offset in [-6, 0] dB)
    assert len(seen) > 1


def test_shards_build_once_and_feed_training(tmp_path):
    config = _config(tmp_path)
    root = config["data"]["separated"]["cache_dir"]
    bank = prepare_material(config, "train", root)
    path = material_shard_path(config, root, "train", 0)
    stamp = path.stat().st_mtime_ns
    again = prepare_material(config, "train", root)
    assert path.stat().st_mtime_ns == stamp and len(again) == len(bank) > 0  # kept, not rebuilt
    assert path.with_suffix(".json").is_file()
    item = bank[0]
    assert set(item) == {*FEATURE_KEYS, "labels", "targets", "mask"}
    assert item["labels"].shape == (len(EFFECT_NAMES),) and item["targets"].shape == (len(output_names()),)
    inverse, labels = bank.stems()
    assert inverse.shape == (len(bank),) and labels.shape[1] == len(EFFECT_NAMES) and labels.shape[0] <= 8
    with pytest.raises(InputError, match="no valid shard"):
        prepare_material(config, "valid", root, build=False)


def test_rawstems_songs(tmp_path, rawstems):  # noqa: F811
    config = _config(tmp_path, rawstems={"root": str(rawstems), "share": 1.0}, shares={"band": 0.0})
    spec = MaterialSpec.from_config(config, "train")
    song = SongMaker(spec, 0).song(0)
    assert song.kind == "rawstems" and set(song.wet) <= {"vocals", "drums", "bass", "other"}
    assert set(song.chains) == set(song.wet)
    assert song.mixture.shape == (2, round(3.5 * RATE))


def test_bad_settings_are_input_errors(tmp_path):
    with pytest.raises(InputError, match="unknown settings"):
        MaterialSpec.from_config(_config(tmp_path, colour="blue"), "train")
    with pytest.raises(InputError, match="rawstems.root"):
        MaterialSpec.from_config(_config(tmp_path, shares={"rawstems": 1.0}), "train")
