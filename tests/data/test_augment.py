"""Stem augmentations."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deconstruct.data.datasets import augment


@pytest.fixture
def stems() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return {name: torch.randn(2, 1000, generator=g) for name in ("vocals", "drums", "bass", "other")}


def test_random_gain_stays_within_bounds(stems):
    out = augment.random_gain(stems, np.random.default_rng(0), low_db=-6.0, high_db=3.0)
    for name in stems:
        ratio_db = 20 * np.log10(float(out[name].norm() / stems[name].norm()))
        assert -6.0 - 1e-4 <= ratio_db <= 3.0 + 1e-4
    assert len({round(float(out[n].norm() / stems[n].norm()), 6) for n in stems}) == 4  # one draw per stem


def test_channel_swap_and_sign_flip(stems):
    swapped = augment.channel_swap(stems, np.random.default_rng(0), probability=1.0)
    flipped = augment.sign_flip(stems, np.random.default_rng(0), probability=1.0)
    kept = augment.sign_flip(stems, np.random.default_rng(0), probability=0.0)
    for name, audio in stems.items():
        assert torch.equal(swapped[name][0], audio[1]) and torch.equal(swapped[name][1], audio[0])
        assert torch.equal(flipped[name], -audio)
        assert torch.equal(kept[name], audio)


def test_composition_is_deterministic_and_keeps_the_mixture_a_sum(stems):
    chain = augment.default_augmentation()
    a = chain(stems, np.random.default_rng(5))
    b = chain(stems, np.random.default_rng(5))
    assert all(torch.equal(a[n], b[n]) for n in stems)
    assert set(a) == set(stems) and all(a[n].shape == stems[n].shape for n in stems)


def test_remix_batch_permutes_each_stem_across_songs():
    batch = {name: torch.arange(8.0).view(8, 1, 1).expand(8, 2, 10) + k * 100
             for k, name in enumerate(("vocals", "drums"))}
    out = augment.remix_batch(batch, np.random.default_rng(1))
    for k, name in enumerate(batch):
        songs = out[name][:, 0, 0] - k * 100
        assert sorted(songs.tolist()) == list(range(8))
    assert not torch.equal(out["vocals"][:, 0, 0], out["drums"][:, 0, 0] - 100)


def test_wrong_shapes_are_refused():
    with pytest.raises(ValueError, match="stereo"):
        augment.random_gain({"x": torch.zeros(3, 10)}, np.random.default_rng(0))
    with pytest.raises(ValueError, match="batch"):
        augment.remix_batch({"x": torch.zeros(2, 10)}, np.random.default_rng(0))
