"""The checkpoint format: ``{name, config, state_dict, versions, metrics, tensors_sha256}``.

Checkpoints hold only tensors and plain Python values, so they load with ``torch.load(weights_only=True)``;
state dicts load with ``strict=True``. No classes are pickled and no training framework is imported.

``tensors_sha256`` is the sha256 of the state dict's tensors (:func:`tensors_sha256`: every key, dtype, shape and
the raw bytes, in key order), written by :func:`save_checkpoint` and verified by :func:`load_checkpoint`, so a
damaged file (a flipped bit in a weight) is refused even when it is a user's own file that no registry hash
covers. Checkpoints written before the field existed load without the check.
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
CHECKSUM_KEY = "tensors_sha256"


def tensors_sha256(state_dict: dict[str, torch.Tensor]) -> str:
    """sha256 (hex) of a state dict: each key, dtype, shape and the tensor's raw bytes, in sorted key order."""
    digest = hashlib.sha256()
    for key in sorted(state_dict):
        tensor = state_dict[key]
        if not isinstance(tensor, torch.Tensor):
            raise ModelError(f"state dict entry {key!r} is not a tensor ({type(tensor).__name__})")
        flat = tensor.detach().cpu().contiguous().reshape(-1)
        digest.update(f"{key}\0{flat.dtype}\0{tuple(tensor.shape)}\0".encode())
        digest.update(memoryview(flat.view(torch.uint8).numpy()))
    return digest.hexdigest()


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
               "metrics": metrics or {}, CHECKSUM_KEY: tensors_sha256(tensors)}
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return path


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Read a checkpoint file (``weights_only=True``) and verify its tensors' checksum when it carries one.

    Raises:
        ModelError: missing, unreadable, not a dict, or its tensors do not match their checksum.
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
    expected = payload.get(CHECKSUM_KEY)
    if expected is not None:
        state = payload.get("state_dict")
        if not isinstance(state, dict) or tensors_sha256(state) != expected:
            raise ModelError(f"{path}: its weights fail their checksum; the file is damaged, get it again")
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
