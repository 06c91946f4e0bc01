"""The measures of the Music Source Restoration (MSR) challenge: SI-SNR and Multi-Mel-SNR.

MSR (Zang et al., "Music Source Restoration", arXiv:2505.21827) asks for the unprocessed stems of a produced mix,
which is what this toolkit's dry stems are. The inaugural challenge (Zang, Hai, Ge, Kong, Dai, Wang, Mitsufuji and
Plumbley, "Summary of The Inaugural Music Source Restoration Challenge", arXiv:2601.04343) ranks systems by
*Multi-Mel-SNR*, computed per channel at 48 kHz and averaged over channels:

1. the estimate ``ŝ`` is scaled by ``α = <s, ŝ> / <ŝ, ŝ>`` (its least-squares projection onto the reference ``s``,
   so the measure ignores gain);
2. for each of three mel spectrograms (power 2, Hann window of ``n_fft``, ``f_min`` 0, ``f_max`` 24 kHz, HTK mel
   scale, no normalisation; ``(n_fft, hop, n_mels)`` = (512, 256, 80), (1024, 512, 128), (2048, 1024, 192)):
   ``SNR = 10 log10(Σ M(s)² / Σ (M(s) − M(αŝ))²)``;
3. the three SNRs are averaged.

SI-SNR is the scale-invariant SNR of the waveforms (zero-mean SI-SDR, Le Roux et al., ICASSP 2019), per channel,
averaged over channels. Both are in dB, higher is better.
"""

from __future__ import annotations

import functools

import torch

from deconstruct.audio import resample
from deconstruct.metrics.sdr import si_sdr
from deconstruct.shapes import check_rank, check_same_trailing

__all__ = ["MEL_CONFIGS", "MSR_SAMPLE_RATE", "multi_mel_snr", "si_snr"]

MSR_SAMPLE_RATE = 48000
MEL_CONFIGS = ((512, 256, 80), (1024, 512, 128), (2048, 1024, 192))
"""``(n_fft, hop_length, n_mels)`` of the challenge's three mel spectrograms."""
_EPS = 1e-8


def _check(reference: torch.Tensor, estimate: torch.Tensor) -> None:
    check_rank(reference, 2, "reference", "[channels, samples]")
    check_same_trailing(reference, estimate, 2, "mel SNR", "[channels, samples]", ("reference", "estimate"))


def si_snr(reference: torch.Tensor, estimate: torch.Tensor) -> float:
    """Scale-invariant SNR in dB, averaged over channels.

    Shape:
        reference, estimate: ``[channels, samples]``.
    """
    _check(reference, estimate)
    return float(si_sdr(reference.double(), estimate.double(), zero_mean=True).mean())


@functools.lru_cache(maxsize=1)
def _mel_transforms() -> tuple:
    import torchaudio

    return tuple(torchaudio.transforms.MelSpectrogram(sample_rate=MSR_SAMPLE_RATE, n_fft=n_fft, hop_length=hop,
                                                      n_mels=n_mels, f_min=0.0, f_max=MSR_SAMPLE_RATE / 2, power=2.0)
                 for n_fft, hop, n_mels in MEL_CONFIGS)


def multi_mel_snr(reference: torch.Tensor, estimate: torch.Tensor, sample_rate: int) -> float:
    """Multi-Mel-SNR of the MSR challenge in dB (see the module docstring), averaged over channels.

    Args:
        reference: the true unprocessed stem ``[channels, samples]``.
        estimate: the estimate, same shape.
        sample_rate: their rate, Hz (both are resampled to 48 kHz first, as the challenge's audio is).

    Returns:
        dB (the error energy carries the challenge's ``1e-8`` floor); ``nan`` for a silent reference.
    """
    import warnings

    _check(reference, estimate)
    reference = resample(reference.float(), int(sample_rate), MSR_SAMPLE_RATE)
    estimate = resample(estimate.float(), int(sample_rate), MSR_SAMPLE_RATE)
    with warnings.catch_warnings():  # 80 mel bands over 257 bins leave some filters empty, as in the challenge
        warnings.simplefilter("ignore", UserWarning)
        transforms = _mel_transforms()
    alpha = (reference * estimate).sum(-1, keepdim=True) / (estimate.square().sum(-1, keepdim=True) + _EPS)
    snrs = []
    for transform in transforms:
        with torch.no_grad():  # channels side by side: [channels, n_mels, frames]
            target, guess = transform(reference).double(), transform(alpha * estimate).double()
        signal = target.square().sum(dim=(-2, -1))
        error = (target - guess).square().sum(dim=(-2, -1))
        snr = 10 * torch.log10(signal / (error + _EPS))
        snrs.append(torch.where(signal > 0, snr, torch.full_like(snr, float("nan"))))
    return float(torch.stack(snrs).mean(0).mean())
