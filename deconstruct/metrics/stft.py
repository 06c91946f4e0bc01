"""Multi-resolution STFT distance (auraloss), one value per signal."""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["mrstft_distance"]


def mrstft_distance(references: torch.Tensor, estimates: torch.Tensor, **options: Any) -> torch.Tensor:
    """Multi-resolution STFT distance of each estimate from its reference (Yamamoto et al., ICASSP 2020).

    auraloss's ``MultiResolutionSTFTLoss`` with its defaults (FFT sizes 1024/2048/512, hops 120/240/50,
    windows 600/1200/240, spectral convergence + log-magnitude L1), evaluated per item: auraloss's spectral
    convergence norms over a whole batch, so each item is scored on its own and the result does not depend on
    what else is in the batch. Lower is closer; 0 for identical signals.

    Args:
        references: target signals.
        estimates: signals to score, same shape as ``references``.
        **options: keyword arguments for ``auraloss.freq.MultiResolutionSTFTLoss`` (e.g. ``fft_sizes``).

    Returns:
        Distances, float32 ``[...]``.

    Shape:
        ``[..., channels, samples]`` → ``[...]``.
    """
    if references.dim() < 2 or references.shape != estimates.shape:
        raise ValueError(
            "mrstft_distance: references and estimates must share one shape [..., channels, samples], got "
            f"{tuple(references.shape)} and {tuple(estimates.shape)}"
        )
    from auraloss.freq import MultiResolutionSTFTLoss

    loss = MultiResolutionSTFTLoss(**options).to(references.device)
    batch = references.shape[:-2]
    refs = references.reshape(-1, *references.shape[-2:]).float()
    ests = estimates.reshape(-1, *estimates.shape[-2:]).float()
    with torch.no_grad():
        values = [loss(est[None], ref[None]) for ref, est in zip(refs, ests)]
    return torch.stack(values).reshape(batch)
