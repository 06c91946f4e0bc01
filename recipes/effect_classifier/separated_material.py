"""Build the separated-stem analysis material of a config (songs → shipped separator → labelled windows), shard by
shard into its cache folder; shards already there are kept, so an interrupted build resumes.

    python recipes/effect_classifier/separated_material.py recipes/effect_classifier/separated.yaml
    python recipes/effect_classifier/separated_material.py recipes/effect_classifier/separated.yaml --part train/0-11
"""

from __future__ import annotations

import argparse
import time

import torch

from deconstruct.data.datasets.separated import MaterialSpec, build_material_shard, material_shard_path
from deconstruct.train.config import recipe_run


def add_part(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--part", action="append",
                        help="PART or PART/FIRST-LAST: the shards to build (default: every shard of valid and train)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")


def shards(config: dict, selection: list[str] | None) -> list[tuple[str, int]]:
    """``(part, shard)`` pairs named by ``--part`` arguments (``valid``, ``train/3``, ``train/0-11``)."""
    chosen = []
    for item in selection or ["valid", "train"]:
        part, _, span = item.partition("/")
        count = int(MaterialSpec.from_config(config, part).shards)
        first, _, last = span.partition("-")
        low = int(first) if first else 0
        high = int(last) if last else (low if first else count - 1)
        chosen += [(part, k) for k in range(low, min(high, count - 1) + 1)]
    return chosen


def main() -> None:
    run = recipe_run(__doc__, add_part)
    torch.set_num_threads(run.args.threads)
    root = run.config["data"]["separated"].get("cache_dir", "cache/separated-analysis")
    for part, shard in shards(run.config, run.args.part):
        path = material_shard_path(run.config, root, part, shard)
        if path.is_file():
            continue
        started = time.time()
        build_material_shard(run.config, part, shard, path, progress=True)
        print(f"wrote {path} ({time.time() - started:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
