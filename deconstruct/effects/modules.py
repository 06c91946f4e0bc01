"""Thin ``nn.Module`` wrappers around :mod:`deconstruct.effects.functional` with normalised parameters.

Each wrapper holds its parameter ranges as buffers (from the catalog), maps normalised ``[0, 1]`` values to
physical units in the graph and applies the functional effect, so an estimator's output can be rendered and
compared with the input (analysis by synthesis) without leaving autograd.
"""

from __future__ import annotations

import torch
from torch import nn

from deconstruct.effects import functional
from deconstruct.effects.catalog import effect_spec

__all__ = ["EffectModule", "Gain"]


class _RangeMap(nn.Module):
    """Normalised ↔ physical maps for a list of ranges, kept as buffers."""

    def __init__(self, minimum: list[float], maximum: list[float], log_scale: list[bool]) -> None:
        super().__init__()
        log = torch.tensor(log_scale)
        low, high = torch.tensor(minimum, dtype=torch.float64), torch.tensor(maximum, dtype=torch.float64)
        self.register_buffer("log_scale", log)
        self.register_buffer("low", torch.where(log, low.log(), low).float())
        self.register_buffer("high", torch.where(log, high.log(), high).float())

    def denormalise(self, unit: torch.Tensor) -> torch.Tensor:
        """``[batch, params]`` in ``[0, 1]`` (clamped) → physical ``[batch, params]``."""
        value = self.low + unit.clamp(0.0, 1.0) * (self.high - self.low)
        return torch.where(self.log_scale, value.exp(), value)


class EffectModule(nn.Module):
    """A catalog effect driven by normalised parameters.

    Args:
        name: catalog effect name (reverb needs ``impulse_response``: Freeverb is not differentiable here).
        sample_rate: Hz of the audio it processes.
        impulse_response: ``[channels, taps]`` room response for the convolution reverb (see
            :func:`deconstruct.effects.rir.load_rir`), kept as a buffer.

    Shape:
        x: ``[batch, channels, samples]``; params and mask: ``[batch, P]`` with ``P`` the effect's parameter count in
        catalog order (``effect_spec(name).params``) → ``[batch, channels, samples]``.

    The mask matters for the EQ: a section whose mask is 0 is bypassed (its gain is multiplied by the mask).
    """

    def __init__(self, name: str, sample_rate: int, impulse_response: torch.Tensor | None = None) -> None:
        super().__init__()
        self.spec = effect_spec(name)
        if name == "reverb" and impulse_response is None:
            raise ValueError(
                "the differentiable reverb convolves: give impulse_response (Freeverb renders with pedalboard)"
            )
        self.sample_rate = int(sample_rate)
        self.ranges = _RangeMap(
            [p.minimum for p in self.spec.params],
            [p.maximum for p in self.spec.params],
            [p.scale == "log" for p in self.spec.params],
        )
        self.register_buffer("impulse_response", impulse_response)

    @property
    def name(self) -> str:
        return self.spec.name

    def denormalise(self, params: torch.Tensor) -> dict[str, torch.Tensor]:
        """Physical parameters ``{name: [batch]}`` from normalised ``[batch, P]``."""
        if params.dim() != 2 or params.shape[1] != len(self.spec.params):
            count, shape = len(self.spec.params), tuple(params.shape)
            raise ValueError(f"{self.name} takes params shaped [batch, {count}], got {shape}")
        physical = self.ranges.denormalise(params)
        return {spec.name: physical[:, i] for i, spec in enumerate(self.spec.params)}

    def forward(self, x: torch.Tensor, params: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        physical = self.denormalise(params)
        if mask is not None:
            for i, name in enumerate(self.spec.param_names):
                if name.endswith("gain_db"):
                    physical[name] = physical[name] * mask[:, i]
        return functional.apply_effect(x, self.sample_rate, self.name, physical, self.impulse_response)


class Gain(nn.Module):
    """Gain with a normalised control mapped linearly to ``[min_db, max_db]``.

    Shape:
        x: ``[batch, channels, samples]``; params: ``[batch, 1]`` → ``[batch, channels, samples]``.
    """

    def __init__(self, min_db: float = -24.0, max_db: float = 24.0) -> None:
        super().__init__()
        self.ranges = _RangeMap([min_db], [max_db], [False])

    def forward(self, x: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        return functional.gain(x, self.ranges.denormalise(params)[:, 0])
