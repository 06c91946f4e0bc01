"""Per-effect calibration, precision thresholds and their use by the analyzer."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from deconstruct.analysis.calibration import Calibration, fit_calibration, precision_thresholds
from deconstruct.effects.catalog import EFFECT_NAMES
from deconstruct.errors import ModelError


def _miscalibrated(seed: int = 0, n: int = 4000) -> tuple[np.ndarray, np.ndarray]:
    """Overconfident scores: the true probability is sigmoid(0.5 * logit(p) - 1) for every effect."""
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.01, 0.99, size=(n, len(EFFECT_NAMES)))
    truth = 1.0 / (1.0 + np.exp(-(0.5 * np.log(p / (1 - p)) - 1.0)))
    return p, (rng.random(p.shape) < truth).astype(np.float32)


@pytest.mark.parametrize("method", ["platt", "isotonic"])
def test_calibration_matches_observed_frequencies(method):
    p, labels = _miscalibrated()
    specs = fit_calibration(p, labels, method)
    json.dumps(specs)  # plain numbers, storable in a checkpoint config
    p_test, labels_test = _miscalibrated(seed=1)
    calibrated = Calibration(specs).apply_numpy(p_test)
    high = p_test > 0.8  # overconfident region: raw says > 0.8, the truth is far lower
    assert labels_test[high].mean() < 0.6
    assert abs(calibrated[high].mean() - labels_test[high].mean()) < 0.05
    assert abs(p_test[high].mean() - labels_test[high].mean()) > 0.25
    if method == "platt":
        assert specs["reverb"]["a"] == pytest.approx(0.5, abs=0.1)
        assert specs["reverb"]["b"] == pytest.approx(-1.0, abs=0.15)


def test_calibration_is_monotone_and_keeps_shape_and_dtype():
    p, labels = _miscalibrated()
    calibration = Calibration(fit_calibration(p, labels, "isotonic"))
    grid = torch.linspace(0, 1, 101, dtype=torch.float32)[:, None].expand(-1, len(EFFECT_NAMES))
    out = calibration(grid)
    assert out.shape == grid.shape and out.dtype == torch.float32
    assert bool((out.diff(dim=0) >= -1e-9).all()) and bool(((out >= 0) & (out <= 1)).all())


def test_too_few_positives_keep_the_identity():
    p = np.random.default_rng(0).random((50, len(EFFECT_NAMES)))
    labels = np.zeros_like(p)
    labels[:2, 0] = 1
    specs = fit_calibration(p, labels)
    assert all(spec["method"] == "identity" for spec in specs.values())
    assert torch.equal(Calibration(specs)(torch.tensor(p)), torch.tensor(p))


def test_bad_calibration_is_a_model_error():
    with pytest.raises(ModelError, match="unknown effects"):
        Calibration({"flanger": {"method": "platt", "a": 1.0, "b": 0.0}})
    with pytest.raises(ModelError, match="reverb"):
        Calibration({"reverb": {"method": "platt", "a": 1.0}})
    with pytest.raises(ModelError, match="reverb"):
        Calibration({"reverb": {"method": "magic"}})


def test_precision_thresholds():
    # effect 0: above 0.6 nine positives in ten; below, mostly negatives. effect 1: never precise.
    p = np.linspace(0.0, 1.0, 201)
    labels = np.zeros((201, 2))
    rng = np.random.default_rng(0)
    labels[:, 0] = np.where(p >= 0.6, rng.random(201) < 0.95, rng.random(201) < 0.1)
    labels[:, 1] = rng.random(201) < 0.2
    thresholds, unsure = precision_thresholds(np.stack([p, p], 1), labels, 0.8, 0.5, effects=("a", "b"))
    assert 0.5 <= thresholds["a"] <= 0.62
    assert unsure["a"] <= thresholds["a"]
    assert thresholds["b"] == 1.0


def test_analyzer_applies_the_checkpoint_calibration(smoke_analysis_checkpoint, tmp_path):
    from deconstruct.analysis import EffectAnalyzer
    from deconstruct.models.checkpoint import load_checkpoint, save_checkpoint

    payload = load_checkpoint(smoke_analysis_checkpoint)
    shift = {name: {"method": "platt", "a": 1.0, "b": -3.0} for name in EFFECT_NAMES}
    path = save_checkpoint(tmp_path / "calibrated.pt", "calibrated", {**payload["config"], "calibration": shift},
                           payload["state_dict"])
    stem = torch.randn(1, 3 * 44100, generator=torch.Generator().manual_seed(0)) * 0.1
    raw = EffectAnalyzer(smoke_analysis_checkpoint, device="cpu").network_outputs(stem, 44100).probabilities
    calibrated = EffectAnalyzer(path, device="cpu").network_outputs(stem, 44100).probabilities
    logit = torch.log(raw) - torch.log1p(-raw)
    assert torch.allclose(calibrated, torch.sigmoid(logit - 3.0), atol=1e-5)


def test_training_on_separated_material_stores_a_calibration(tmp_path):
    """The smoke recipe with a separated-stem part: the checkpoint carries calibration, precision thresholds and
    unsure bounds, and the analyzer reads them."""
    from deconstruct.analysis import EffectAnalyzer
    from deconstruct.models.checkpoint import load_checkpoint
    from deconstruct.train.analysis import train
    from tests.analysis.conftest import recipe_config

    config = recipe_config("effect_classifier")
    engine = {"voice_library": None, "clip_library": None, "score_probability": 0.0}
    config["data"]["separated"] = {"cache_dir": str(tmp_path / "material"), "duration_s": 2.0, "engine": engine,
                                   "windows_per_stem": 1, "train": {"songs": 1, "seed": 1},
                                   "valid": {"songs": 2, "seed": 2}}
    config["calibration"] = {"method": "platt", "precision": 0.8, "unsure_precision": 0.5}
    path = train(config, tmp_path / "run")
    payload = load_checkpoint(path)
    saved = payload["config"]
    assert set(saved["calibration"]) == set(EFFECT_NAMES)
    assert all(0.0 <= saved["unsure_below"][n] <= saved["thresholds"][n] <= 1.0 for n in EFFECT_NAMES)
    assert "separated" in saved["threshold_source"]
    assert payload["metrics"]["separated_validation"]["stems"] > 0
    analyzer = EffectAnalyzer(path, device="cpu")
    assert analyzer.thresholds == pytest.approx(saved["thresholds"])
