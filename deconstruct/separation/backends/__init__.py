"""Published separators as backends of the separation stage, each through its own package.

- ``demucs:<name>``: demucs's models (:mod:`.demucs_backend`), from a local folder, demucs's caches or a download;
- a checkpoint with ``model_config`` (a YAML file): the RoFormer family (:mod:`.roformer`);
- ``best``: the best published model that loads without a download (:func:`choose_best`), else the shipped default;
- anything else (``None``, a shipped name, a project checkpoint, a torchaudio HDemucs state dict of any size) stays
  with the project's registry.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable

from deconstruct.separation.backends.base import LoadedSeparator

BEST = "best"


@dataclass(frozen=True)
class SeparatorChoice:
    """Which separator runs and why.

    Attributes:
        model: what to load (``None``: the shipped default).
        reason: one sentence for the CLI's first line and the report.
    """

    model: str | None
    reason: str


def choose_best(model_repo: str | os.PathLike | None = None) -> SeparatorChoice:
    """The best-ranked published demucs model available without a download, else the shipped default."""
    from deconstruct.separation.backends.demucs_backend import PREFIX, is_cached, model_repo as repo_of
    from deconstruct.separation.backends.demucs_hub import PUBLISHED

    repo = repo_of(model_repo)
    for entry in sorted(PUBLISHED.values(), key=lambda item: item.rank):
        if is_cached(entry.name, repo):
            score = f"{entry.sdr_db:.1f} dB published SDR" if entry.sdr_db is not None else "no published score"
            where = f"in {repo}" if repo is not None else "cached"
            return SeparatorChoice(f"{PREFIX}{entry.name}", f"--model best: the best-ranked published model {where} "
                                   f"({score})")
    return SeparatorChoice(None, "--model best: no published model is cached, so the shipped default runs; "
                                 "`deconstruct fetch demucs:htdemucs_ft` downloads the best one")


def choose(model: str | os.PathLike | None, model_repo: str | os.PathLike | None = None,
           model_config: str | os.PathLike | None = None) -> SeparatorChoice:
    """Resolve ``model`` (``best`` included) to what will load, with the reason."""
    if model is None:
        return SeparatorChoice(None, "the shipped default (fast, reproducible)")
    if str(model) == BEST:
        return choose_best(model_repo)
    if str(model).startswith("demucs:"):
        return SeparatorChoice(str(model), "asked for with --model")
    if model_config is not None:
        return SeparatorChoice(str(model), f"asked for with --model and --model-config {model_config}")
    return SeparatorChoice(str(model), "asked for with --model")


def is_backend_model(model: str | os.PathLike | None, model_config: str | os.PathLike | None = None) -> bool:
    """Whether ``model`` loads through a backend here rather than through the project's registry."""
    return model is not None and (str(model).startswith("demucs:") or model_config is not None)


def load_backend(model: str | os.PathLike, model_config: str | os.PathLike | None = None,
                 model_repo: str | os.PathLike | None = None,
                 log: Callable[[str], None] | None = None) -> LoadedSeparator:
    """Load a backend model (see :func:`is_backend_model`).

    Raises:
        ModelError: the model cannot be found, fetched or loaded.
    """
    if str(model).startswith("demucs:"):
        from deconstruct.separation.backends.demucs_backend import load_demucs

        return load_demucs(str(model), repo=model_repo, log=log)
    from deconstruct.separation.backends.roformer import load_roformer

    assert model_config is not None
    return load_roformer(model, model_config)
