"""The level that level-relative effect parameters are relative to: a signal's *active RMS level*.

Compressor and limiter thresholds are absolute levels (dBFS) in the catalog, but a separated stem can sit far
below the levels the effect was applied at. The analysis therefore also reports them relative to the stem's
active RMS level (``threshold_rel_db``), and the removal places them on the signal it processes at that level
plus the relative threshold. The active RMS level is the RMS in dBFS over all channels of the 400 ms blocks
whose own RMS is at least :data:`SILENCE_GATE_DB` and no more than :data:`RELATIVE_GATE_DB` below the loudest
block (silent stretches, a vocal between verses, are left out). The relative gate makes the level follow the
signal's scale exactly: a stem 30 dB quieter has an active level 30 dB lower.
"""

from __future__ import annotations

import math

import torch

__all__ = ["LEVEL_BLOCK_S", "LEVEL_RELATIVE", "RELATIVE_GATE_DB", "SILENCE_GATE_DB", "ActiveLevel",
           "active_rms_db"]

LEVEL_BLOCK_S = 0.4
"""Block length of the active level, s (BS.1770's gating block)."""

SILENCE_GATE_DB = -100.0
"""Blocks quieter than this RMS level (dBFS) are digital silence or dither and left out."""

RELATIVE_GATE_DB = 40.0
"""Blocks this far below the loudest block are left out."""

LEVEL_RELATIVE = ("compressor", "limiter")
"""Effects whose ``threshold_db`` is also given relative to the signal's active RMS level."""


class ActiveLevel:
    """Running active RMS level of a signal fed block by block (see :func:`active_rms_db`).

    Args:
        sample_rate: Hz.
        channels: channel count of the blocks.
        gate_db: blocks quieter than this RMS (dBFS) are left out.
    """

    def __init__(self, sample_rate: int, channels: int, gate_db: float = SILENCE_GATE_DB,
                 relative_gate_db: float = RELATIVE_GATE_DB) -> None:
        self.block = max(1, round(LEVEL_BLOCK_S * int(sample_rate)))
        self.channels, self.gate_db, self.relative_gate_db = int(channels), float(gate_db), float(relative_gate_db)
        self._carry = torch.zeros(self.channels, 0, dtype=torch.float64)
        self._energies: list[torch.Tensor] = []  # per block: sum of squares (one number per 0.4 s)

    def update(self, block: torch.Tensor) -> None:
        """Add the next ``[channels, n]`` block."""
        data = torch.cat([self._carry, block.detach().to(torch.float64).cpu()], dim=-1)
        whole = data.shape[-1] // self.block
        if whole:
            pieces = data[:, :whole * self.block].reshape(self.channels, whole, self.block)
            self._energies.append(pieces.square().sum(dim=(0, 2)))
        self._carry = data[:, whole * self.block:]

    def level_db(self) -> float:
        """Active RMS in dBFS; ``-inf`` when every block is silent (a last partial block counts as one block)."""
        energies = list(self._energies)
        sizes = [torch.full_like(e, float(self.channels * self.block)) for e in energies]
        if self._carry.shape[-1]:
            energies.append(self._carry.square().sum().reshape(1))
            sizes.append(torch.tensor([float(self._carry.numel())], dtype=torch.float64))
        if not energies:
            return -math.inf
        energy, size = torch.cat(energies), torch.cat(sizes)
        power_db = 10.0 * torch.log10((energy / size).clamp_min(1e-30))
        kept = (power_db >= self.gate_db) & (power_db >= power_db.max() - self.relative_gate_db)
        total = float(energy[kept].sum())
        return 10.0 * math.log10(total / float(size[kept].sum())) if total > 0 else -math.inf


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
