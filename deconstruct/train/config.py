"""Config helpers shared by every recipe: overrides, a schema per recipe that rejects unknown keys, and data
folders resolved against a data root.

Schemas are nested dicts of the keys a recipe reads: a dict value lists the sub-keys, :data:`ANY` accepts any
content (network arguments, feature settings), a one-element list ``[schema]`` a list of such entries. Keys listed
in :data:`REQUIRED` must be present (every run is capped in wall-clock time by ``train.max_minutes``).

Data folders (keys ``root`` and ``folders``) given as relative paths that do not exist from the working folder are
looked up under the data root: ``data_root`` of the config, else ``$DECONSTRUCT_DATA_ROOT``, else the shared data
folder (``$DECONSTRUCT_SHARED_DATA``, else ``../shared/data``). A folder found nowhere is a one-line error.
"""

from __future__ import annotations

import argparse
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import yaml

ANY: Any = object()
"""Schema value: any content is accepted under this key."""

DATA_ROOT_ENV = "DECONSTRUCT_DATA_ROOT"

_TRAINER = {key: None for key in ("accelerator", "devices", "strategy", "precision", "num_workers", "threads",
                                  "max_steps", "max_minutes", "lr", "weight_decay", "batch_size", "grad_clip",
                                  "log_every", "checkpoint_every", "val_every", "progress_bar", "warmup_steps")}
_OUTPUT = {"export": None, "name": None, "half": None}
_ANALYSIS_PART = {"items": None, "shards": None, "seed": None,
                  "recordings": {"share": None, "folders": None, "include": None, "exclude": None},
                  "synthetic": {"items": None, "duration_s": None, "stems": None, "options": ANY}}
_ANALYSIS = {
    "name": None, "seed": None, "data_root": None, "features": ANY, "calibration": ANY,
    "model": {"architecture": None, "arch_kwargs": ANY, "hop_s": None, "init_from": None},
    "data": {"cache": None, "render_rates": None, "max_effects": None, "min_effects": None, "level_db": None,
             "convolution_probability": None, "rir_files": None, "bank_dir": None, "excerpt_s": None,
             "separated": ANY, "train": _ANALYSIS_PART, "valid": _ANALYSIS_PART},
    "train": {**_TRAINER, "param_weight": None, "class_weight": None, "trainable": None},
    "output": _OUTPUT,
}
_REMOVAL_EFFECT = {"dsp": ANY, "note": None, "net": {"architecture": None, "arch_kwargs": ANY},
                   "train": _TRAINER, "data": {"max_effects": None, "remove_probability": None,
                                               "convolution_probability": None, "duration_s": None}}
_REMOVAL = {
    "name": None, "seed": None, "sample_rate": None, "threads": None, "data_root": None,
    "data": {"duration_s": None, "max_effects": None, "remove_probability": None, "convolution_probability": None,
             "level_db": None, "recordings": None, "folders": None, "valid_items": None,
             "multitrack": {"seed": None, "num_items": None, "duration_s": None, "probability": None},
             "rooms": {"synthetic": None, "seed": None}},
    "effects": {name: _REMOVAL_EFFECT for name in ("eq", "compressor", "distortion", "chorus", "delay", "reverb",
                                                   "limiter")},
    "loss": {"sdr_weight": None, "stft_weight": None, "l1_weight": None, "sdr_cap_db": None},
    "train": _TRAINER, "guard": {"min_gain_db": None, "max_harm_db": None}, "output": _OUTPUT,
}
_SEPARATION_SOURCE = {"kind": None, "root": None, "seed": None, "num_items": None, "duration_s": None,
                      "cache_dir": None, "cache_workers": None, "subset": None, "options": ANY}
_SEPARATION = {
    "name": None, "seed": None, "init_from": None, "data_root": None,
    "model": {"architecture": None, "stems": None, "channels": None, "sample_rate": None, "arch_kwargs": ANY},
    "data": {"train": [_SEPARATION_SOURCE], "valid": [_SEPARATION_SOURCE], "segment_s": None,
             "augment": {"gain_swap_flip": None, "remix": None, "effects": ANY}},
    "train": {**_TRAINER, "valid_items": None}, "output": _OUTPUT,
}
_BLIND = {"name": None, "seed": None, "data_root": None, "gates": None, "shrinks": None, "prior_weights": None,
          "max_harm_db": None,
          "data": {"train_items": None, "valid_items": None, "holds_share": None, "duration_s": None,
                   "level_db": None},
          "model": {"hidden": None}, "train": {"steps": None, "lr": None, "max_minutes": None}, "output": _OUTPUT}
SCHEMAS: dict[str, dict[str, Any]] = {"blind_estimation": _BLIND, "effect_classifier": _ANALYSIS,
                                      "effect_parameters": _ANALYSIS, "effect_removal": _REMOVAL,
                                      "separation": _SEPARATION}
"""The schema of each recipe folder's configs."""

REQUIRED: tuple[str, ...] = ("name", "train.max_minutes", "output.export")
"""Keys every recipe config must have."""


def check_config(config: dict[str, Any], schema: dict[str, Any], where: str = "") -> None:
    """Raise ``ValueError`` naming the first key ``schema`` does not know (with the known ones) or a missing
    :data:`REQUIRED` key."""
    if not isinstance(config, dict):
        raise ValueError(f"{where or 'the config'} must be a mapping, got {type(config).__name__}")
    for key, value in config.items():
        if key not in schema:
            raise ValueError(f"unknown config key {where + str(key)!r}; known here: {', '.join(sorted(schema))}")
        sub = schema[key]
        if sub is ANY or sub is None or value is None:
            continue
        if isinstance(sub, list):
            for index, item in enumerate(value if isinstance(value, list) else [value]):
                check_config(item, sub[0], f"{where}{key}.{index}.")
        elif isinstance(value, dict):
            check_config(value, sub, f"{where}{key}.")
    if not where:
        for dotted in REQUIRED:
            node: Any = config
            for part in dotted.split("."):
                node = node.get(part) if isinstance(node, dict) else None
            if node is None:
                raise ValueError(f"config key {dotted!r} is required (every run is capped in time and exported)")


def data_root(config: dict[str, Any]) -> Path | None:
    """The folder relative data paths are looked up in (see the module docstring), or ``None``."""
    configured = config.get("data_root") or os.environ.get(DATA_ROOT_ENV)
    if configured:
        return Path(configured).expanduser()
    from deconstruct.data.material.recordings import shared_data_root

    return shared_data_root()


def resolve_data_paths(config: dict[str, Any]) -> dict[str, Any]:
    """Resolve every ``root`` and ``folders`` entry of the config in place (see the module docstring).

    Raises:
        deconstruct.errors.InputError: a data folder that exists nowhere.
    """
    from deconstruct.errors import InputError

    base = data_root(config)

    def find(path: str, key: str) -> str:
        candidate = Path(path).expanduser()
        if candidate.exists():
            return str(candidate)
        if not candidate.is_absolute() and base is not None and (base / candidate).exists():
            return str(base / candidate)
        raise InputError(f"data folder {path!r} ({key}) not found here or under the data root {base}; set data_root "
                         f"in the config or {DATA_ROOT_ENV} to the folder holding it")

    def walk(node: Any, dotted: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "root" and isinstance(value, str):
                    node[key] = find(value, dotted + key)
                elif key == "folders" and isinstance(value, list):
                    node[key] = [find(str(v), dotted + key) for v in value]
                else:
                    walk(value, f"{dotted}{key}.")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, f"{dotted}{index}.")

    walk(config.get("data", {}), "data.")
    return config


def apply_overrides(config: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``a.b.c=value`` overrides (values parsed as YAML; numbers index lists) to a nested config, in place.

    Raises:
        ValueError: an override without ``=``.
    """
    for item in overrides:
        if "=" not in item:
            raise ValueError(f"override {item!r} must look like key.sub=value")
        dotted, raw = item.split("=", 1)
        node: Any = config
        *parents, leaf = dotted.split(".")
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node.setdefault(key, {})
        if isinstance(node, list):
            node[int(leaf)] = yaml.safe_load(raw)
        else:
            node[leaf] = yaml.safe_load(raw)
    return config


@dataclass(frozen=True)
class RecipeRun:
    """What a recipe script was asked to do: the config (overrides applied), the run folder, the code version."""

    config: dict[str, Any]
    out: Path
    commit: str
    args: argparse.Namespace
    parser: argparse.ArgumentParser


def recipe_run(doc: str, add_arguments: Callable[[argparse.ArgumentParser], None] | None = None,
               argv: list[str] | None = None, schema: str | None = None) -> RecipeRun:
    """Parse a recipe's command line: ``CONFIG.yaml --out RUN_DIR [key.sub=value ...]`` plus recipe options.

    The config (overrides applied) is checked against its recipe's schema (``schema``, else the name of the config
    file's folder when :data:`SCHEMAS` has it) and its data folders are resolved; a mistake exits with a one-line
    message.

    Args:
        doc: the recipe's docstring (its ``--help``).
        add_arguments: adds the recipe's own options.
        argv: arguments (default: ``sys.argv[1:]``).
        schema: the :data:`SCHEMAS` entry to check against.
    """
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config", type=Path, help="YAML config (smoke.yaml, default.yaml, full.yaml)")
    parser.add_argument("--out", type=Path, required=True, help="run folder (logs and exported checkpoint)")
    if add_arguments:
        add_arguments(parser)
    parser.add_argument("overrides", nargs="*", help="dotted overrides, e.g. train.max_steps=100")
    args = parser.parse_intermixed_args(argv)
    if not args.config.is_file():
        parser.error(f"config {args.config} not found")
    try:
        config = apply_overrides(yaml.safe_load(args.config.read_text()), args.overrides)
        chosen = SCHEMAS.get(schema or args.config.resolve().parent.name)
        if chosen is not None:
            check_config(config, chosen)
        resolve_data_paths(config)
    except Exception as error:  # ValueError, InputError, YAML errors: one line, no traceback
        parser.error(f"{args.config}: {error}")
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip() or "unknown"
    return RecipeRun(config, args.out, commit, args, parser)
