"""Ship a model as a package default: the one writer of ``deconstruct/models/weights/index.json``.

A shipped model is three things, all written here:
- ``weights/<name>.pt``: the checkpoint, re-saved in the project format (with the checksum of its tensors);
- ``weights/<name>.metrics.json``: the training record the checkpoint carries (its ``metrics``, written by the
  recipe that trained it) plus one section per evaluation suite, written by that suite's ``--store``;
- its entry in ``weights/index.json``: file, sha256, stage, default, description, the metrics file, the headline
  (``--list-models`` shows each label with the value found at its path in the metrics file, so every number shown
  is one a suite measured) and the provenance: recipe, its config, the commit that shipped it.

A model without weights that a stage builds in (the removal stage's ``dsp-only``) is listed with ``--builtin``.

Typical use, after training with a recipe::

    python recipes/ship.py runs/sep/softmask.pt --name softmask-tcn-4stem --stage separation --default \\
        --recipe recipes/separation/default.yaml --half --description "banded soft-mask TCN, 1.2 M params" \\
        --headline "MUSDB18 preview, mean uSDR (dB)=separation_suite.mean_uSDR_db.softmask-tcn-4stem" \\
        --headline "baseline mixture/4 (dB)=separation_suite.mean_uSDR_db.mixture/4"
    python -m eval separation --data ../shared/data/musdb18_music_delta_80s_rock --model softmask-tcn-4stem \\
        --out reports/sep --store                                     # measures, writes the metrics file section

    python recipes/ship.py --builtin dsp-only --stage removal --default --description "..." --headline ...
    python recipes/ship.py --retire old-model                 # index entry, weights and metrics file removed

Headline paths are dotted keys into the metrics file (a key may hold dots or slashes: the longest key that
matches is taken). A label that reports an upper bound (true parameters given, oracle detection) must say so.
``--headline`` replaces the model's whole headline; without it, the existing headline is kept.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from deconstruct.errors import DeconstructError, InputError  # noqa: E402
from deconstruct.files import write_json_atomic  # noqa: E402
from deconstruct.models.checkpoint import load_checkpoint, save_checkpoint, sha256_of  # noqa: E402
from deconstruct.models.registry import INDEX_FILE, WEIGHTS_DIR  # noqa: E402
from eval.store import source_commit  # noqa: E402


def _headline(items: list[str]) -> dict[str, str]:
    headline = {}
    for item in items:
        label, sep, path = item.rpartition("=")
        if not sep or not label or not path:
            raise InputError(f"--headline wants LABEL=PATH.IN.METRICS, got {item!r}")
        headline[label] = path
    return headline


def _relative(path: Path) -> str:
    path = path.resolve()
    return path.relative_to(REPO).as_posix() if path.is_relative_to(REPO) else str(path)


def ship(args: argparse.Namespace) -> dict[str, Any]:
    """Write the weights (unless built in), the metrics file and the index entry. Returns the entry."""
    index = json.loads(INDEX_FILE.read_text()) if INDEX_FILE.is_file() else {"models": {}}
    previous = index["models"].get(args.name, {})
    metrics_name = f"{args.name}.metrics.json"
    metrics_path = WEIGHTS_DIR / metrics_name
    metrics = json.loads(metrics_path.read_text()) if metrics_path.is_file() else {}
    entry: dict[str, Any] = {"stage": args.stage, "default": args.default,
                             "description": args.description or previous.get("description", "")}
    provenance: dict[str, Any] = {"shipped_in_commit": source_commit()}
    if args.builtin:
        entry.update(file=None, builtin=True)
        provenance["code"] = args.code or previous.get("provenance", {}).get("code", "")
    else:
        payload = load_checkpoint(args.checkpoint)
        recipe = args.recipe or previous.get("provenance", {}).get("recipe")
        if recipe is None:
            raise InputError("--recipe is needed: the recipe config that trained this checkpoint")
        target = WEIGHTS_DIR / f"{args.name}.pt"
        save_checkpoint(target, args.name, payload["config"], payload["state_dict"],
                        {key: value for key, value in payload.get("metrics", {}).items() if key not in args.drop},
                        half=args.half)
        carried = {key: value for key, value in payload.get("metrics", {}).items() if key not in args.drop}
        metrics = {**{key: value for key, value in metrics.items() if key not in args.drop}, **carried}
        provenance.update(recipe=recipe, config=payload["config"],
                          trained_in_commit=payload.get("metrics", {}).get("training", {}).get("commit"))
        entry.update(file=target.name, sha256=sha256_of(target))
    write_json_atomic(metrics_path, metrics)
    entry.update(metrics=metrics_name, headline=_headline(args.headline) if args.headline else
                 previous.get("headline", {}), provenance=provenance)
    if args.default:
        for other in index["models"].values():
            if other["stage"] == args.stage:
                other["default"] = False
    index["models"][args.name] = entry
    write_json_atomic(INDEX_FILE, index)
    return entry


def retire(name: str) -> None:
    """Take a model out of the index and delete its weights and metrics file."""
    index = json.loads(INDEX_FILE.read_text())
    entry = index["models"].pop(name, None)
    if entry is None:
        raise InputError(f"{name!r} is not shipped")
    for file in (entry.get("file"), entry.get("metrics", f"{name}.metrics.json")):
        if file:
            (WEIGHTS_DIR / file).unlink(missing_ok=True)
    write_json_atomic(INDEX_FILE, index)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", type=Path, nargs="?", help="the trained checkpoint (not with --builtin)")
    parser.add_argument("--name", help="the model's name (registry key; with --builtin, the built-in's name)")
    parser.add_argument("--builtin", metavar="NAME", help="list a model that a stage builds in (no weights)")
    parser.add_argument("--retire", metavar="NAME", help="take a shipped model out (index entry, weights, metrics)")
    parser.add_argument("--stage", help="separation, analysis or removal")
    parser.add_argument("--default", action="store_true", help="make it the stage's default")
    parser.add_argument("--recipe", help="the recipe config that trained it (recipes/<stage>/<config>.yaml)")
    parser.add_argument("--code", help="with --builtin: the module that implements it")
    parser.add_argument("--headline", action="append", default=[],
                        help="LABEL=PATH: a number --list-models shows, found at PATH in the metrics file")
    parser.add_argument("--description", default="")
    parser.add_argument("--half", action="store_true", help="store floating weights as float16")
    parser.add_argument("--drop", action="append", default=[], metavar="KEY",
                        help="leave this section of the checkpoint's metrics out (numbers no code here reproduces)")
    args = parser.parse_args(argv)
    args.name = args.builtin or args.name
    try:
        if args.retire:
            retire(args.retire)
            print(f"retired {args.retire}")
            return 0
        if not args.stage:
            raise InputError("--stage is needed")
        if not args.name or (args.checkpoint is None) != bool(args.builtin):
            raise InputError("give a checkpoint with --name, or --builtin NAME")
        entry = ship(args)
    except DeconstructError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    print(f"shipped {args.name}: {entry.get('file') or 'built in'}; index {_relative(INDEX_FILE)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
