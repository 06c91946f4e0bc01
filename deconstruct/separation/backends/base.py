"""What every separation backend hands the :class:`~deconstruct.separation.Separator`."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import nn


@dataclass
class LoadedSeparator:
    """A loaded third-party separation model behind the project's interface.

    Attributes:
        name: what the user asked for, as the CLI and report name it (``demucs:htdemucs_6s``, a file path...).
        backend: ``demucs``, ``roformer`` or ``hdemucs``.
        net: ``forward(mixture [B, C, T]) -> stems [B, S, C, T]`` at ``sample_rate``.
        stems: the project's names of the S outputs (see :mod:`deconstruct.separation.stem_names`).
        sample_rate: the model's rate (Hz).
        channels: the model's channel count.
        max_chunk_s: the longest input the model takes in one call (seconds), ``None`` when any length works.
        source: where the weights came from (a folder, a cache, a file).
        files: the weight files read.
        model_stems: the stem names as the model gives them, before normalisation.
        details: anything else worth reporting (architecture, size...).
    """

    name: str
    backend: str
    net: nn.Module
    stems: list[str]
    sample_rate: int
    channels: int
    max_chunk_s: float | None
    source: str
    files: list[Path] = field(default_factory=list)
    model_stems: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def sha256(self) -> str:
        """sha256 of the weight file, or of the files' hashes in order when there are several."""
        digests = [_sha256(path) for path in self.files]
        if len(digests) == 1:
            return digests[0]
        return hashlib.sha256("".join(digests).encode()).hexdigest()


def _sha256(path: Path) -> str:
    from deconstruct.models.checkpoint import sha256_of

    return sha256_of(path)
