"""One registry for every stage's weights.

A model is found, in this order, as: a path to a checkpoint file; a name shipped inside the package
(``deconstruct/models/weights/index.json``, checked against its sha256); a name in the user cache directory
``$DECONSTRUCT_CACHE`` (``<name>.pt``). Published third-party weights load from a local file: torchaudio's
HDemucs MUSDB-HQ state dicts are recognised by their keys and wrapped in this project's checkpoint format.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from deconstruct.errors import ModelError
from deconstruct.models.checkpoint import float32_state, is_project_checkpoint, load_checkpoint, sha256_of

WEIGHTS_DIR = Path(__file__).with_name("weights")
INDEX_FILE = WEIGHTS_DIR / "index.json"
CACHE_ENV = "DECONSTRUCT_CACHE"
HDEMUCS_SOURCES = ["drums", "bass", "other", "vocals"]  # torchaudio's MUSDB-HQ bundle order


@dataclass(frozen=True)
class ResolvedModel:
    """A checkpoint found by the registry.

    Attributes:
        name: the model's name.
        config: its architecture/data config.
        state_dict: float32 weights.
        metrics: measured metrics shipped with it.
        sha256: hash of the file it came from.
        source: ``shipped``, ``cache`` or the file path.
    """

    name: str
    config: dict[str, Any]
    state_dict: dict[str, Any]
    metrics: dict[str, Any]
    sha256: str
    source: str


@lru_cache(maxsize=1)
def shipped_index() -> dict[str, dict[str, Any]]:
    """The shipped models: name → {file, sha256, stage, default, description, metrics, headline, provenance}.

    Written only by ``recipes/ship.py``; a built-in model (no weights) has ``file: null`` and ``builtin: true``.
    """
    if not INDEX_FILE.is_file():
        return {}
    return json.loads(INDEX_FILE.read_text())["models"]


def default_model(stage: str) -> str:
    """Name of the shipped default for ``stage``."""
    for name, entry in shipped_index().items():
        if entry["stage"] == stage and entry.get("default"):
            return name
    raise ModelError(f"no shipped default model for the {stage} stage; pass --model PATH to a checkpoint")


def _from_payload(payload: dict[str, Any], stage: str, path: Path, source: str) -> ResolvedModel:
    if is_project_checkpoint(payload):
        config = payload["config"]
        if config.get("stage", stage) != stage:
            raise ModelError(f"{path}: a {config.get('stage')} model, but the {stage} stage needs one of its own")
        return ResolvedModel(payload["name"], config, float32_state(payload["state_dict"]),
                             payload.get("metrics", {}), sha256_of(path), source)
    if stage == "separation" and any(key.startswith("freq_encoder.") for key in payload):
        from deconstruct.models.hdemucs_shapes import hdemucs_kwargs

        count, kwargs = hdemucs_kwargs(payload)  # any size, read off the tensor shapes
        stems = HDEMUCS_SOURCES if count == 4 else [f"source_{index + 1}" for index in range(count)]
        config = {"stage": "separation", "architecture": "hdemucs", "stems": stems,
                  "channels": kwargs["audio_channels"], "sample_rate": 44100, "arch_kwargs": {"size": None, **kwargs}}
        state = {f"model.{key}": value for key, value in payload.items()}
        return ResolvedModel(path.stem, config, float32_state(state), {}, sha256_of(path), source)
    raise ModelError(f"{path}: not a deconstruct checkpoint nor a recognised published state dict")


def resolve(stage: str, model: str | os.PathLike | None = None) -> ResolvedModel:
    """Find and load a model's checkpoint.

    Args:
        stage: ``separation``, ``analysis``, ``removal``, ...
        model: a name, a path, or ``None`` for the stage's shipped default.

    Raises:
        ModelError: unknown name, missing or corrupt file, checksum mismatch, wrong stage.
    """
    model = default_model(stage) if model is None else model
    path = Path(model)
    if path.suffix in (".pt", ".pth", ".ckpt") or path.exists():
        return _from_payload(load_checkpoint(path), stage, path, str(path))
    name = str(model)
    entry = shipped_index().get(name)
    if entry is not None and entry.get("builtin"):
        raise ModelError(f"{name!r} is built into the {entry['stage']} stage and has no checkpoint")
    if entry is not None:
        file = WEIGHTS_DIR / entry["file"]
        if not file.is_file():
            raise ModelError(f"shipped model {name!r} is missing its file {file.name}; reinstall deconstruct")
        if sha256_of(file) != entry["sha256"]:
            raise ModelError(f"shipped model {name!r} fails its sha256 check; reinstall deconstruct")
        return _from_payload(load_checkpoint(file), stage, file, "shipped")
    cache = os.environ.get(CACHE_ENV)
    if cache and (Path(cache) / f"{name}.pt").is_file():
        file = Path(cache) / f"{name}.pt"
        return _from_payload(load_checkpoint(file), stage, file, "cache")
    known = ", ".join(sorted(n for n, e in shipped_index().items() if e["stage"] == stage)) or "none"
    raise ModelError(f"unknown {stage} model {name!r}; shipped: {known}; or pass a checkpoint path")


def _at(metrics: Any, path: str) -> Any:
    """The value at a dotted ``path`` in nested dicts; a key may itself hold dots (the longest match wins)."""
    if path == "":
        return metrics
    if not isinstance(metrics, dict):
        return None
    for key in sorted((k for k in metrics if path == k or path.startswith(f"{k}.")), key=len, reverse=True):
        found = _at(metrics[key], path[len(key) + 1:])
        if found is not None:
            return found
    return None


def headline(name: str) -> dict[str, Any]:
    """A shipped model's headline: each label of its index entry with the value at its path in the metrics file.

    Values come only from ``<name>.metrics.json`` (written by ``recipes/ship.py`` and the suites' ``--store``);
    a path with no value there reads ``"not measured"``.
    """
    entry = shipped_index()[name]
    file = WEIGHTS_DIR / entry.get("metrics", f"{name}.metrics.json")
    metrics = json.loads(file.read_text()) if file.is_file() else {}
    values = {}
    for label, path in entry.get("headline", {}).items():
        value = _at(metrics, path)
        values[label] = round(value, 2) if isinstance(value, float) else ("not measured" if value is None else value)
    return values


def list_models() -> list[dict[str, Any]]:
    """Rows describing every shipped (or built-in) and cached model with its headline metrics."""
    rows = [{"name": name, "stage": entry["stage"], "default": bool(entry.get("default")),
             "source": "built-in" if entry.get("builtin") else "shipped",
             "description": entry.get("description", ""), "metrics": headline(name)}
            for name, entry in shipped_index().items()]
    cache = os.environ.get(CACHE_ENV)
    if cache and Path(cache).is_dir():
        rows += [{"name": file.stem, "stage": "?", "default": False, "source": "cache", "description": str(file),
                  "metrics": {}} for file in sorted(Path(cache).glob("*.pt"))]
    return rows
