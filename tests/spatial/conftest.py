"""Fixtures of the spatial tests."""

from __future__ import annotations

import pytest

from deconstruct.audio import Audio
from tests.spatial.helpers import band_stems


@pytest.fixture()
def stems() -> dict[str, Audio]:
    return band_stems()
