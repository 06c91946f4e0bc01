"""Train the effect-removal networks of one YAML config and export a removal checkpoint.

    python recipes/effect_removal/train.py recipes/effect_removal/smoke.yaml --out runs/removal-smoke
    python recipes/effect_removal/train.py recipes/effect_removal/long.yaml --out runs/removal-long \
        --effects reverb,chorus
    python recipes/effect_removal/train.py recipes/effect_removal/full.yaml --out runs/removal-full \
        effects.reverb.train.max_steps=400000

Run the same command again to resume: every network continues from ``<out>/<effect>/checkpoints/last.ckpt``.
"""

from __future__ import annotations

from deconstruct.train.config import recipe_run
from deconstruct.train.removal import train


def main() -> None:
    run = recipe_run(__doc__, lambda parser: parser.add_argument(
        "--effects", default=None, help="comma-separated: train only these effects' networks (default: all)"))
    effects = run.args.effects.split(",") if run.args.effects else None
    exported = train(run.config, run.out, commit=run.commit, effects=effects)
    if exported is not None:
        print(f"exported {exported}")


if __name__ == "__main__":
    main()
