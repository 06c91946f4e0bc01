"""Signal-to-distortion ratios computed directly on waveforms: the challenges' whole-track SDR and SI-SDR."""

from __future__ import annotations

import torch

from deconstruct.shapes import check_rank, check_same_trailing

__all__ = ["global_sdr", "si_sdr"]

MDX_DELTA = 1e-7


def global_sdr(references: torch.Tensor, estimates: torch.Tensor, delta: float = MDX_DELTA) -> torch.Tensor:
    """Whole-track SDR of the Music Demixing (MDX 2021) and Sound Demixing (SDX 2023) challenges ("uSDR").

    ``10 log10((sum s^2 + delta) / (sum (s - ŝ)^2 + delta))`` over all channels and samples, in float64, with the
    challenges' ``delta = 1e-7``. An all-zero estimate scores exactly 0 dB.

    Args:
        references: true signals.
        estimates: estimated signals, broadcastable to ``references``.
        delta: the stabiliser added to numerator and denominator.

    Returns:
        SDR in dB, float64, ``[...]``.

    Shape:
        ``[..., channels, samples]`` → ``[...]``.
    """
    _check_rank(references, estimates, 2, "global_sdr", "[..., channels, samples]")
    references = references.to(torch.float64)
    estimates = estimates.to(torch.float64)
    numerator = references.square().sum(dim=(-2, -1)) + delta
    denominator = (references - estimates).square().sum(dim=(-2, -1)) + delta
    return 10 * torch.log10(numerator / denominator)


def si_sdr(
    references: torch.Tensor, estimates: torch.Tensor, zero_mean: bool = True, eps: float = 1e-8
) -> torch.Tensor:
    """Scale-invariant SDR (Le Roux, Wisdom, Erdogan and Hershey, "SDR – half-baked or well done?", ICASSP 2019).

    The reference is scaled by ``alpha = <ŝ, s> / ||s||^2`` and the ratio of the scaled reference's energy to the
    residual's is taken per signal along the last axis (average over channels yourself if you want one number).

    Args:
        references: true signals.
        estimates: estimated signals, broadcastable to ``references``.
        zero_mean: remove each signal's mean first (the paper's definition).
        eps: stabiliser against division by zero.

    Returns:
        SI-SDR in dB, float64, ``[...]``.

    Shape:
        ``[..., samples]`` → ``[...]``.
    """
    _check_rank(references, estimates, 1, "si_sdr", "[..., samples]")
    references = references.to(torch.float64)
    estimates = estimates.to(torch.float64)
    if zero_mean:
        references = references - references.mean(dim=-1, keepdim=True)
        estimates = estimates - estimates.mean(dim=-1, keepdim=True)
    alpha = (estimates * references).sum(-1, keepdim=True) / (references.square().sum(-1, keepdim=True) + eps)
    target = alpha * references
    residual = estimates - target
    return 10 * torch.log10(target.square().sum(-1) / (residual.square().sum(-1) + eps) + eps)


def _check_rank(references: torch.Tensor, estimates: torch.Tensor, rank: int, name: str, layout: str) -> None:
    for label, tensor in (("references", references), ("estimates", estimates)):
        check_rank(tensor, rank, f"{name}: {label}", layout, at_least=True)
    check_same_trailing(references, estimates, 1, name, "length (samples)", ("references", "estimates"))
