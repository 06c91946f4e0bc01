"""Shared fixtures: real audio from ../shared/data when present, small synthetic audio otherwise."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

os.environ.setdefault("OMP_NUM_THREADS", "2")
torch.set_num_threads(2)

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("DECONSTRUCT_SHARED_DATA", REPO.parent / "shared" / "data"))


def shared_file(relative: str) -> Path:
    """A file of the shared real-audio set, or skip the test when the set is not beside the repository."""
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(f"shared data file {relative} not available")
    return path


@pytest.fixture(scope="session")
def tiny_separation_checkpoint(tmp_path_factory) -> Path:
    """The smoke separation recipe trained for a few steps (seconds on CPU): a real, tiny, trained model."""
    import yaml

    from deconstruct.train.separation import train

    config = yaml.safe_load((REPO / "recipes" / "separation" / "smoke.yaml").read_text())
    return train(config, tmp_path_factory.mktemp("smoke_run"))
