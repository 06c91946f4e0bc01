"""The checkpoint format: ``{name, config, state_dict, versions, metrics}``.

Checkpoints hold only tensors and plain Python values, so they load with ``torch.load(weights_only=True)``;
state dicts load with ``strict=True``. No classes are pickled and no training framework is imported.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import torch

from deconstruct.errors import ModelError
from deconstruct.files import atomic_path
from deconstruct.versions import package_versions

REQUIRED_KEYS = ("name", "config", "state_dict")


def save_checkpoint(
    path: str | os.PathLike,
    name: str,
    config: dict[str, Any],
    state_dict: dict[str, torch.Tensor],
    metrics: dict[str, Any] | None = None,
    half: bool = False,
) -> Path:
    """Write a checkpoint atomically.

    Args:
        path: destination file.
        name: model name (registry key).
        config: architecture and data settings (``architecture``, ``arch_kwargs``, ``sample_rate``, ...).
        state_dict: the model's weights.
        metrics: measured metrics to ship beside the weights.
        half: store floating tensors as float16 (loading casts them back to float32).
    """
    path = Path(path)
    tensors = {k: (v.detach().cpu().half() if half and v.is_floating_point() else v.detach().cpu())
               for k, v in state_dict.items()}
    payload = {"name": name, "config": config, "state_dict": tensors, "versions": package_versions(),
               "metrics": metrics or {}}
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return path


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Read a checkpoint file (``weights_only=True``); floating tensors come back as float32.

    Raises:
        ModelError: missing, unreadable or not a deconstruct checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: no such checkpoint file")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for corrupt/foreign files
        raise ModelError(f"{path}: not a loadable checkpoint ({type(error).__name__}); check the file") from None
    if not isinstance(payload, dict):
        raise ModelError(f"{path}: not a deconstruct checkpoint (expected a dict)")
    return payload


def is_project_checkpoint(payload: dict[str, Any]) -> bool:
    """True when ``payload`` has this project's checkpoint keys."""
    return all(key in payload for key in REQUIRED_KEYS)


def float32_state(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Cast floating tensors of a (possibly float16) state dict to float32."""
    return {k: (v.float() if v.is_floating_point() else v) for k, v in state_dict.items()}


def sha256_of(path: str | os.PathLike) -> str:
    """Hex sha256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
