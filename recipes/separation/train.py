"""Train a separation model from one YAML config and export a deconstruct checkpoint.

    python recipes/separation/train.py recipes/separation/smoke.yaml --out runs/smoke
    python recipes/separation/train.py recipes/separation/full.yaml --out runs/full train.max_steps=200000
"""

from __future__ import annotations

import argparse
import subprocess
from pathlib import Path

import yaml

from deconstruct.train.config import apply_overrides
from deconstruct.train.separation import train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config", type=Path, help="YAML config (smoke.yaml, default.yaml, full.yaml)")
    parser.add_argument("--out", type=Path, required=True, help="run folder (logs and exported checkpoint)")
    parser.add_argument("overrides", nargs="*", help="dotted overrides, e.g. train.max_steps=100")
    args = parser.parse_args()
    config = apply_overrides(yaml.safe_load(args.config.read_text()), args.overrides)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip() or "unknown"
    path = train(config, args.out, commit=commit)
    print(f"exported {path}")


if __name__ == "__main__":
    main()
