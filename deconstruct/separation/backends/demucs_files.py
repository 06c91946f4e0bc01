"""Safe reading of demucs model files: legacy ``.th`` pickles and hub ``.safetensors``, and local model folders.

demucs 4.1 loads its published weights two ways: the legacy ``<sig>-<checksum>.th`` packages (a pickle holding the
model class, its init arguments and its state) and the hub's ``<sig>.safetensors`` files (tensors plus the class
name and JSON init arguments in the metadata). Both name a class to build, so both are read here against an
allow-list of demucs's model classes: ``.th`` files with ``torch.load(weights_only=True)`` inside
``torch.serialization.safe_globals`` (never a free unpickle), ``.safetensors`` files by checking the class name
before importing it. demucs's own checksum check (the hash prefix in a ``.th`` file name) is kept.

A local folder in demucs's repository layout holds ``<sig>[-<checksum>].th`` (or ``<sig>.safetensors``) files and
bag ``<name>.yaml`` files (``models: [sig, ...]``, optional ``weights`` and ``segment``). Any signature or bag name
in the folder is accepted.
"""

from __future__ import annotations

import fractions
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from deconstruct.errors import ModelError

ALLOWED_CLASSES = ("demucs.htdemucs.HTDemucs", "demucs.hdemucs.HDemucs", "demucs.demucs.Demucs")


def allowed_classes() -> dict[str, type]:
    """demucs's model classes by dotted name (the only classes a model file may name)."""
    from demucs.demucs import Demucs
    from demucs.hdemucs import HDemucs
    from demucs.htdemucs import HTDemucs

    return {f"{cls.__module__}.{cls.__name__}": cls for cls in (HTDemucs, HDemucs, Demucs)}


def _build(klass: Any, args: Any, kwargs: Any, state: Any, origin: Path) -> torch.nn.Module:
    from demucs.states import load_model

    if klass not in allowed_classes().values():
        raise ModelError(f"{origin}: names the class {klass!r}, which is not a demucs model class; refused")
    if not isinstance(state, dict) or state.get("__quantized"):
        raise ModelError(f"{origin}: a diffq-quantized demucs model; use an unquantized one (e.g. mdx_extra, not "
                         "mdx_extra_q)")
    try:
        model = load_model({"klass": klass, "args": list(args), "kwargs": dict(kwargs), "state": state})
    except Exception as error:  # wrong shapes, missing keys: a file that does not fit its own class
        raise ModelError(f"{origin}: its weights do not fit {klass.__name__} ({type(error).__name__}: "
                         f"{str(error).splitlines()[0][:160]})") from None
    return model.eval()


def load_th(path: Path) -> torch.nn.Module:
    """Build the model in a legacy demucs ``.th`` package, unpickled with ``weights_only=True`` and the allow-list.

    Raises:
        ModelError: unreadable file, a pickle naming anything outside the allow-list, weights that do not fit.
    """
    safe = [*allowed_classes().values(), fractions.Fraction]
    try:
        with torch.serialization.safe_globals(safe):
            package = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        named = re.search(r"GLOBAL (\S+)", str(error))
        why = f"it names {named.group(1)}, which is not a demucs model class or argument type" if named else \
            type(error).__name__
        raise ModelError(f"{path}: refused to load: not a plain demucs model package ({why})") from None
    if not isinstance(package, dict) or not {"klass", "args", "kwargs", "state"} <= set(package):
        raise ModelError(f"{path}: not a demucs model package (expected klass, args, kwargs and state)")
    return _build(package["klass"], package["args"], package["kwargs"], package["state"], path)


def load_safetensors(path: Path) -> torch.nn.Module:
    """Build the model in a demucs hub ``.safetensors`` file (class name checked before any import).

    Raises:
        ModelError: unreadable file, a class outside the allow-list, a packed (quantized) state, bad weights.
    """
    from demucs.hf import _decode_json
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}
        name = metadata["klass"]
        args, kwargs = _decode_json(json.loads(metadata["args"])), _decode_json(json.loads(metadata["kwargs"]))
    except Exception as error:
        raise ModelError(f"{path}: not a demucs safetensors model ({type(error).__name__}); check the file") from None
    classes = allowed_classes()
    if name not in classes:
        raise ModelError(f"{path}: names the class {name!r}, which is not a demucs model class; refused")
    if "structure" in metadata:
        raise ModelError(f"{path}: a packed (quantized) demucs model; use an unquantized one")
    return _build(classes[name], args, kwargs, tensors, path)


def check_checksum(path: Path, checksum: str) -> None:
    """demucs's check: the file's sha256 starts with the checksum in its name."""
    from demucs.repo import ModelLoadingError, check_checksum as demucs_check

    try:
        demucs_check(path, checksum)
    except ModelLoadingError:
        raise ModelError(f"{path}: fails its checksum (the sha256 prefix in its name); the file is damaged or "
                         "altered; download it again") from None


def load_model_file(path: Path) -> torch.nn.Module:
    """Load one ``.th`` (checksum from its name, when it has one) or ``.safetensors`` model file."""
    if path.suffix == ".th":
        if "-" in path.stem:
            check_checksum(path, path.stem.rsplit("-", 1)[1])
        return load_th(path)
    return load_safetensors(path)


@dataclass(frozen=True)
class BagSpec:
    """A bag of models: signatures, per-source weights, segment (seconds) as demucs's bag ``.yaml`` gives them."""

    signatures: list[str]
    weights: list[list[float]] | None = None
    segment: float | None = None

    @classmethod
    def read(cls, path: Path) -> "BagSpec":
        import yaml

        try:
            data = yaml.safe_load(path.read_text())
            signatures = [str(sig) for sig in data["models"]]
        except Exception as error:
            raise ModelError(f"{path}: not a demucs bag file (needs 'models: [signature, ...]'; "
                             f"{type(error).__name__})") from None
        return cls(signatures, data.get("weights"), data.get("segment"))


class LocalModelFolder:
    """A folder in demucs's repository layout (see the module docstring)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise ModelError(f"{self.root}: no such model folder; give --model-repo a folder holding demucs "
                             "<sig>-<checksum>.th files and bag .yaml files")
        self.files: dict[str, Path] = {}
        for file in sorted(self.root.iterdir()):
            if file.suffix in (".th", ".safetensors"):
                signature = file.stem.rsplit("-", 1)[0] if file.suffix == ".th" else file.stem
                if signature in self.files:
                    raise ModelError(f"{self.root}: two files for the signature {signature}; keep one")
                self.files[signature] = file
        self.bags = {file.stem: file for file in sorted(self.root.glob("*.yaml"))}

    def names(self) -> list[str]:
        """Bag names and single signatures in the folder."""
        return sorted({*self.bags, *self.files})

    def has(self, name: str) -> bool:
        return name in self.bags or name in self.files

    def bag(self, name: str) -> BagSpec:
        """The bag ``name`` (a single signature is a bag of one)."""
        if name in self.bags:
            return BagSpec.read(self.bags[name])
        if name in self.files:
            return BagSpec([name])
        raise ModelError(f"no model {name!r} in {self.root} (it holds: {', '.join(self.names()) or 'nothing'}); "
                         "put <name>.yaml and its <sig>-<checksum>.th files there")

    def paths(self, name: str) -> list[Path]:
        """The model files bag ``name`` needs, in order (missing ones raise)."""
        spec = self.bag(name)
        missing = [sig for sig in spec.signatures if sig not in self.files]
        if missing:
            raise ModelError(f"{self.bags.get(name, self.root)}: needs model file(s) {', '.join(missing)} that are "
                             f"not in {self.root}")
        return [self.files[sig] for sig in spec.signatures]


def build_bag(spec: BagSpec, paths: list[Path]) -> torch.nn.Module:
    """demucs's ``BagOfModels`` over the loaded files (or the single model when the bag holds one)."""
    from demucs.apply import BagOfModels

    models = [load_model_file(path) for path in paths]
    if len(models) == 1 and spec.weights is None and spec.segment is None:
        return models[0]
    try:
        return BagOfModels(models, spec.weights, spec.segment).eval()
    except AssertionError:
        raise ModelError("the models of the bag disagree on sources, sample rate or channels; check its .yaml") \
            from None
