"""The level that level-relative effect parameters are relative to: a signal's *active RMS level*.

Compressor and limiter thresholds are absolute levels (dBFS) in the catalog, but a separated stem can sit far
below the levels the effect was applied at. The analysis therefore also reports them relative to the stem's
active RMS level (``threshold_rel_db``), and the removal places them on the signal it processes at that level
plus the relative threshold. The active RMS level is the RMS in dBFS over all channels of the 400 ms blocks
whose own RMS is at least :data:`SILENCE_GATE_DB` (silent stretches, a vocal between verses, are left out).
"""

from __future__ import annotations

import math

import torch

__all__ = ["LEVEL_BLOCK_S", "LEVEL_RELATIVE", "SILENCE_GATE_DB", "ActiveLevel", "active_rms_db"]

LEVEL_BLOCK_S = 0.4
"""Block length of the active level, s (BS.1770's gating block)."""

SILENCE_GATE_DB = -60.0
"""Blocks quieter than this RMS level (dBFS) are silent and left out."""

LEVEL_RELATIVE = ("compressor", "limiter")
"""Effects whose ``threshold_db`` is also given relative to the signal's active RMS level."""


class ActiveLevel:
    """Running active RMS level of a signal fed block by block (see :func:`active_rms_db`).

    Args:
        sample_rate: Hz.
        channels: channel count of the blocks.
        gate_db: blocks quieter than this RMS (dBFS) are left out.
    """

    def __init__(self, sample_rate: int, channels: int, gate_db: float = SILENCE_GATE_DB) -> None:
        self.block = max(1, round(LEVEL_BLOCK_S * int(sample_rate)))
        self.channels, self.gate_db = int(channels), float(gate_db)
        self._carry = torch.zeros(self.channels, 0, dtype=torch.float64)
        self._energy, self._count = 0.0, 0

    def update(self, block: torch.Tensor) -> None:
        """Add the next ``[channels, n]`` block."""
        data = torch.cat([self._carry, block.detach().to(torch.float64).cpu()], dim=-1)
        whole = data.shape[-1] // self.block
        if whole:
            self._add(data[:, :whole * self.block].reshape(self.channels, whole, self.block).transpose(0, 1))
        self._carry = data[:, whole * self.block:]

    def _add(self, blocks: torch.Tensor) -> None:
        """``blocks`` ``[N, channels, block]``: keep those above the gate."""
        energy = blocks.square().sum(dim=(1, 2))
        size = blocks.shape[1] * blocks.shape[2]
        power_db = 10.0 * torch.log10((energy / size).clamp_min(1e-30))
        kept = power_db >= self.gate_db
        self._energy += float(energy[kept].sum())
        self._count += int(kept.sum()) * size

    def level_db(self) -> float:
        """Active RMS in dBFS; ``-inf`` when no block is above the gate (a last partial block counts alone)."""
        energy, count = self._energy, self._count
        if self._carry.shape[-1]:
            tail = self._carry.square().sum()
            size = self._carry.numel()
            if 10.0 * math.log10(max(float(tail) / size, 1e-30)) >= self.gate_db:
                energy, count = energy + float(tail), count + size
        return 10.0 * math.log10(energy / count) if count and energy > 0 else -math.inf


def active_rms_db(samples: torch.Tensor, sample_rate: int, block_s: float = 30.0) -> float:
    """The active RMS level (dBFS) of ``[channels, samples]``; ``-inf`` when every block is silent.

    Computed over ``block_s`` pieces with running sums, so a long stem costs no extra memory.

    Raises:
        ValueError: not a ``[channels, samples]`` tensor.
    """
    if samples.dim() != 2:
        raise ValueError(f"a signal must be a [channels, samples] tensor, got {tuple(samples.shape)}")
    meter = ActiveLevel(sample_rate, samples.shape[0])
    step = max(meter.block, int(block_s * sample_rate) // meter.block * meter.block)
    for start in range(0, samples.shape[-1], step):
        meter.update(samples[:, start:start + step])
    return meter.level_db()
