"""Where models run."""

from __future__ import annotations

import torch

from deconstruct.errors import InputError


def pick_device(device: str | torch.device | None, prefer_cuda: bool = True) -> torch.device:
    """Resolve a device request.

    Args:
        device: ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``None``.
        prefer_cuda: with ``None``, use CUDA when available (else the CPU).

    Raises:
        InputError: an unknown device, or CUDA asked for without a GPU.
    """
    if device is None:
        return torch.device("cuda" if prefer_cuda and torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError):
        raise InputError(f"unknown device {device!r}; use cpu or cuda") from None
    if resolved.type not in ("cpu", "cuda"):
        raise InputError(f"unknown device {device!r}; use cpu or cuda")
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise InputError("device cuda was asked for but no CUDA GPU is available; use --device cpu")
    return resolved
