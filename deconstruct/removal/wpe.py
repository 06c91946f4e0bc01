"""Classical dereverberation by weighted prediction error (WPE): the baseline beside the reverb network.

WPE (Nakatani, Yoshioka, Kinoshita, Miyoshi and Juang, "Speech dereverberation based on variance-normalized delayed
linear prediction", IEEE TASLP 2010) predicts each STFT bin's late reverberation from its own past frames (after a
``delay`` that spares the direct sound and early reflections) and subtracts it, iterating between the prediction
filter and the dry signal's variance. It needs no training and no parameters of the room. Implemented by the
``nara-wpe`` package (Drude et al., 2018), here per channel (identical channels, as a mono source panned to stereo,
would make the multichannel form singular).
"""

from __future__ import annotations

import numpy as np
import torch

from deconstruct.errors import DependencyError

__all__ = ["wpe_dereverb"]


def wpe_dereverb(samples: torch.Tensor, sample_rate: int, taps: int = 10, delay: int = 3, iterations: int = 3,
                 frame_s: float = 0.023) -> torch.Tensor:
    """Dereverberate ``[channels, samples]`` audio with single-channel WPE per channel.

    Args:
        samples: the reverberant audio.
        sample_rate: Hz.
        taps: prediction filter length, frames.
        delay: prediction delay, frames (the direct sound and early reflections are kept).
        iterations: WPE iterations.
        frame_s: STFT frame length, s (a power of two of samples near it; hop a quarter of it).

    Returns:
        float32 ``[channels, samples]``.

    Raises:
        DependencyError: ``nara-wpe`` is not installed.
    """
    try:
        from nara_wpe.utils import istft, stft
        from nara_wpe.wpe import wpe
    except ImportError:
        raise DependencyError("WPE dereverberation needs the nara-wpe package: pip install nara-wpe") from None
    if samples.dim() != 2:
        raise ValueError(f"audio must be [channels, samples], got shape {tuple(samples.shape)}")
    size = 1 << max(6, round(np.log2(frame_s * sample_rate)))
    shift = size // 4
    audio = samples.detach().cpu().double().numpy()
    out = np.zeros_like(audio)
    for channel in range(audio.shape[0]):
        spec = stft(audio[channel : channel + 1], size=size, shift=shift)  # [1, frames, bins]
        dry = wpe(spec.transpose(2, 0, 1), taps=taps, delay=delay, iterations=iterations)  # [bins, 1, frames]
        wave = istft(dry.transpose(1, 2, 0), size=size, shift=shift)[0]
        length = min(wave.shape[-1], audio.shape[-1])
        out[channel, :length] = wave[:length]
    return torch.from_numpy(out).to(torch.float32)
