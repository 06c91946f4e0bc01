"""Train the effect analysis network (classifier and parameter head) from one YAML config; export a checkpoint.

    python recipes/effect_classifier/train.py recipes/effect_classifier/smoke.yaml --out runs/smoke
    python recipes/effect_classifier/train.py recipes/effect_classifier/default.yaml --out runs/analysis
    python recipes/effect_classifier/train.py recipes/effect_classifier/default.yaml --out runs/analysis \\
        --shard train/3          # only render that feature-bank shard (run several in parallel), then exit
"""

from __future__ import annotations

import argparse

from deconstruct.train.analysis import bank_root, build_shard, shard_path, train
from deconstruct.train.config import recipe_run


def add_shard(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--shard", help="PART/INDEX: render that feature-bank shard only (train/0, valid/0, ...)")


def main() -> None:
    run = recipe_run(__doc__, add_shard)
    if run.args.shard:
        part, index = run.args.shard.split("/")
        path = shard_path(run.config, bank_root(run.config, run.out), part, int(index))
        print(f"wrote {build_shard(run.config, part, int(index), path, progress=True)}")
        return
    print(f"exported {train(run.config, run.out, commit=run.commit, progress=True)}")


if __name__ == "__main__":
    main()
