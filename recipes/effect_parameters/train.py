"""Fine-tune the parameter head of a trained analysis network (classifier trunk frozen); export a checkpoint.

The network, data and feature settings are those of the effect classifier recipe; this recipe starts from its
checkpoint (``model.init_from``) and trains only the parts named in ``train.trainable`` with the parameter loss
(``train.class_weight: 0``), for example on more data or with a larger ``param_weight``. Thresholds are re-tuned
on the validation part, as in the classifier recipe.

    python recipes/effect_parameters/train.py recipes/effect_parameters/default.yaml --out runs/analysis-params \\
        model.init_from=deconstruct/models/weights/analysis-effect-cnn.pt
"""

from __future__ import annotations

from deconstruct.train.analysis import train
from deconstruct.train.config import recipe_run


def main() -> None:
    run = recipe_run(__doc__)
    if not run.config["model"].get("init_from"):
        run.parser.error("set model.init_from to the analysis checkpoint whose parameter head is fine-tuned")
    print(f"exported {train(run.config, run.out, commit=run.commit, progress=True)}")


if __name__ == "__main__":
    main()
