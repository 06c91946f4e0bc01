"""Fixtures of the analysis tests: the smoke recipe trained once per session (seconds on CPU)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO


def recipe_config(recipe: str, name: str = "smoke.yaml") -> dict:
    return yaml.safe_load((REPO / "recipes" / recipe / name).read_text())


@pytest.fixture(scope="session")
def smoke_analysis_checkpoint(tmp_path_factory) -> Path:
    """The effect classifier smoke recipe, trained for a few steps: a real, tiny, trained analysis model."""
    from deconstruct.train.analysis import train

    return train(recipe_config("effect_classifier"), tmp_path_factory.mktemp("analysis_smoke"))


@pytest.fixture(scope="session")
def analyzer(smoke_analysis_checkpoint):
    from deconstruct.analysis import EffectAnalyzer

    return EffectAnalyzer(smoke_analysis_checkpoint, device="cpu")
