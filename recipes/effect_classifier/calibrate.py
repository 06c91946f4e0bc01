"""Calibrate an analysis checkpoint on the held-out separated stems of a config's material (its ``valid`` part):
per-effect calibration, precision thresholds and "unsure" bounds go into a copy of the checkpoint's config.

    python recipes/effect_classifier/calibrate.py recipes/effect_classifier/separated.yaml --out runs/cal \\
        --checkpoint analysis-effect-cnn --export analysis-calibrated.pt [data.separated.wait_for_build=false]

With ``data.separated.wait_for_build=false`` it uses the valid shards already built instead of building the rest.
"""

from __future__ import annotations

import argparse
import json

import torch

from deconstruct.data.datasets.separated import prepare_material
from deconstruct.models.checkpoint import save_checkpoint
from deconstruct.models.effect_nets import build_effect_net
from deconstruct.models.registry import resolve
from deconstruct.train.calibrate import calibrated_config
from deconstruct.train.config import recipe_run


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", required=True, help="analysis model name or checkpoint path")
    parser.add_argument("--export", required=True, help="file name of the calibrated checkpoint (in --out)")
    parser.add_argument("--name", help="model name stored in it (default: the export's stem)")


def main() -> None:
    run = recipe_run(__doc__, add_arguments)
    torch.set_num_threads(int(run.config.get("train", {}).get("threads", 1)))
    model = resolve("analysis", run.args.checkpoint)
    net = build_effect_net(model.config)
    net.load_state_dict(model.state_dict, strict=True)
    section = run.config["data"]["separated"]
    valid = prepare_material(run.config, "valid", section.get("cache_dir", "cache/separated-analysis"), progress=True,
                             build=bool(section.get("wait_for_build", True)))
    update, metrics = calibrated_config(net, valid, run.config.get("calibration"))
    config = {**model.config, **update}
    name = run.args.name or run.args.export.rsplit(".", 1)[0]
    run.out.mkdir(parents=True, exist_ok=True)
    path = save_checkpoint(run.out / run.args.export, name, config, net.state_dict(),
                           {**model.metrics, "separated_validation": metrics, "calibrated_from": model.name})
    print(json.dumps({"thresholds": update["thresholds"], "unsure_below": update["unsure_below"],
                      "held_out": metrics["calibrated@thresholds"]}, indent=1))
    print(f"exported {path}")


if __name__ == "__main__":
    main()
