"""Golden regression: every shipped default's metrics on fixed real audio stay as stored in golden.json."""

from __future__ import annotations

import json

import pytest

from tests.conftest import SHARED_DATA, shared_file
from tests.golden.measure import GOLDEN_FILE, MEASURES

GOLDEN = json.loads(GOLDEN_FILE.read_text())
TOLERANCE_DB = 0.05


@pytest.mark.parametrize("stage", sorted(MEASURES))
def test_shipped_model_metrics_unchanged(stage):
    shared_file()
    measured = MEASURES[stage](SHARED_DATA)
    stored = GOLDEN[stage]
    assert measured.keys() == stored.keys()
    for key, value in stored.items():
        assert measured[key] == pytest.approx(value, abs=TOLERANCE_DB), key
