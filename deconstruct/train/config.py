"""Config helpers shared by every recipe."""

from __future__ import annotations

import argparse
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import yaml


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
               argv: list[str] | None = None) -> RecipeRun:
    """Parse a recipe's command line: ``CONFIG.yaml --out RUN_DIR [key.sub=value ...]`` plus recipe options.

    Args:
        doc: the recipe's docstring (its ``--help``).
        add_arguments: adds the recipe's own options.
        argv: arguments (default: ``sys.argv[1:]``).
    """
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config", type=Path, help="YAML config (smoke.yaml, default.yaml, full.yaml)")
    parser.add_argument("--out", type=Path, required=True, help="run folder (logs and exported checkpoint)")
    if add_arguments:
        add_arguments(parser)
    parser.add_argument("overrides", nargs="*", help="dotted overrides, e.g. train.max_steps=100")
    args = parser.parse_intermixed_args(argv)
    config = apply_overrides(yaml.safe_load(args.config.read_text()), args.overrides)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip() or "unknown"
    return RecipeRun(config, args.out, commit, args, parser)
