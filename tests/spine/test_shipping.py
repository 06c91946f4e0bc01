"""Shipped models: recipes/ship.py writes index.json, suites' --store write the numbers, --list-models shows them."""

from __future__ import annotations

import importlib.util
import json

import pytest
import torch

from deconstruct.models import registry
from deconstruct.models.checkpoint import save_checkpoint, sha256_of
from deconstruct.removal import DSP_ONLY, EffectRemover
from eval.store import store_suite_results
from tests.conftest import REPO


@pytest.fixture
def ship(tmp_path, monkeypatch):
    """recipes/ship.py writing into a temporary weights folder (the registry reads the same folder)."""
    spec = importlib.util.spec_from_file_location("ship_recipe", REPO / "recipes" / "ship.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    weights = tmp_path / "weights"
    weights.mkdir()
    for target in (module, registry):
        monkeypatch.setattr(target, "WEIGHTS_DIR", weights)
        monkeypatch.setattr(target, "INDEX_FILE", weights / "index.json")
    registry.shipped_index.cache_clear()
    yield module
    registry.shipped_index.cache_clear()


def test_ship_store_and_list_produce_every_number_from_files_in_the_repository(ship, tmp_path):
    trained = save_checkpoint(tmp_path / "trained.pt", "trained", {"stage": "analysis"}, {"w": torch.ones(3)},
                              metrics={"training": {"commit": "abc", "steps": 10}})
    assert ship.main([str(trained), "--name", "tiny", "--stage", "analysis", "--default", "--recipe",
                      "recipes/effect_classifier/smoke.yaml", "--headline", "F1 on eval=analysis_suite.summary.f1",
                      "--headline", "upper bound: oracle=analysis_suite.summary.oracle/params"]) == 0
    registry.shipped_index.cache_clear()
    entry = registry.shipped_index()["tiny"]
    shipped = ship.WEIGHTS_DIR / "tiny.pt"
    assert entry["sha256"] == sha256_of(shipped) and entry["default"]
    assert entry["provenance"]["recipe"] == "recipes/effect_classifier/smoke.yaml"
    assert entry["provenance"]["trained_in_commit"] == "abc" and entry["provenance"]["shipped_in_commit"]
    row = next(r for r in registry.list_models() if r["name"] == "tiny")
    assert row["metrics"] == {"F1 on eval": "not measured", "upper bound: oracle": "not measured"}

    store_suite_results("tiny", "analysis_suite", {"summary": {"f1": 0.61234, "oracle/params": 9.5}}, argv=["x"])
    row = next(r for r in registry.list_models() if r["name"] == "tiny")
    assert row["metrics"] == {"F1 on eval": 0.61, "upper bound: oracle": 9.5}
    stored = json.loads((ship.WEIGHTS_DIR / "tiny.metrics.json").read_text())
    assert stored["training"]["steps"] == 10 and stored["analysis_suite"]["measured_by"]["command"] == "x"
    assert sha256_of(shipped) == entry["sha256"]  # --store never rewrites shipped weights

    assert ship.main(["--builtin", "plain", "--stage", "analysis", "--default", "--code", "x.py"]) == 0
    registry.shipped_index.cache_clear()
    assert registry.default_model("analysis") == "plain" and not registry.shipped_index()["tiny"]["default"]
    with pytest.raises(registry.ModelError, match="built into"):
        registry.resolve("analysis", "plain")
    assert ship.main(["--retire", "tiny"]) == 0
    assert not shipped.exists() and not (ship.WEIGHTS_DIR / "tiny.metrics.json").exists()


def test_shipped_index_is_consistent_and_every_headline_is_measured():
    registry.shipped_index.cache_clear()
    for name, entry in registry.shipped_index().items():
        assert entry["provenance"]["shipped_in_commit"]
        if entry.get("builtin"):
            assert entry["file"] is None
        else:
            assert sha256_of(registry.WEIGHTS_DIR / entry["file"]) == entry["sha256"], name
            assert entry["provenance"]["recipe"].startswith("recipes/"), name
        assert "not measured" not in registry.headline(name).values(), name


def test_removal_default_is_the_builtin_signal_processing_model():
    assert registry.default_model("removal") == DSP_ONLY
    assert EffectRemover().name == DSP_ONLY
