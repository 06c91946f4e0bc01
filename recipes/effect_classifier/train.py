"""Train the effect analysis network (classifier and parameter head) from one YAML config; export a checkpoint.

    python recipes/effect_classifier/train.py recipes/effect_classifier/smoke.yaml --out runs/smoke
    python recipes/effect_classifier/train.py recipes/effect_classifier/default.yaml --out runs/analysis
    python recipes/effect_classifier/train.py recipes/effect_classifier/default.yaml --out runs/analysis \\
        --shard train/3          # only render that feature-bank shard (run several in parallel), then exit
"""

from __future__ import annotations

import argparse
import subprocess
from pathlib import Path

import yaml

from deconstruct.train.analysis import bank_root, build_shard, shard_path, train
from deconstruct.train.config import apply_overrides


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config", type=Path, help="YAML config (smoke.yaml, default.yaml, full.yaml)")
    parser.add_argument("--out", type=Path, required=True, help="run folder (logs, feature bank, checkpoint)")
    parser.add_argument("--shard", help="PART/INDEX: render that feature-bank shard only (train/0, valid/0, ...)")
    parser.add_argument("overrides", nargs="*", help="dotted overrides, e.g. train.max_steps=100")
    args = parser.parse_intermixed_args()
    config = apply_overrides(yaml.safe_load(args.config.read_text()), args.overrides)
    if args.shard:
        part, index = args.shard.split("/")
        path = shard_path(config, bank_root(config, args.out), part, int(index))
        print(f"wrote {build_shard(config, part, int(index), path, progress=True)}")
        return
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip() or "unknown"
    print(f"exported {train(config, args.out, commit=commit, progress=True)}")


if __name__ == "__main__":
    main()
