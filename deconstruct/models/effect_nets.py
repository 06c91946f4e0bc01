"""Networks of the effect analysis stage: multi-label effect classification and parameter regression.

:class:`EffectNet` reads the fixed feature views of one analysis window (computed by
``deconstruct.analysis.features.EffectFeatures``) through one branch each and fuses them into a shared embedding:

- ``logmel`` ``[B, n_mels, frames]``: a VGG-style log-mel CNN (3x3 convolutions, batch norm, 2x2 max pooling;
  in the spirit of the PANNs CNNs RemFX used, much smaller), pooled by mean and max over time;
- ``laggram`` ``[B, lag_bins, frames]``: a small CNN whose output keeps the lag axis and is pooled over time by
  mean and standard deviation (a chorus moves its peak over time; a fixed resonance does not);
- ``modulation`` ``[B, mod_bands, mod_bins]`` and ``stats`` ``[B, num_stats]``: small MLPs;
- ``echo`` ``[B, 2, echo_bins]``: a 1-D CNN flattened so the lag of an echo peak stays readable.

Two heads share the embedding: ``logits`` ``[B, num_effects]`` (one sigmoid per effect) and ``params``
``[B, num_params]`` in ``[0, 1]`` (normalised catalog parameters followed by any extra descriptors).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

__all__ = ["EffectNet", "build_effect_net"]

FEATURE_KEYS = ("logmel", "laggram", "modulation", "echo", "stats")


def _conv_block(inputs: int, outputs: int, pool: bool = True) -> nn.Sequential:
    layers: list[nn.Module] = [
        nn.Conv2d(inputs, outputs, 3, padding=1, bias=False),
        nn.BatchNorm2d(outputs),
        nn.ReLU(inplace=True),
    ]
    if pool:
        layers.append(nn.MaxPool2d(2))
    return nn.Sequential(*layers)


def _image_cnn(widths: Sequence[int]) -> nn.Sequential:
    """``[B, 1, H, W]`` → ``[B, widths[-1], H / 2^(n-1), W / 2^(n-1)]``: every block but the last halves both axes."""
    blocks, inputs = [nn.BatchNorm2d(1)], 1
    for index, width in enumerate(widths):
        blocks.append(_conv_block(inputs, width, pool=index < len(widths) - 1))
        inputs = width
    return nn.Sequential(*blocks)


class EffectNet(nn.Module):
    """Effect classifier and parameter regressor on the analysis feature views.

    Args:
        num_effects: number of effects (catalog order).
        num_params: number of normalised parameter outputs.
        n_mels: log-mel bands of the ``logmel`` view.
        lag_bins: lag bins of the ``laggram`` view.
        mod_bands: bands of the ``modulation`` view.
        mod_bins: modulation-frequency bins of the ``modulation`` view.
        echo_bins: lag bins of the ``echo`` view.
        num_stats: length of the ``stats`` view.
        mel_widths: channels of the log-mel CNN blocks.
        lag_widths: channels of the lag-gram CNN blocks.
        embedding: width of the shared embedding.
        dropout: dropout before the heads.

    Shape:
        input: a mapping with the five views (see the module docstring). Output: ``{"logits": [B, num_effects],
        "params": [B, num_params]}``.
    """

    def __init__(self, num_effects: int, num_params: int, *, n_mels: int = 64, lag_bins: int = 32,
                 mod_bands: int = 20, mod_bins: int = 24, echo_bins: int = 128, num_stats: int = 31,
                 mel_widths: Sequence[int] = (16, 32, 64, 128, 128), lag_widths: Sequence[int] = (16, 32, 48),
                 embedding: int = 256, dropout: float = 0.2) -> None:
        super().__init__()
        self.shapes = {"logmel": n_mels, "laggram": lag_bins, "modulation": (mod_bands, mod_bins),
                       "echo": (2, echo_bins), "stats": num_stats}
        self.mel_cnn = _image_cnn(mel_widths)
        self.lag_cnn = _image_cnn(lag_widths)
        lag_rows = lag_bins // 2 ** (len(lag_widths) - 1)
        self.lag_proj = nn.Sequential(nn.Linear(2 * lag_widths[-1] * lag_rows, 128), nn.ReLU(inplace=True))
        self.mod_mlp = nn.Sequential(nn.BatchNorm1d(mod_bands * mod_bins), nn.Linear(mod_bands * mod_bins, 128),
                                     nn.ReLU(inplace=True))
        self.echo_cnn = nn.Sequential(
            nn.BatchNorm1d(2), nn.Conv1d(2, 16, 7, padding=3), nn.ReLU(inplace=True), nn.MaxPool1d(2),
            nn.Conv1d(16, 32, 5, padding=2), nn.ReLU(inplace=True), nn.MaxPool1d(2),
        )
        self.echo_proj = nn.Sequential(nn.Linear(32 * (echo_bins // 4), 128), nn.ReLU(inplace=True))
        self.stats_mlp = nn.Sequential(nn.BatchNorm1d(num_stats), nn.Linear(num_stats, 64), nn.ReLU(inplace=True))
        fused = 2 * mel_widths[-1] + 128 + 128 + 128 + 64
        self.trunk = nn.Sequential(nn.Dropout(dropout), nn.Linear(fused, embedding), nn.ReLU(inplace=True),
                                   nn.Dropout(dropout))
        self.classifier = nn.Linear(embedding, num_effects)
        self.regressor = nn.Sequential(nn.Linear(embedding, embedding), nn.ReLU(inplace=True),
                                       nn.Linear(embedding, num_params))

    def _check(self, features: Mapping[str, torch.Tensor]) -> None:
        missing = [key for key in FEATURE_KEYS if key not in features]
        if missing:
            raise ValueError(f"EffectNet needs the feature views {', '.join(missing)}")
        ranks = {"logmel": 3, "laggram": 3, "modulation": 3, "echo": 3, "stats": 2}
        for key, rank in ranks.items():
            if features[key].dim() != rank:
                raise ValueError(f"feature view {key!r} must have rank {rank}, got {tuple(features[key].shape)}")

    def embed(self, features: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """The shared embedding ``[B, embedding]``."""
        self._check(features)
        mel = self.mel_cnn(features["logmel"].unsqueeze(1)).mean(dim=2)  # [B, C, T']
        mel = torch.cat([mel.mean(dim=-1), mel.amax(dim=-1)], dim=-1)
        lag = self.lag_cnn(features["laggram"].unsqueeze(1)).flatten(1, 2)  # [B, C·R, T']
        lag = self.lag_proj(torch.cat([lag.mean(dim=-1), lag.std(dim=-1)], dim=-1))
        modulation = self.mod_mlp(features["modulation"].flatten(1))
        echo = self.echo_proj(self.echo_cnn(features["echo"]).flatten(1))
        stats = self.stats_mlp(features["stats"])
        return self.trunk(torch.cat([mel, lag, modulation, echo, stats], dim=-1))

    def forward(self, features: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        embedding = self.embed(features)
        return {"logits": self.classifier(embedding), "params": torch.sigmoid(self.regressor(embedding))}


def build_effect_net(config: Mapping[str, Any]) -> EffectNet:
    """The network a checkpoint config describes.

    Args:
        config: ``{"architecture": "effect_cnn", "effects": [...], "param_names": [...], "arch_kwargs": {...}}``.

    Raises:
        ValueError: an unknown architecture.
    """
    architecture = config.get("architecture")
    if architecture != "effect_cnn":
        raise ValueError(f"unknown analysis architecture {architecture!r}; this version knows effect_cnn")
    return EffectNet(len(config["effects"]), len(config["param_names"]), **config.get("arch_kwargs", {}))
