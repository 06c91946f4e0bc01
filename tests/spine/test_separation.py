"""The separation stage on a trained tiny model: shapes, rates, channels, chunking, streaming."""

from __future__ import annotations

import math

import torch

from deconstruct.audio import Audio
from deconstruct.separation import Separator, separate


def tone_mix(rate: int, channels: int, seconds: float = 3.0) -> Audio:
    t = torch.arange(int(seconds * rate)) / rate
    x = 0.3 * torch.sin(2 * math.pi * 110 * t) + 0.1 * torch.randn(t.shape[0])
    return Audio(x.repeat(channels, 1), rate)


def test_stems_sum_to_mixture_and_keep_rate_and_channels(tiny_separation_checkpoint):
    separator = Separator(tiny_separation_checkpoint, device="cpu")
    for rate, channels in [(44100, 2), (22050, 1), (48000, 2)]:
        mixture = tone_mix(rate, channels)
        stems = separator.separate(mixture)
        assert list(stems) == ["vocals", "drums", "bass", "other"]
        for stem in stems.values():
            assert stem.sample_rate == rate and stem.samples.shape == mixture.samples.shape
        total = sum(stem.samples for stem in stems.values())
        assert float((total - mixture.samples).abs().max()) < 1e-4


def test_chunked_inference_matches_whole_away_from_seams(tiny_separation_checkpoint):
    mixture = tone_mix(44100, 2, seconds=8.0)
    whole = Separator(tiny_separation_checkpoint, device="cpu", chunk_s=30.0).separate(mixture)
    chunked = Separator(tiny_separation_checkpoint, device="cpu", chunk_s=3.0, overlap_s=0.5).separate(mixture)
    for name in whole:
        difference = (whole[name].samples - chunked[name].samples).pow(2).mean()
        assert float(10 * torch.log10(whole[name].samples.pow(2).mean() / difference)) > 20.0


def test_one_shot_and_shifts(tiny_separation_checkpoint):
    mixture = tone_mix(44100, 2, seconds=2.0)
    stems = separate(mixture, tiny_separation_checkpoint, device="cpu")
    shifted = Separator(tiny_separation_checkpoint, device="cpu", shifts=2).separate(mixture)
    assert stems.keys() == shifted.keys()
    assert torch.allclose(sum(s.samples for s in shifted.values()), mixture.samples, atol=1e-4)
