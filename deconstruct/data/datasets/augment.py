"""Stem augmentations as small composable functions (Demucs/Open-Unmix style).

Item-level functions take ``stems: dict[str, Tensor[..., 2, T]]`` and a ``numpy.random.Generator`` and return a
new dict; the mixture of the result is the sum of its stems, so they keep the ground truth consistent. One draw is
made per stem (for a batched ``[B, 2, T]`` input, the whole batch shares it). :func:`remix_batch` works on batches:
it permutes every stem independently across the batch, so each example mixes stems of different songs.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from deconstruct.shapes import check_rank

Stems = dict[str, torch.Tensor]
Augmentation = Callable[[Stems, np.random.Generator], Stems]


def _check(stems: Stems) -> None:
    for name, audio in stems.items():
        check_rank(audio, 2, f"stem {name!r}", "[..., 2, samples] stereo audio", at_least=True)
        if audio.shape[-2] != 2:
            raise ValueError(f"stem {name!r} expects [..., 2, samples] stereo audio, got shape {tuple(audio.shape)}")


def random_gain(stems: Stems, rng: np.random.Generator, low_db: float = -6.0, high_db: float = 3.0) -> Stems:
    """Scale each stem by a gain drawn uniformly in ``[low_db, high_db]`` dB."""
    _check(stems)
    return {name: audio * float(10.0 ** (rng.uniform(low_db, high_db) / 20.0)) for name, audio in stems.items()}


def channel_swap(stems: Stems, rng: np.random.Generator, probability: float = 0.5) -> Stems:
    """Swap left and right of each stem with ``probability``."""
    _check(stems)
    return {name: audio.flip(-2) if rng.random() < probability else audio for name, audio in stems.items()}


def sign_flip(stems: Stems, rng: np.random.Generator, probability: float = 0.5) -> Stems:
    """Invert the polarity of each stem with ``probability``."""
    _check(stems)
    return {name: -audio if rng.random() < probability else audio for name, audio in stems.items()}


def compose_augmentations(*augmentations: Augmentation) -> Augmentation:
    """One augmentation applying ``augmentations`` in order with the same generator."""
    def apply(stems: Stems, rng: np.random.Generator) -> Stems:
        for augmentation in augmentations:
            stems = augmentation(stems, rng)
        return stems

    return apply


def remix_batch(batch: Stems, rng: np.random.Generator) -> Stems:
    """Permute each stem independently along the batch axis (stems of different songs mixed together).

    Shape:
        batch: stem name → ``[B, 2, T]``; returns the same shapes.
    """
    out = {}
    for name, audio in batch.items():
        if audio.dim() != 3:
            raise ValueError(f"stem {name!r}: remix_batch expects [batch, 2, samples], got {tuple(audio.shape)}")
        out[name] = audio[torch.from_numpy(rng.permutation(audio.shape[0]))]
    return out


def default_augmentation() -> Augmentation:
    """Gain (-6 to +3 dB), channel swap and sign flip, per stem."""
    return compose_augmentations(random_gain, channel_swap, sign_flip)
