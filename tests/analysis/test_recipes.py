"""The analysis recipes train, export checkpoints the registry loads, and the analyzer runs them."""

from __future__ import annotations

import torch

from deconstruct.analysis import EffectAnalyzer
from deconstruct.analysis.layout import output_names
from deconstruct.audio import Audio
from deconstruct.effects.catalog import EFFECT_NAMES
from deconstruct.models.registry import resolve
from tests.analysis.conftest import recipe_config


def test_smoke_classifier_recipe_exports_a_loadable_checkpoint(smoke_analysis_checkpoint):
    resolved = resolve("analysis", smoke_analysis_checkpoint)
    config = resolved.config
    assert config["stage"] == "analysis" and config["effects"] == list(EFFECT_NAMES)
    assert config["param_names"] == output_names()
    assert set(config["thresholds"]) == set(EFFECT_NAMES)
    assert all(0.0 < t < 1.0 for t in config["thresholds"].values())
    validation = resolved.metrics["validation"]
    assert validation["items"] == 16 and 0.0 <= validation["macro_f1@tuned"] <= 1.0
    assert resolved.metrics["training"]["steps"] == 4


def test_the_trained_checkpoint_analyzes_a_stem(analyzer):
    noise = 0.1 * torch.randn(2, 3 * 22050, generator=torch.Generator().manual_seed(0))
    result = analyzer.analyze(Audio(noise, 22050))
    assert result.detectable and result.windows >= 1
    assert [e.name for e in result] == list(EFFECT_NAMES)
    assert all(0.0 <= e.probability <= 1.0 for e in result)


def test_parameter_recipe_fine_tunes_only_the_regressor(smoke_analysis_checkpoint, tmp_path):
    from deconstruct.train.analysis import train

    config = recipe_config("effect_parameters")
    config["model"]["init_from"] = str(smoke_analysis_checkpoint)
    config["data"]["bank_dir"] = str(smoke_analysis_checkpoint.parent / "bank")  # same data: reuse its bank
    tuned = resolve("analysis", train(config, tmp_path)).state_dict
    start = resolve("analysis", smoke_analysis_checkpoint).state_dict
    assert set(tuned) == set(start)
    changed = {key for key in start if not torch.equal(start[key], tuned[key])}
    assert changed and all(key.startswith("regressor.") for key in changed)
    EffectAnalyzer(tmp_path / "smoke-analysis-params.pt")  # loads strictly
