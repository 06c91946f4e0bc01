"""Measured room impulse responses for convolution reverb.

A response is loaded at the rate it is needed, trimmed to start 1 ms before its direct sound (the first sample
reaching a tenth of the peak, so the measurement's leading silence adds no pre-delay) and scaled to unit energy
(mean over channels of the sum of squares), so ``wet_level`` means the same for every room.

Channels map onto the signal's: a mono response serves every channel; a response with as many channels as the
signal is applied channel by channel; otherwise its first channel serves every channel.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import torch

__all__ = ["load_rir", "match_channels"]

ONSET_FRACTION = 0.1
PRE_ONSET_S = 0.001


@lru_cache(maxsize=32)
def _load(path: str, sample_rate: int) -> torch.Tensor:
    from deconstruct.audio import load_audio, resample

    audio = load_audio(path)
    response = resample(audio.samples, audio.sample_rate, sample_rate).to(torch.float32)
    envelope = response.abs().amax(dim=0)
    peak = float(envelope.max())
    if peak <= 0.0:
        raise ValueError(f"{path}: the impulse response is silent")
    onset = int(torch.nonzero(envelope >= ONSET_FRACTION * peak)[0])
    start = max(0, onset - round(PRE_ONSET_S * sample_rate))
    response = response[:, start:]
    energy = response.pow(2).sum(dim=-1).mean()
    return response / energy.sqrt()


def load_rir(path: str | os.PathLike, sample_rate: int) -> torch.Tensor:
    """Load, resample, trim and energy-normalise a room impulse response.

    Args:
        path: an audio file holding the response (mono or multichannel).
        sample_rate: rate of the signal it will be convolved with, Hz.

    Returns:
        float32 ``[channels, taps]`` (a fresh copy; loads are cached).

    Raises:
        deconstruct.errors.InputError: the file is missing or unreadable.
        ValueError: the response is silent.
    """
    return _load(str(Path(path)), int(sample_rate)).clone()


def match_channels(response: torch.Tensor, channels: int) -> torch.Tensor:
    """The response's channels for a signal with ``channels`` channels: ``[channels, taps]`` or ``[1, taps]``."""
    if response.dim() != 2:
        raise ValueError(f"an impulse response is [channels, taps], got {tuple(response.shape)}")
    if response.shape[0] == channels:
        return response
    return response[:1]
