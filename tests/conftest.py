"""Shared fixtures: real audio from the shared data set when present, small synthetic audio otherwise.

The shared data set (real recordings, listed in its MANIFEST.md with origin and licence, split by splits.json into
``train`` and ``eval``) is ``$DECONSTRUCT_SHARED_DATA``, else ``../shared/data`` beside the repository: the one
rule, :func:`deconstruct.data.material.recordings.shared_data_root`. Tests that need it skip without it and say
where they looked and how to point at it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from deconstruct.data.material.recordings import SHARED_DATA_ENV, shared_data_root

os.environ.setdefault("OMP_NUM_THREADS", "2")
torch.set_num_threads(2)

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = shared_data_root(require_splits=False)


def shared_file(relative: str = "splits.json") -> Path:
    """A file (or folder) of the shared real-audio set; skips the test, saying why, when it is not there."""
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(f"needs the shared data set: {path} is missing; set {SHARED_DATA_ENV} to the data folder "
                    "(README, Tests)")
    return path


@pytest.fixture(scope="session")
def tiny_separation_checkpoint(tmp_path_factory) -> Path:
    """The smoke separation recipe trained for a few steps (seconds on CPU): a real, tiny, trained model."""
    import yaml

    from deconstruct.train.separation import train

    config = yaml.safe_load((REPO / "recipes" / "separation" / "smoke.yaml").read_text())
    return train(config, tmp_path_factory.mktemp("smoke_run"))
