"""Fit the blind compressor estimator and write its JSON (``--install`` also copies it beside
``deconstruct/removal/blind.py``, where the remover finds it).

    python recipes/blind_estimation/train.py recipes/blind_estimation/default.yaml --out runs/blind --install
"""

from __future__ import annotations

import json
import shutil

from deconstruct.train.config import recipe_run


def main() -> None:
    run = recipe_run(__doc__, lambda parser: parser.add_argument(
        "--install", action="store_true", help="copy the result to deconstruct/removal/blind_compressor.json"))
    from deconstruct.removal.blind import ESTIMATOR_FILE
    from deconstruct.train.blind import train_estimator

    state = train_estimator(run.config)
    state["training"]["commit"] = run.commit
    run.out.mkdir(parents=True, exist_ok=True)
    path = run.out / run.config["output"]["export"]
    path.write_text(json.dumps(state) + "\n")
    print(json.dumps({"gate_ratio": state["gate_ratio"], "validation": state["validation"]}, indent=1))
    if run.args.install:
        shutil.copyfile(path, ESTIMATOR_FILE)
        print(f"installed {ESTIMATOR_FILE}")


if __name__ == "__main__":
    main()
