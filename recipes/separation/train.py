"""Train a separation model from one YAML config and export a deconstruct checkpoint.

    python recipes/separation/train.py recipes/separation/smoke.yaml --out runs/smoke
    python recipes/separation/train.py recipes/separation/full.yaml --out runs/full train.max_steps=200000
"""

from __future__ import annotations

from deconstruct.train.config import recipe_run
from deconstruct.train.separation import train


def main() -> None:
    run = recipe_run(__doc__)
    print(f"exported {train(run.config, run.out, commit=run.commit)}")


if __name__ == "__main__":
    main()
