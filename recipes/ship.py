"""Ship a trained checkpoint as a package default: copy it into ``deconstruct/models/weights/``, attach measured
metrics and the training record, and list it in ``weights/index.json`` with its sha256.

    python recipes/ship.py runs/sep/softmask.pt --name softmask-tcn-4stem --stage separation --default \
        --metrics eval_out/metrics.json --headline "musdb_preview_sdr_db=2.1" --description "..."
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from deconstruct.models.checkpoint import load_checkpoint, save_checkpoint, sha256_of
from deconstruct.models.registry import INDEX_FILE, WEIGHTS_DIR


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--name", required=True)
    parser.add_argument("--stage", required=True)
    parser.add_argument("--default", action="store_true", help="make it the stage's default")
    parser.add_argument("--metrics", type=Path, help="JSON of measured metrics to store in the checkpoint")
    parser.add_argument("--headline", action="append", default=[], help="key=value shown by --list-models")
    parser.add_argument("--description", default="")
    parser.add_argument("--half", action="store_true", help="store weights as float16")
    args = parser.parse_args()

    payload = load_checkpoint(args.checkpoint)
    metrics = dict(payload.get("metrics", {}))
    if args.metrics:
        metrics.update(json.loads(args.metrics.read_text()))
    target = WEIGHTS_DIR / f"{args.name}.pt"
    save_checkpoint(target, args.name, payload["config"], payload["state_dict"], metrics, half=args.half)
    (WEIGHTS_DIR / f"{args.name}.metrics.json").write_text(json.dumps(metrics, indent=2, default=str) + "\n")
    index = json.loads(INDEX_FILE.read_text()) if INDEX_FILE.is_file() else {"models": {}}
    if args.default:
        for entry in index["models"].values():
            if entry["stage"] == args.stage:
                entry["default"] = False
    headline = {}
    for item in args.headline:
        key, value = item.split("=", 1)
        headline[key] = value
    index["models"][args.name] = {"file": target.name, "sha256": sha256_of(target), "stage": args.stage,
                                  "default": args.default, "description": args.description, "headline": headline}
    INDEX_FILE.write_text(json.dumps(index, indent=2) + "\n")
    print(f"shipped {target} ({target.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
