"""Fine-tune the parameter head of a trained analysis network (classifier trunk frozen); export a checkpoint.

The network, data and feature settings are those of the effect classifier recipe; this recipe starts from its
checkpoint (``model.init_from``) and trains only the parts named in ``train.trainable`` with the parameter loss
(``train.class_weight: 0``), for example on more data or with a larger ``param_weight``. Thresholds are re-tuned
on the validation part, as in the classifier recipe.

    python recipes/effect_parameters/train.py recipes/effect_parameters/default.yaml --out runs/analysis-params \\
        model.init_from=deconstruct/models/weights/analysis-effect-cnn.pt
"""

from __future__ import annotations

import argparse
import subprocess
from pathlib import Path

import yaml

from deconstruct.train.analysis import train
from deconstruct.train.config import apply_overrides


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config", type=Path, help="YAML config (smoke.yaml, default.yaml, full.yaml)")
    parser.add_argument("--out", type=Path, required=True, help="run folder (logs, feature bank, checkpoint)")
    parser.add_argument("overrides", nargs="*", help="dotted overrides, e.g. model.init_from=PATH")
    args = parser.parse_intermixed_args()
    config = apply_overrides(yaml.safe_load(args.config.read_text()), args.overrides)
    if not config["model"].get("init_from"):
        parser.error("set model.init_from to the analysis checkpoint whose parameter head is fine-tuned")
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip() or "unknown"
    print(f"exported {train(config, args.out, commit=commit, progress=True)}")


if __name__ == "__main__":
    main()
