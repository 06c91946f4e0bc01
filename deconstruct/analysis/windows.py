"""Cutting a stem into analysis windows and deciding which ones hold sound.

A stem is cut into windows of the model's length every ``hop`` samples; when the hops do not end on the last
sample, one more window is aligned to the end, so every sample is seen. A stem shorter than a window is one window,
zero-padded at the end (as the training data pads short sources). A window is *active* when its RMS level is at
least :data:`SILENCE_DB` dBFS and no more than :data:`RELATIVE_FLOOR_DB` below the loudest window: silent
stretches (a vocal stem between verses) would only dilute the estimates.
"""

from __future__ import annotations

import math

import torch

__all__ = ["RELATIVE_FLOOR_DB", "SILENCE_DB", "active_windows", "cut_windows", "window_starts"]

SILENCE_DB = -60.0
"""Windows quieter than this RMS level (dBFS) are silent."""
RELATIVE_FLOOR_DB = 40.0
"""Windows this far below the loudest window are left out."""


def window_starts(num_samples: int, window: int, hop: int) -> list[int]:
    """First sample of every window (see the module docstring)."""
    if window <= 0 or hop <= 0:
        raise ValueError("window and hop must be positive")
    if num_samples <= window:
        return [0]
    starts = list(range(0, num_samples - window + 1, hop))
    if starts[-1] != num_samples - window:
        starts.append(num_samples - window)
    return starts


def cut_windows(mono: torch.Tensor, window: int, hop: int) -> torch.Tensor:
    """Windows of a mono signal.

    Shape:
        mono: ``[samples]`` → ``[num_windows, window]`` (zero-padded when shorter than one window).
    """
    if mono.dim() != 1:
        raise ValueError(f"cut_windows expects a mono signal [samples], got {tuple(mono.shape)}")
    if mono.shape[0] < window:
        mono = torch.nn.functional.pad(mono, (0, window - mono.shape[0]))
    return torch.stack([mono[start:start + window] for start in window_starts(mono.shape[0], window, hop)])


def rms_db(windows: torch.Tensor) -> torch.Tensor:
    """RMS level of each window in dBFS (``-inf`` for digital silence). Shape: ``[N, window]`` → ``[N]``."""
    power = windows.double().square().mean(dim=-1)
    return torch.where(power > 0, 10.0 * torch.log10(power.clamp_min(1e-300)), torch.full_like(power, -math.inf))


def active_windows(windows: torch.Tensor) -> torch.Tensor:
    """Which windows hold sound (see the module docstring). Shape: ``[N, window]`` → bool ``[N]``."""
    levels = rms_db(windows)
    return (levels >= SILENCE_DB) & (levels >= levels.max() - RELATIVE_FLOOR_DB)
