"""Signal features of the effect analysis network: fixed (not learned) views that expose each effect.

Every view is computed from a mono window ``[batch, samples]`` at the model's rate:

- ``logmel`` ``[batch, n_mels, frames]``: log-mel power (dB), the CNN's main input (spectral balance, decays,
  harmonics);
- ``laggram`` ``[batch, lag_bins, frames]``: short-time generalised autocorrelation (spectral magnitude raised to
  ``2·whitening``, as Tolonen & Karjalainen's pitch analysis) at lags of 0.5-20 ms, max-pooled on a log lag axis.
  A chorus shows as a peak that sweeps slowly through the 1-15 ms lags, whatever the pitch;
- ``modulation`` ``[batch, mod_bands, mod_bins]``: the modulation spectrum, magnitude of the Fourier transform
  over time of each coarse band's log energy, at 0.4-24 Hz on a log axis. LFO-driven effects (chorus at
  0.5-3 Hz) and natural vibrato (4-8 Hz) sit at different modulation rates;
- ``echo`` ``[batch, 2, echo_bins]``: the whole window's generalised autocorrelation and its real power cepstrum
  at lags of 10 ms-1.2 s (max-pooled on a log lag axis). An echo of delay ``D`` is a peak at lag ``D`` in both,
  with its feedback repeats at ``2D, 3D...``;
- ``stats`` ``[batch, NUM_STATS]``: level statistics that compressors, limiters and distortion change: peak, RMS,
  crest factor, percentiles of the short-term level, the histogram of sample magnitudes relative to the peak,
  the share of samples at the peak and at full scale, and the energy above 4, 8, 12 and 16 kHz.

Absolute level is kept on purpose (a limiter drives the peak to full scale). Digital silence (zero padding)
is excluded from the level statistics.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

import torch
from torch import nn

__all__ = ["FeatureConfig", "EffectFeatures", "NUM_STATS", "log_bins", "mel_filterbank"]

_EPS = 1e-10
_SILENT_DB = -80.0
_HISTOGRAM_BINS = 16
_PERCENTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
_HIGH_BANDS_HZ = (4000.0, 8000.0, 12000.0, 16000.0)
NUM_STATS = 3 + len(_PERCENTILES) + 1 + _HISTOGRAM_BINS + 2 + len(_HIGH_BANDS_HZ)
"""Length of the ``stats`` vector."""


@dataclass(frozen=True)
class FeatureConfig:
    """Settings of :class:`EffectFeatures` (stored in the analysis checkpoint's config).

    Attributes:
        sample_rate: model rate, Hz.
        window_s: analysis window, s.
        n_fft: STFT size, samples (Hann window).
        hop: STFT hop, samples.
        n_mels: log-mel bands.
        f_min_hz: lowest mel frequency.
        f_max_hz: highest mel frequency.
        lag_bins: log-spaced lag bins of the lag-gram.
        lag_min_s: shortest lag of the lag-gram.
        lag_max_s: longest lag of the lag-gram (below ``n_fft / 2`` samples).
        mod_bands: coarse mel bands of the modulation spectrum.
        mod_bins: log-spaced modulation-frequency bins.
        mod_min_hz: lowest modulation frequency.
        mod_max_hz: highest modulation frequency.
        echo_bins: log-spaced lag bins of the echo vectors.
        echo_min_s: shortest echo lag.
        echo_max_s: longest echo lag.
        echo_decimation: the echo vectors are computed on the window decimated by this factor (mean of each
            group of samples): echoes survive, and the transforms are that much shorter.
        whitening: exponent applied to the power spectrum before the autocorrelations (1: plain
            autocorrelation; smaller values whiten).
    """

    sample_rate: int = 44100
    window_s: float = 3.0
    n_fft: int = 2048
    hop: int = 512
    n_mels: int = 64
    f_min_hz: float = 20.0
    f_max_hz: float = 20000.0
    lag_bins: int = 32
    lag_min_s: float = 0.0005
    lag_max_s: float = 0.02
    mod_bands: int = 20
    mod_bins: int = 24
    mod_min_hz: float = 0.4
    mod_max_hz: float = 24.0
    echo_bins: int = 128
    echo_min_s: float = 0.01
    echo_max_s: float = 1.2
    echo_decimation: int = 4
    whitening: float = 0.35

    def __post_init__(self) -> None:
        if self.lag_max_s * self.sample_rate >= self.n_fft // 2:
            raise ValueError("lag_max_s must stay below half the STFT size")
        if self.echo_max_s >= self.window_s:
            raise ValueError("echo_max_s must be shorter than the window")

    @property
    def window_samples(self) -> int:
        return round(self.window_s * self.sample_rate)

    @property
    def frames(self) -> int:
        """STFT frames of one window (centred frames)."""
        return self.window_samples // self.hop + 1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "FeatureConfig":
        """Build from a checkpoint config (unknown keys raise ``TypeError`` naming them)."""
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise TypeError(f"unknown feature settings: {', '.join(sorted(unknown))}")
        return cls(**data)


def _hz_to_mel(hz: torch.Tensor) -> torch.Tensor:
    return 2595.0 * torch.log10(1.0 + hz / 700.0)


def _mel_to_hz(mel: torch.Tensor) -> torch.Tensor:
    return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)


def mel_filterbank(n_freqs: int, bands: int, sample_rate: int, f_min: float, f_max: float) -> torch.Tensor:
    """Triangular HTK-mel filters, unit peak.

    Returns:
        ``[bands, n_freqs]`` float32.
    """
    freqs = torch.linspace(0.0, sample_rate / 2.0, n_freqs, dtype=torch.float64)
    f_max = min(f_max, sample_rate / 2.0)
    edges = _mel_to_hz(torch.linspace(float(_hz_to_mel(torch.tensor(f_min))), float(_hz_to_mel(torch.tensor(f_max))),
                                      bands + 2, dtype=torch.float64))
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (freqs - lower) / (centre - lower)
    falling = (upper - freqs) / (upper - centre)
    filters = torch.clamp(torch.minimum(rising, falling), min=0.0)
    # Narrow low bands may fall between FFT bins: give each at least its nearest bin.
    nearest = torch.argmin((freqs[None, :] - centre).abs(), dim=1)
    filters[torch.arange(bands), nearest] = torch.clamp(filters[torch.arange(bands), nearest], min=1.0)
    return filters.float()


def log_bins(positions: torch.Tensor, low: float, high: float, bins: int) -> torch.Tensor:
    """Index of the log-spaced bin of ``[low, high)`` holding each position (``-1`` outside the range).

    Raises:
        ValueError: a bin holds no position (the positions are too coarse for that many bins).
    """
    index = torch.floor(torch.log(positions / low) / math.log(high / low) * bins).long()
    index = torch.where((positions >= low) & (positions < high), index, torch.full_like(index, -1))
    if torch.unique(index[index >= 0]).numel() != bins:
        raise ValueError(f"{bins} log bins over [{low:g}, {high:g}) are finer than the positions; use fewer bins")
    return index


def _pool_bins(values: torch.Tensor, index: torch.Tensor, bins: int, reduce: str) -> torch.Tensor:
    """Pool the last axis of ``values`` into ``bins`` groups given by ``index`` (``-1`` entries dropped)."""
    keep = index >= 0
    values, index = values[..., keep], index[keep]
    target = index.expand(values.shape)
    out = torch.zeros((*values.shape[:-1], bins), dtype=values.dtype, device=values.device)
    return out.scatter_reduce(-1, target, values, reduce=reduce, include_self=False)


class EffectFeatures(nn.Module):
    """The fixed feature views of one analysis window (see the module docstring).

    Args:
        config: the feature settings.

    Shape:
        input: ``[batch, config.window_samples]`` mono at ``config.sample_rate``. Output: a dict of the views
        named in the module docstring.
    """

    def __init__(self, config: FeatureConfig = FeatureConfig()) -> None:
        super().__init__()
        self.config = c = config
        n_freqs = c.n_fft // 2 + 1
        self.register_buffer("window", torch.hann_window(c.n_fft), persistent=False)
        self.register_buffer("mel", mel_filterbank(n_freqs, c.n_mels, c.sample_rate, c.f_min_hz, c.f_max_hz),
                             persistent=False)
        self.register_buffer("mod_mel", mel_filterbank(n_freqs, c.mod_bands, c.sample_rate, 40.0, c.f_max_hz),
                             persistent=False)
        lags = torch.arange(c.n_fft // 2, dtype=torch.float64) / c.sample_rate
        self.register_buffer("lag_index", log_bins(lags, c.lag_min_s, c.lag_max_s, c.lag_bins), persistent=False)
        self.mod_size = max(4096, 1 << (4 * c.frames - 1).bit_length())
        rates = torch.fft.rfftfreq(self.mod_size, c.hop / c.sample_rate).double()
        self.register_buffer("mod_index", log_bins(rates, c.mod_min_hz, c.mod_max_hz, c.mod_bins), persistent=False)
        self.register_buffer("mod_taper", torch.hann_window(c.frames, periodic=False), persistent=False)
        self.echo_size = 1 << (2 * (c.window_samples // c.echo_decimation) - 1).bit_length()
        echo_lags = torch.arange(self.echo_size, dtype=torch.float64) * c.echo_decimation / c.sample_rate
        self.register_buffer("echo_index", log_bins(echo_lags, c.echo_min_s, c.echo_max_s, c.echo_bins),
                             persistent=False)
        freqs = torch.fft.rfftfreq(c.n_fft, 1.0 / c.sample_rate)
        self.register_buffer("high_masks", torch.stack([freqs >= f for f in _HIGH_BANDS_HZ]).float(),
                             persistent=False)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        c = self.config
        if x.dim() != 2 or x.shape[-1] != c.window_samples:
            raise ValueError(f"EffectFeatures expects mono windows [batch, {c.window_samples}], got {tuple(x.shape)}")
        x = x.float()
        spec = torch.stft(x, c.n_fft, c.hop, window=self.window, center=True, return_complex=True)
        power = spec.real.square() + spec.imag.square()  # [B, F, frames]
        logmel = 10.0 * torch.log10(torch.einsum("mf,bft->bmt", self.mel, power) + _EPS)
        return {
            "logmel": logmel,
            "laggram": self._laggram(power),
            "modulation": self._modulation(power),
            "echo": self._echo(x),
            "stats": self._stats(x, power),
        }

    def _laggram(self, power: torch.Tensor) -> torch.Tensor:
        c = self.config
        compressed = (power + _EPS).pow(c.whitening)
        autocorr = torch.fft.irfft(compressed, n=c.n_fft, dim=1)[:, : c.n_fft // 2]  # [B, lags, frames]
        autocorr = autocorr / autocorr[:, :1].clamp_min(_EPS)
        pooled = _pool_bins(autocorr.transpose(1, 2), self.lag_index, c.lag_bins, "amax")
        return pooled.transpose(1, 2)

    def _modulation(self, power: torch.Tensor) -> torch.Tensor:
        bands = 10.0 * torch.log10(torch.einsum("mf,bft->bmt", self.mod_mel, power) + _EPS)
        bands = bands.clamp_min(bands.amax(dim=(1, 2), keepdim=True) - 80.0)  # silence does not modulate
        centred = (bands - bands.mean(dim=-1, keepdim=True)) * self.mod_taper
        spectrum = torch.fft.rfft(centred, n=self.mod_size).abs() / self.mod_taper.sum()
        return torch.log1p(_pool_bins(spectrum, self.mod_index, self.config.mod_bins, "mean"))

    def _echo(self, x: torch.Tensor) -> torch.Tensor:
        c = self.config
        x = nn.functional.avg_pool1d(x[:, None], c.echo_decimation)[:, 0]
        power = torch.fft.rfft(x, n=self.echo_size).abs().square()
        floor = power.mean(dim=-1, keepdim=True) * 1e-6 + _EPS
        autocorr = torch.fft.irfft((power + floor).pow(c.whitening), n=self.echo_size)
        autocorr = autocorr / autocorr[:, :1].clamp_min(_EPS)
        cepstrum = torch.fft.irfft(torch.log(power + floor), n=self.echo_size)
        return torch.stack([_pool_bins(autocorr, self.echo_index, c.echo_bins, "amax"),
                            10.0 * _pool_bins(cepstrum, self.echo_index, c.echo_bins, "amax")], dim=1)

    def _stats(self, x: torch.Tensor, power: torch.Tensor) -> torch.Tensor:
        magnitude = x.abs()
        peak = magnitude.amax(dim=-1).clamp_min(_EPS)
        active = magnitude > 0
        count = active.sum(dim=-1).clamp_min(1)
        rms = (x.square().sum(dim=-1) / count).sqrt().clamp_min(_EPS)
        peak_db, rms_db = 20.0 * torch.log10(peak), 20.0 * torch.log10(rms)

        frame_db = 10.0 * torch.log10(power.mean(dim=1) / self.window.square().sum() + _EPS)  # mean square (Parseval)
        frame_db = torch.where(frame_db > _SILENT_DB, frame_db, torch.full_like(frame_db, torch.nan))
        quantiles = torch.nanquantile(frame_db, torch.tensor(_PERCENTILES, device=x.device), dim=-1).T
        quantiles = torch.nan_to_num(quantiles, nan=_SILENT_DB)
        spread = quantiles[:, -1] - quantiles[:, 0]

        relative = magnitude / peak[:, None]
        edges = torch.logspace(-3, 0, _HISTOGRAM_BINS + 1, device=x.device)[1:-1]
        histogram = torch.zeros(x.shape[0], _HISTOGRAM_BINS, device=x.device)
        histogram.scatter_add_(1, torch.bucketize(relative, edges), active.float())
        histogram = torch.log10(histogram / count[:, None] + 1e-5)
        near_peak = ((relative >= 0.98) & active).sum(dim=-1) / count
        full_scale = ((magnitude >= 0.98) & active).sum(dim=-1) / count

        spectrum = power.sum(dim=-1)  # [B, F]
        high = torch.log10(spectrum @ self.high_masks.T / (spectrum.sum(dim=-1, keepdim=True) + _EPS) + 1e-8)

        scalars = torch.stack([peak_db, rms_db, peak_db - rms_db], dim=-1) / 10.0
        levels = torch.cat([quantiles, spread[:, None]], dim=-1) / 10.0
        shares = torch.stack([torch.log10(near_peak + 1e-5), torch.log10(full_scale + 1e-5)], dim=-1)
        return torch.cat([scalars, levels, histogram, shares, high], dim=-1)
