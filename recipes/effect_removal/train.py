"""Train the effect-removal networks of one YAML config and export a removal checkpoint.

    python recipes/effect_removal/train.py recipes/effect_removal/smoke.yaml --out runs/removal-smoke
    python recipes/effect_removal/train.py recipes/effect_removal/default.yaml --out runs/removal-default
    python recipes/effect_removal/train.py recipes/effect_removal/full.yaml --out runs/removal-full \
        effects.reverb.train.max_steps=400000
"""

from __future__ import annotations

import argparse
import subprocess
from pathlib import Path

import yaml

from deconstruct.train.config import apply_overrides
from deconstruct.train.removal import train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config", type=Path, help="YAML config (smoke.yaml, default.yaml, full.yaml)")
    parser.add_argument("--out", type=Path, required=True, help="run folder (logs and exported checkpoint)")
    parser.add_argument("overrides", nargs="*", help="dotted overrides, e.g. effects.reverb.train.max_steps=100")
    args = parser.parse_args()
    config = apply_overrides(yaml.safe_load(args.config.read_text()), args.overrides)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip() or "unknown"
    print(f"exported {train(config, args.out, commit=commit)}")


if __name__ == "__main__":
    main()
