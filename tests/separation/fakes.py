"""Tiny random-weight models in each published format, written into a test folder (seconds to build, no network)."""

from __future__ import annotations

import fractions
import hashlib
import io
import json
from pathlib import Path

import torch

SIX = ["drums", "bass", "other", "vocals", "guitar", "piano"]


def tiny_htdemucs(sources: list[str] = SIX, seed: int = 0):
    """A 6-source HTDemucs small enough for a test (a few thousand weights, 1.5 s segment)."""
    from demucs.htdemucs import HTDemucs

    torch.manual_seed(seed)
    return HTDemucs(sources=list(sources), channels=4, depth=4, t_layers=1, t_heads=2, nfft=2048,
                    segment=fractions.Fraction(3, 2), bottom_channels=0, dconv_mode=0).eval()


def th_package(model) -> dict:
    args, kwargs = model._init_args_kwargs
    return {"klass": type(model), "args": args, "kwargs": kwargs,
            "state": {key: value.half() for key, value in model.state_dict().items()}, "training_args": {"seed": 0}}


def write_th(folder: Path, signature: str, package) -> Path:
    """Write ``<signature>-<sha256 prefix>.th`` as demucs's ``save_with_checksum`` does."""
    buffer = io.BytesIO()
    torch.save(package, buffer)
    checksum = hashlib.sha256(buffer.getvalue()).hexdigest()[:8]
    path = folder / f"{signature}-{checksum}.th"
    path.write_bytes(buffer.getvalue())
    return path


def demucs_repo(folder: Path, name: str = "tiny6s", signature: str = "0123abcd") -> Path:
    """A local demucs model folder: one 6-source HTDemucs ``.th`` and the bag ``<name>.yaml`` naming it."""
    folder.mkdir(parents=True, exist_ok=True)
    write_th(folder, signature, th_package(tiny_htdemucs()))
    (folder / f"{name}.yaml").write_text(f"models: ['{signature}']\n")
    return folder


def write_safetensors(path: Path, model) -> Path:
    """A demucs hub ``.safetensors`` file: tensors plus class name and JSON init arguments in the metadata."""
    from safetensors.torch import save_file

    args, kwargs = model._init_args_kwargs

    def encode(value):
        if isinstance(value, fractions.Fraction):
            return {"_type": "fraction", "numerator": value.numerator, "denominator": value.denominator}
        return value

    metadata = {"klass": f"{type(model).__module__}.{type(model).__name__}", "args": json.dumps(list(args)),
                "kwargs": json.dumps({key: encode(value) for key, value in kwargs.items()})}
    save_file({key: value.contiguous() for key, value in model.state_dict().items()}, str(path), metadata=metadata)
    return path


class Exploit:
    """Unpickling this runs ``marker.touch()``: what a weights-only load must refuse."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def malicious_repo(folder: Path, marker: Path, name: str = "evil") -> Path:
    """A demucs folder whose only model file runs code when freely unpickled."""
    folder.mkdir(parents=True, exist_ok=True)
    package = th_package(tiny_htdemucs())
    package["training_args"] = Exploit(marker)
    write_th(folder, "deadbeef", package)
    (folder / f"{name}.yaml").write_text("models: ['deadbeef']\n")
    return folder
