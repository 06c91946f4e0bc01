"""Effect-removal networks: ``forward(wet [B, C, T]) -> dry estimate [B, C, T]``, channels processed alone.

Both networks are small, non-causal temporal convolution networks (dilated residual 1-D convolutions over STFT
frames, as Conv-TasNet's separator but on frames) chosen for CPU cost: a few hundred thousand multiply-adds per
frame, parallel over time (no recurrence), so a minute of audio takes well under a second on one core.

- :class:`MaskTCN` predicts a bounded complex ratio mask on every STFT bin (Williamson, Wang and Wang, "Complex
  ratio masking for monaural speech separation", TASLP 2016) from band-pooled log-magnitudes. A complex mask can
  undo phase changes (a chorus' delayed copy, a reverb's early reflections), not only remove energy. Features are
  normalised per signal, so the mask does not depend on the input level. Used for reverb and chorus.
- :class:`GainTCN` predicts a gain curve (dB per frame, interpolated to samples) from absolute frame levels: a
  learned inverse of a compressor's or limiter's gain computer for when their parameters are unknown. Levels are
  *not* normalised: a compressor's threshold is an absolute level.

Both start as the identity (zero-initialised output layer), so an untrained or barely trained network leaves its
input unchanged, and training with inputs that lack the effect keeps it so.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from deconstruct.models.separation_nets import band_matrix
from deconstruct.shapes import check_rank

__all__ = ["ARCHITECTURES", "GainTCN", "MaskTCN", "TemporalBlock", "build_removal_net"]

_EPS = 1e-8


def _check_batch(x: torch.Tensor) -> None:
    check_rank(x, 3, "a removal network", "a batch [batch, channels, samples]")


class TemporalBlock(nn.Module):
    """Residual block: dilated conv → GroupNorm → PReLU → 1×1 conv, added to the input.

    Shape:
        ``[N, hidden, frames]`` → same.
    """

    def __init__(self, hidden: int, kernel: int, dilation: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(hidden, hidden, kernel, dilation=dilation, padding=dilation * (kernel - 1) // 2)
        self.norm = nn.GroupNorm(1, hidden)
        self.act = nn.PReLU(hidden)
        self.mix = nn.Conv1d(hidden, hidden, 1)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h + self.mix(self.act(self.norm(self.conv(h))))


def _trunk(features: int, hidden: int, layers: int, kernel: int) -> nn.Sequential:
    """Input projection and ``layers`` blocks with dilations 1, 2, 4, … (cycling after 32)."""
    if kernel % 2 != 1:
        raise ValueError(f"kernel must be odd to keep frames aligned, got {kernel}")
    blocks = [TemporalBlock(hidden, kernel, 2 ** (i % 6)) for i in range(layers)]
    return nn.Sequential(nn.Conv1d(features, hidden, 1), *blocks)


class MaskTCN(nn.Module):
    """Bounded complex-ratio-mask network on the STFT.

    Args:
        n_fft: STFT size (samples); hop ``n_fft // 4``, Hann window.
        bands: log-magnitudes are pooled into this many bands (see
            :func:`deconstruct.models.separation_nets.band_matrix`) before the trunk.
        hidden: channels of the temporal trunk.
        layers: residual blocks (dilations 1, 2, 4, … frames).
        kernel: temporal kernel size (odd).
        mask_bound: largest mask magnitude (the mask is ``bound · tanh(|m| / bound) · m / |m|``).
        sample_rate: rate the model works at (Hz); sets the band layout.

    Shape:
        wet ``[B, C, T]`` → estimate ``[B, C, T]``.
    """

    def __init__(self, n_fft: int = 1024, bands: int = 64, hidden: int = 96, layers: int = 6, kernel: int = 3,
                 mask_bound: float = 3.0, sample_rate: int = 44100) -> None:
        super().__init__()
        if mask_bound <= 1.0:
            raise ValueError(f"mask_bound must exceed 1 (the identity mask), got {mask_bound}")
        self.n_fft, self.hop, self.bins = n_fft, n_fft // 4, n_fft // 2 + 1
        self.mask_bound = float(mask_bound)
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)
        to_bins = band_matrix(n_fft, sample_rate, bands)  # [bins, bands]
        self.register_buffer("to_bands", to_bins / to_bins.sum(0, keepdim=True).clamp_min(1e-8),  # empty bands: 0
                             persistent=False)
        self.trunk = _trunk(bands, hidden, layers, kernel)
        self.out = nn.Conv1d(hidden, 2 * self.bins, 1)
        nn.init.zeros_(self.out.weight)
        with torch.no_grad():  # identity mask at initialisation: bounded magnitude exactly 1, phase 0
            self.out.bias.zero_()
            self.out.bias[: self.bins] = self.mask_bound * math.atanh(1.0 / self.mask_bound)

    def stft(self, x: torch.Tensor) -> torch.Tensor:
        """``[N, T]`` → complex ``[N, bins, frames]``."""
        return torch.stft(x.float(), self.n_fft, self.hop, window=self.window.float(), return_complex=True)

    def mask(self, spec: torch.Tensor) -> torch.Tensor:
        """The complex mask for a spectrogram. Shape: complex ``[N, bins, frames]`` → same."""
        power = (spec.real.square() + spec.imag.square()).float()
        features = torch.log(torch.einsum("nft,fb->nbt", power, self.to_bands) + _EPS)
        features = features - features.mean(dim=(1, 2), keepdim=True)  # level-independent
        raw = self.out(self.trunk(features)).float()  # [N, 2·bins, frames]; float32: no complex bfloat16
        raw = torch.complex(raw[:, : self.bins], raw[:, self.bins :])
        magnitude = raw.abs().clamp_min(_EPS)
        return raw * (self.mask_bound * torch.tanh(magnitude / self.mask_bound) / magnitude)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_batch(x)
        batch, channels, samples = x.shape
        flat = x.float().reshape(batch * channels, samples)  # STFTs in float32 under any autocast (bf16 too)
        pad = max(0, self.n_fft - samples)
        if pad:
            flat = nn.functional.pad(flat, (0, pad))
        with torch.autocast(device_type=flat.device.type, enabled=False):
            spec = self.stft(flat)
        mask = self.mask(spec)
        with torch.autocast(device_type=flat.device.type, enabled=False):
            out = torch.istft(spec * mask.to(spec.dtype), self.n_fft, self.hop, window=self.window.float(),
                              length=flat.shape[-1])
        return out[:, :samples].reshape(batch, channels, samples).to(x.dtype)


class GainTCN(nn.Module):
    """Gain-curve network: a learned inverse of a dynamics processor's gain computer.

    Features per frame of ``hop`` samples: RMS and peak level in dB (scaled by 1/20), absolute. The trunk outputs
    one gain in dB per frame, bounded to ``±max_gain_db`` by ``tanh``, linearly interpolated to samples.

    Args:
        hop: frame length in samples.
        hidden: channels of the temporal trunk.
        layers: residual blocks.
        kernel: temporal kernel size (odd).
        max_gain_db: largest boost or cut.
        sample_rate: rate the model works at (Hz), recorded for the stage.

    Shape:
        wet ``[B, C, T]`` → estimate ``[B, C, T]``.
    """

    def __init__(self, hop: int = 128, hidden: int = 48, layers: int = 8, kernel: int = 3,
                 max_gain_db: float = 30.0, sample_rate: int = 44100) -> None:
        super().__init__()
        self.hop, self.max_gain_db, self.sample_rate = int(hop), float(max_gain_db), int(sample_rate)
        self.trunk = _trunk(2, hidden, layers, kernel)
        self.out = nn.Conv1d(hidden, 1, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def gain_db(self, x: torch.Tensor) -> torch.Tensor:
        """Per-sample gain in dB. Shape: ``[N, T]`` → ``[N, T]``."""
        samples = x.shape[-1]
        frames = -(-samples // self.hop)
        padded = nn.functional.pad(x, (0, frames * self.hop - samples)).reshape(x.shape[0], frames, self.hop)
        rms = padded.square().mean(-1).add(1e-10).log10() * 0.5  # dB / 20
        peak = padded.abs().amax(-1).add(1e-5).log10()
        raw = self.out(self.trunk(torch.stack([rms, peak], dim=1)))  # [N, 1, frames]
        gain = self.max_gain_db * torch.tanh(raw / self.max_gain_db)
        # frame centres sit at hop/2; linear interpolation to every sample
        return nn.functional.interpolate(gain, size=frames * self.hop, mode="linear", align_corners=False)[
            :, 0, :samples
        ]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_batch(x)
        batch, channels, samples = x.shape
        flat = x.reshape(batch * channels, samples)
        gain = torch.pow(10.0, self.gain_db(flat).float() / 20.0)
        return (flat.float() * gain).reshape(batch, channels, samples).to(x.dtype)


ARCHITECTURES: dict[str, type[nn.Module]] = {"mask_tcn": MaskTCN, "gain_tcn": GainTCN}
"""Removal architectures by config name."""


def build_removal_net(spec: dict[str, Any], sample_rate: int) -> nn.Module:
    """A removal network from its config entry ``{"architecture": ..., "arch_kwargs": {...}}``.

    Raises:
        ValueError: unknown architecture.
    """
    name = spec.get("architecture")
    if name not in ARCHITECTURES:
        raise ValueError(f"unknown removal architecture {name!r}; known: {', '.join(ARCHITECTURES)}")
    return ARCHITECTURES[name](sample_rate=int(sample_rate), **spec.get("arch_kwargs", {}))
