"""Separation networks behind one interface: ``forward(mixture [B, C, T]) -> stems [B, S, C, T]``.

- :class:`SoftmaskSeparator`: the project's default, an Open-Unmix-style frame model (Stöter et al., JOSS 2019;
  a bidirectional LSTM or a dilated frame convolution over STFT frames, on log-spaced bands) that predicts one soft
  mask per stem with a softmax across stems. The masks sum to one, so the
  estimates always sum to the mixture, and the zero-initialised output layer starts training exactly at the
  mixture / number-of-stems baseline: a wrong-source guess costs little.
- :class:`HDemucsAdapter`: torchaudio's Hybrid Demucs (Défossez, 2021); loads torchaudio's published MUSDB-HQ
  weights from a local file.
- :class:`MonoSeparatorAdapter`: asteroid's ConvTasNet / DPRNNTasNet (mono models), run on each channel.
"""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import nn

from deconstruct.errors import DependencyError
from deconstruct.shapes import check_rank


def _check_rank(mixture: torch.Tensor) -> None:
    check_rank(mixture, 3, "a separation network", "a batch [batch, channels, samples]")


def band_matrix(n_fft: int, sample_rate: int, bands: int, linear_below_hz: float = 400.0) -> torch.Tensor:
    """Piecewise-linear ("hat") interpolation weights between STFT bins and frequency bands.

    Band centres sit on every bin below ``linear_below_hz`` (full resolution for bass) and are log-spaced above,
    up to Nyquist. Each bin's weights are non-negative and sum to one, so a band mask interpolated to bins is a
    convex combination: masks that sum to one over stems still do.

    Returns:
        ``[bins, bands]`` float32 weights.
    """
    import numpy as np

    bins = n_fft // 2 + 1
    freqs = np.linspace(0.0, sample_rate / 2, bins)
    linear = freqs[freqs < linear_below_hz]
    if bands <= len(linear) + 1:
        raise ValueError(f"bands must exceed {len(linear) + 1} for n_fft={n_fft} at {sample_rate} Hz")
    upper = np.geomspace(linear_below_hz, sample_rate / 2, bands - len(linear))
    centres = np.concatenate([linear, upper])
    weights = np.stack([np.interp(freqs, centres, np.eye(bands)[k]) for k in range(bands)], axis=1)
    return torch.from_numpy(weights).float()


class DilatedFrameConv(nn.Module):
    """Residual stack of dilated depthwise-separable 1-D convolutions over STFT frames (a TCN).

    A CPU-friendly stand-in for a bidirectional LSTM: non-causal, receptive field
    ``1 + 2 * sum(dilations)`` frames, backward pass as fast as the forward.

    Shape:
        ``[B, N, hidden]`` → ``[B, N, hidden]``.
    """

    def __init__(self, hidden: int, dilations: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 1, 2, 4, 8, 16, 32)) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.Conv1d(hidden, hidden, 3, padding=d, dilation=d, groups=hidden),
                          nn.GroupNorm(1, hidden), nn.Conv1d(hidden, hidden, 1), nn.GELU())
            for d in dilations)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.transpose(1, 2)
        for block in self.blocks:
            x = x + block(x)
        return x.transpose(1, 2)


class SoftmaskSeparator(nn.Module):
    """Spectrogram soft-mask separator with a softmax over stems.

    Args:
        num_stems: number of output stems S.
        channels: input channels C (the mask is shared by all channels).
        n_fft: STFT size (samples); hop is ``n_fft // 4``.
        hidden: width of the frame encoder and of the bidirectional LSTM output.
        layers: LSTM layers.
        bands: if set, features are pooled into and masks predicted on this many bands (see
            :func:`band_matrix`), a several-fold cheaper model; ``None`` works on every bin.
        sample_rate: the rate the band edges are laid out for (Hz).
        temporal: ``"lstm"`` (bidirectional LSTM, as Open-Unmix) or ``"tcn"`` (:class:`DilatedFrameConv`, several
            times faster to train on CPU).

    Shape:
        mixture: ``[B, C, T]`` → stems ``[B, S, C, T]``.
    """

    def __init__(self, num_stems: int = 4, channels: int = 2, n_fft: int = 2048, hidden: int = 256,
                 layers: int = 3, bands: int | None = None, sample_rate: int = 44100, temporal: str = "lstm") -> None:
        super().__init__()
        self.num_stems, self.channels, self.n_fft, self.hop = num_stems, channels, n_fft, n_fft // 4
        self.bins = n_fft // 2 + 1
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)
        if bands:
            to_bins = band_matrix(n_fft, sample_rate, bands)
            self.register_buffer("to_bins", to_bins, persistent=False)  # [bins, bands]
            self.register_buffer("to_bands", to_bins / to_bins.sum(0, keepdim=True), persistent=False)
        else:
            self.to_bins = self.to_bands = None
        bins = bands or self.bins
        self.encoder = nn.Sequential(nn.Linear(channels * bins, hidden), nn.LayerNorm(hidden), nn.Tanh())
        if temporal == "lstm":
            self.lstm = nn.LSTM(hidden, hidden // 2, num_layers=layers, bidirectional=True, batch_first=True,
                                dropout=0.2 if layers > 1 else 0.0)
        elif temporal == "tcn":
            self.tcn = DilatedFrameConv(hidden, tuple(2 ** (k % 6) for k in range(6 * layers)))
        else:
            raise ValueError(f"unknown temporal model {temporal!r}; use lstm or tcn")
        self.decoder = nn.Sequential(nn.Linear(2 * hidden, hidden), nn.LayerNorm(hidden), nn.ReLU())
        self.mask_logits = nn.Linear(hidden, num_stems * bins)  # bins = bands when banded
        nn.init.zeros_(self.mask_logits.weight)
        nn.init.zeros_(self.mask_logits.bias)

    def stft(self, audio: torch.Tensor) -> torch.Tensor:
        """``[B, C, T]`` → complex ``[B, C, F, frames]``."""
        batch, channels, length = audio.shape
        spec = torch.stft(audio.reshape(batch * channels, length), self.n_fft, self.hop, window=self.window,
                          return_complex=True, center=True)
        return spec.reshape(batch, channels, spec.shape[-2], spec.shape[-1])

    def istft(self, spec: torch.Tensor, length: int) -> torch.Tensor:
        """complex ``[..., F, frames]`` → ``[..., length]``."""
        lead = spec.shape[:-2]
        audio = torch.istft(spec.reshape(-1, *spec.shape[-2:]), self.n_fft, self.hop, window=self.window,
                            length=length, center=True)
        return audio.reshape(*lead, length)

    def masks(self, spec: torch.Tensor) -> torch.Tensor:
        """Soft masks from the mixture STFT.

        Shape:
            spec: complex ``[B, C, F, N]`` → masks ``[B, S, 1, F, N]`` (sum over S is 1).
        """
        batch, channels, _, frames = spec.shape
        magnitude = spec.abs().transpose(-1, -2)  # [B, C, N, F]
        if self.to_bands is not None:
            magnitude = magnitude @ self.to_bands
        features = torch.log1p(magnitude).permute(0, 2, 1, 3).reshape(batch, frames, -1)
        encoded = self.encoder(features)
        context = self.lstm(encoded)[0] if hasattr(self, "lstm") else self.tcn(encoded)
        decoded = self.decoder(torch.cat([encoded, context], dim=-1))
        masks = torch.softmax(self.mask_logits(decoded).reshape(batch, frames, self.num_stems, -1), dim=2)
        if self.to_bins is not None:
            masks = masks @ self.to_bins.T
        return masks.permute(0, 2, 3, 1).unsqueeze(2)

    def separate_spec(self, spec: torch.Tensor) -> torch.Tensor:
        """Masked stem spectrograms: complex ``[B, C, F, N]`` → ``[B, S, C, F, N]``."""
        return self.masks(spec) * spec.unsqueeze(1)

    def forward(self, mixture: torch.Tensor) -> torch.Tensor:
        _check_rank(mixture)
        return self.istft(self.separate_spec(self.stft(mixture)), mixture.shape[-1])


class HDemucsAdapter(nn.Module):
    """torchaudio's ``HDemucs`` behind the common interface (stereo in, ``[B, S, 2, T]`` out).

    Normalises the input by its standard deviation as torchaudio's MUSDB-HQ pipeline does.
    """

    def __init__(self, sources: list[str], size: str | None = "high", **kwargs: Any) -> None:
        super().__init__()
        from torchaudio.models import HDemucs, hdemucs_high, hdemucs_low, hdemucs_medium

        builders: dict[str, Callable[..., nn.Module]] = {
            "low": hdemucs_low, "medium": hdemucs_medium, "high": hdemucs_high}
        if size is None:  # explicit settings (any size; see deconstruct.models.hdemucs_shapes)
            self.model = HDemucs(sources=list(sources), **kwargs)
            return
        if size not in builders:
            raise ValueError(f"unknown HDemucs size {size!r}; use low, medium or high")
        self.model = builders[size](sources=list(sources), **kwargs)

    def forward(self, mixture: torch.Tensor) -> torch.Tensor:
        _check_rank(mixture)
        reference = mixture.mean(dim=1, keepdim=True)
        mean, std = reference.mean(dim=-1, keepdim=True), reference.std(dim=-1, keepdim=True) + 1e-8
        out = self.model((mixture - mean) / std)
        return out * std.unsqueeze(1) + mean.unsqueeze(1)


class MonoSeparatorAdapter(nn.Module):
    """Runs a mono asteroid separator (``[B, T] → [B, S, T]``) on every channel.

    Args:
        architecture: ``"convtasnet"`` or ``"dprnn"``.
        num_stems: sources the network separates.
        kwargs: passed to asteroid's model class.
    """

    def __init__(self, architecture: str, num_stems: int, **kwargs: Any) -> None:
        super().__init__()
        try:
            from asteroid.models import ConvTasNet, DPRNNTasNet
        except ImportError:
            raise DependencyError(f"the {architecture} separator needs asteroid; install it with "
                                  "pip install 'deconstruct[asteroid]'") from None

        classes = {"convtasnet": ConvTasNet, "dprnn": DPRNNTasNet}
        self.model = classes[architecture](n_src=num_stems, **kwargs)

    def forward(self, mixture: torch.Tensor) -> torch.Tensor:
        _check_rank(mixture)
        batch, channels, length = mixture.shape
        out = self.model(mixture.reshape(batch * channels, length))[..., :length]
        return out.reshape(batch, channels, -1, length).transpose(1, 2)


def build_separation_net(config: dict[str, Any]) -> nn.Module:
    """Build the network a checkpoint config describes.

    ``config`` keys: ``architecture`` (``softmask``, ``hdemucs``, ``convtasnet``, ``dprnn``), ``stems``,
    ``channels`` and ``arch_kwargs``.
    """
    arch, stems = config["architecture"], list(config["stems"])
    kwargs = dict(config.get("arch_kwargs", {}))
    if arch == "softmask":
        return SoftmaskSeparator(num_stems=len(stems), channels=int(config.get("channels", 2)), **kwargs)
    if arch == "hdemucs":
        return HDemucsAdapter(sources=stems, **kwargs)
    if arch in ("convtasnet", "dprnn"):
        return MonoSeparatorAdapter(arch, num_stems=len(stems), **kwargs)
    raise ValueError(f"unknown separation architecture {arch!r}")
