"""Train the effect-removal networks of one YAML config and export a removal checkpoint.

    python recipes/effect_removal/train.py recipes/effect_removal/smoke.yaml --out runs/removal-smoke
    python recipes/effect_removal/train.py recipes/effect_removal/default.yaml --out runs/removal-default
    python recipes/effect_removal/train.py recipes/effect_removal/full.yaml --out runs/removal-full \
        effects.reverb.train.max_steps=400000
"""

from __future__ import annotations

from deconstruct.train.config import recipe_run
from deconstruct.train.removal import train


def main() -> None:
    run = recipe_run(__doc__)
    print(f"exported {train(run.config, run.out, commit=run.commit)}")


if __name__ == "__main__":
    main()
