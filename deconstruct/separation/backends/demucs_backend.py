"""demucs models (``--model demucs:<name>``) behind the separation stage, through the ``demucs`` package.

A name loads from, in order: the local folder ``--model-repo DIR`` / ``$DECONSTRUCT_MODEL_REPO`` when one is
given (only there: fully offline, any signature or bag in it); demucs's caches; a download through demucs's
mechanism (see :mod:`.demucs_hub`). The input is normalised by the whole song's mean and standard deviation (as
``demucs.separate`` does; the Separator measures them in one streamed pass) and each chunk, no longer than the
model's training segment, runs through ``demucs.apply.apply_model``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from deconstruct.errors import ModelError
from deconstruct.separation.backends.base import LoadedSeparator
from deconstruct.separation.backends.demucs_files import LocalModelFolder, build_bag
from deconstruct.separation.backends import demucs_hub
from deconstruct.separation.stem_names import normalise_stem_names

PREFIX = "demucs:"
REPO_ENV = "DECONSTRUCT_MODEL_REPO"


class DemucsNet(nn.Module):
    """A demucs model or bag as ``[B, C, T] -> [B, S, C, T]``.

    Attributes:
        reference: ``(mean, std)`` of the whole input's mono mix, set before streaming; ``None`` normalises each
            call by its own statistics.
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.reference: tuple[float, float] | None = None

    def forward(self, mixture: torch.Tensor) -> torch.Tensor:
        from demucs.apply import apply_model

        if self.reference is None:
            mono = mixture.mean(1)
            mean, std = float(mono.mean()), float(mono.std()) if mono.shape[-1] > 1 else 1.0
        else:
            mean, std = self.reference
        std = std if std > 1e-8 else 1.0
        out = apply_model(self.model, (mixture - mean) / std, shifts=0, split=False, progress=False,
                          device=mixture.device)
        return out * std + mean


def model_repo(repo: str | os.PathLike | None = None) -> Path | None:
    """The local model folder: the argument, else ``$DECONSTRUCT_MODEL_REPO``, else ``None``."""
    repo = repo if repo is not None else os.environ.get(REPO_ENV) or None
    return Path(repo) if repo is not None else None


def max_segment_s(model: nn.Module) -> float | None:
    """The longest chunk the model takes (HTDemucs: its training segment), ``None`` for any length."""
    from demucs.apply import BagOfModels
    from demucs.htdemucs import HTDemucs

    if isinstance(model, BagOfModels):
        limit = model.max_allowed_segment
        return None if limit == float("inf") else float(limit)
    return float(model.segment) if isinstance(model, HTDemucs) else None


def is_cached(name: str, repo: Path | None = None) -> bool:
    """Whether ``name`` loads without a download (in the local folder, or cached)."""
    if repo is not None:
        return repo.is_dir() and LocalModelFolder(repo).has(name)
    return demucs_hub.find_cached(name) is not None


def load_demucs(spec: str, repo: str | os.PathLike | None = None, allow_download: bool = True,
                log: Callable[[str], None] | None = None) -> LoadedSeparator:
    """Load ``demucs:<name>`` (see the module docstring).

    Raises:
        ModelError: not in the local folder; not cached and no network; refused or damaged files.
    """
    name = spec[len(PREFIX):] if spec.startswith(PREFIX) else spec
    if not name:
        raise ModelError("give a demucs model name: --model demucs:htdemucs_ft (see --list-models)")
    folder = model_repo(repo)
    if folder is not None:
        local = LocalModelFolder(folder)
        bag_spec, paths, source = local.bag(name), local.paths(name), f"local model folder {folder}"
    else:
        cached = demucs_hub.find_cached(name)
        if cached is None:
            if not allow_download:
                raise demucs_hub.not_cached_error(name, "downloads are off")
            if not demucs_hub.is_known(name):
                raise ModelError(f"demucs publishes no model {name!r}; published: {', '.join(demucs_hub.PUBLISHED)}; "
                                 "for your own files pass --model-repo DIR")
            cached = demucs_hub.download(name, log=log)
        bag_spec, paths, source = cached.spec, cached.paths, f"{cached.cache} cache"
    model = build_bag(bag_spec, paths)
    sources = [str(source_name) for source_name in model.sources]
    return LoadedSeparator(
        name=f"{PREFIX}{name}", backend="demucs", net=DemucsNet(model).eval(), stems=normalise_stem_names(sources),
        sample_rate=int(model.samplerate), channels=int(model.audio_channels), max_chunk_s=max_segment_s(model),
        source=source, files=list(paths), model_stems=sources,
        details={"models_in_bag": len(paths), "class": type(getattr(model, "models", [model])[0]).__name__})
