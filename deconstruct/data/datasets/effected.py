"""Effect-augmented training data: dry audio through random effect chains, with the chain kept as truth.

One dataset serves every effect recipe. Each item holds the wet input, the dry source, the removal target,
multi-hot labels in catalog order and the normalised parameters with their presence mask, all drawn
deterministically from ``(seed, epoch, index)``:

- classifier recipes read ``wet`` and ``labels``;
- parameter recipes read ``wet``, ``params`` and ``param_mask`` (loss only where the mask is 1);
- removal recipes read ``wet`` and ``target``. With ``remove=E`` the items follow RemFX's FXAug (Rice et al.
  2023): a share ``remove_probability`` holds E among other effects and its target is the same chain without E;
  the rest lack E and their target is their input (a remover must leave such audio alone). Because removal
  runs in reverse catalog order, the other effects come before E in the chain unless ``later_effects`` is set.
  Without ``remove`` the target is the dry source.

Dry audio comes from a folder, a list of files, a callable ``source(seed) -> Audio`` (synthetic instrument
renders, for instance) or, by default, the ``train`` dry recordings of the shared data set's ``splits.json``
(convolution reverb then draws from its ``train`` room impulse responses only).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from deconstruct.audio import Audio, load_audio, resample
from deconstruct.data.material.recordings import AUDIO_SUFFIXES, SHARED_DATA_ENV, shared_data_root
from deconstruct.effects.catalog import EFFECT_NAMES
from deconstruct.effects.chain import Chain, sample_chain
from deconstruct.effects.render import render_chain
from deconstruct.errors import InputError

__all__ = [
    "DrySource",
    "EffectedDataset",
    "RandomChainEffect",
    "effected_loader",
    "list_audio_files",
    "multitrack_source",
    "train_dry_files",
    "train_dry_groups",
    "train_rir_files",
]

DrySource = Callable[[int], Audio]
"""A callable that returns dry audio (any rate and channel count) for a seed, deterministically."""

RIR_FOLDERS = ("rir", "brir")
ROOM_MIC_PREFIXES = ("Stereo",)  # room microphones of multitrack takes (Dagstuhl ChoirSet) are not dry
SILENCE_RMS = 1e-4
ATTEMPTS = 16


def _root(root: str | os.PathLike | None) -> Path:
    found = shared_data_root() if root is None else Path(root)
    if found is None or not (found / "splits.json").is_file():
        raise InputError(
            f"no shared data folder with a splits.json; set {SHARED_DATA_ENV} to it, or give dry files or a folder"
        )
    return found


def _train_entries(root: Path) -> list[Path]:
    return [root / entry for entry in json.loads((root / "splits.json").read_text())["train"]]


def list_audio_files(folder: str | os.PathLike) -> list[Path]:
    """Audio files (``AUDIO_SUFFIXES``) under ``folder``, recursively, sorted."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: not a folder of audio files")
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)


def _expand(entries: Sequence[Path]) -> list[Path]:
    files: list[Path] = []
    for entry in entries:
        files += list_audio_files(entry) if entry.is_dir() else [entry]
    return files


def train_dry_groups(root: str | os.PathLike | None = None) -> list[list[Path]]:
    """The ``train`` dry recordings of ``splits.json``, one group per split entry (a file, or a folder's files).

    Room impulse responses (``rir/``, ``brir/``) and room microphones (``Stereo*`` files) are left out.
    """
    root = _root(root)
    groups = []
    for entry in _train_entries(root):
        if entry.relative_to(root).parts[0] in RIR_FOLDERS:
            continue
        files = [f for f in _expand([entry]) if not f.name.startswith(ROOM_MIC_PREFIXES)]
        if files:
            groups.append(files)
    return groups


def train_dry_files(root: str | os.PathLike | None = None) -> list[Path]:
    """:func:`train_dry_groups` flattened."""
    return [f for group in train_dry_groups(root) for f in group]


def train_rir_files(root: str | os.PathLike | None = None) -> list[Path]:
    """The ``train`` measured room impulse responses of ``splits.json`` (folders ``rir/`` and ``brir/``)."""
    root = _root(root)
    entries = [e for e in _train_entries(root) if e.relative_to(root).parts[0] in RIR_FOLDERS]
    return _expand(entries)


@lru_cache(maxsize=64)
def _load_resampled(path: str, sample_rate: int) -> torch.Tensor:
    audio = load_audio(path)
    return resample(audio.samples, audio.sample_rate, sample_rate).contiguous()


def _channels(samples: torch.Tensor, channels: int) -> torch.Tensor:
    if samples.shape[0] == channels:
        return samples
    if samples.shape[0] == 1:
        return samples.expand(channels, -1)
    mono = samples.mean(dim=0, keepdim=True)
    return mono.expand(channels, -1) if channels > 1 else mono


def _rms(samples: torch.Tensor) -> float:
    return float(samples.double().pow(2).mean().sqrt())


class EffectedDataset(Dataset):
    """Dry audio through random effect chains (see the module docstring for the item contract).

    Args:
        sources: a folder, a list of audio files (each equally likely), a :data:`DrySource` callable, or ``None``
            for the ``train`` dry recordings of the shared ``splits.json`` (each split entry equally likely, then
            each file within it).
        rir_files: measured room impulse responses for convolution reverb; ``None`` takes the ``train`` ones of the
            shared ``splits.json`` when that file exists (and none otherwise: reverb is then always algorithmic).
        sample_rate: output rate, Hz (sources are resampled).
        duration_s: item length, s (shorter sources are zero-padded at the end).
        channels: output channel count (mono sources are duplicated, others averaged to mono when 1).
        length: number of items (an epoch).
        seed: base seed; item ``i`` of epoch ``e`` is a function of ``(seed, e, i)`` only.
        max_effects: most effects in a chain (K).
        min_effects: fewest effects in a chain.
        effects: catalog names to draw from.
        remove: effect to train a remover for (FXAug items), or ``None``.
        remove_probability: share of removal items that contain ``remove``.
        later_effects: in removal items, allow effects after ``remove`` in the chain.
        convolution_probability: share of reverbs rendered by convolution with ``rir_files``.
        level_db: range of the dry source's RMS level, dBFS, drawn uniformly per item.

    Items:
        ``wet``, ``dry``, ``target``: float32 ``[channels, samples]``; ``labels``: float32 ``[7]``; ``params``,
        ``param_mask``: float32 ``[total_params()]``; ``chain``: JSON of the chain; ``index``: int.
    """

    def __init__(
        self,
        sources: str | os.PathLike | Sequence[str | os.PathLike] | DrySource | None = None,
        *,
        rir_files: Sequence[str | os.PathLike] | None = None,
        sample_rate: int = 44100,
        duration_s: float = 3.0,
        channels: int = 1,
        length: int = 1000,
        seed: int = 0,
        max_effects: int = 3,
        min_effects: int = 0,
        effects: Sequence[str] = EFFECT_NAMES,
        remove: str | None = None,
        remove_probability: float = 0.5,
        later_effects: bool = False,
        convolution_probability: float = 0.5,
        level_db: tuple[float, float] = (-24.0, -12.0),
    ) -> None:
        if remove is not None and remove not in EFFECT_NAMES:
            raise ValueError(f"remove must be a catalog effect ({', '.join(EFFECT_NAMES)}), got {remove!r}")
        if channels < 1 or length < 1 or duration_s <= 0 or sample_rate <= 0:
            raise ValueError("channels, length, duration_s and sample_rate must be positive")
        self.source: DrySource | None = sources if callable(sources) else None
        self.groups = [] if self.source is not None else self._groups(sources)
        if self.source is None and not any(self.groups):
            raise InputError("no dry audio files found; give a folder, a list of files or a source callable")
        if rir_files is None:
            found = shared_data_root()
            has_splits = sources is None or (found is not None and (found / "splits.json").is_file())
            rir_files = train_rir_files() if has_splits else []
        self.rir_files = [str(f) for f in rir_files]
        self.sample_rate, self.channels = int(sample_rate), int(channels)
        self.length, self.seed = int(length), int(seed)
        self.samples = round(duration_s * sample_rate)
        self.max_effects, self.min_effects, self.effects = max_effects, min_effects, tuple(effects)
        self.remove, self.remove_probability, self.later_effects = remove, remove_probability, later_effects
        self.convolution_probability, self.level_db = convolution_probability, tuple(level_db)
        self.epoch = 0

    @staticmethod
    def _groups(sources: str | os.PathLike | Sequence[str | os.PathLike] | None) -> list[list[Path]]:
        """Files grouped for sampling: the default set by split entry (each equally likely), else one per file."""
        if sources is None:
            return train_dry_groups()
        if isinstance(sources, (str, os.PathLike)):
            path = Path(sources)
            files = list_audio_files(path) if path.is_dir() else [path]
        else:
            files = [Path(s) for s in sources]
        missing = [str(f) for f in files if not f.is_file()]
        if missing:
            raise InputError(f"dry audio file(s) not found: {', '.join(missing[:3])}; check the paths")
        return [[f] for f in files]

    @property
    def files(self) -> list[Path]:
        """Every dry file the dataset draws from."""
        return [f for group in self.groups for f in group]

    def set_epoch(self, epoch: int) -> None:
        """Draw a fresh, still deterministic, set of items (call before each epoch's loader iterator)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.length

    def _raw(self, rng: np.random.Generator) -> torch.Tensor:
        if self.source is not None:
            audio = self.source(int(rng.integers(2**31)))
            return resample(audio.samples, audio.sample_rate, self.sample_rate)
        group = self.groups[int(rng.integers(len(self.groups)))]
        path = group[int(rng.integers(len(group)))]
        return _load_resampled(str(path), self.sample_rate)

    def _crop(self, raw: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
        """The loudest of four random windows of the item's length (zero-padded when the source is shorter)."""
        spare = raw.shape[-1] - self.samples
        if spare <= 0:
            return torch.nn.functional.pad(raw, (0, -spare))
        starts = rng.integers(0, spare + 1, size=4)
        windows = [raw[:, int(s) : int(s) + self.samples] for s in starts]
        return max(windows, key=_rms)

    def dry_audio(self, rng: np.random.Generator) -> torch.Tensor:
        """A levelled, non-silent dry window ``[channels, samples]`` (consumes ``rng``)."""
        for _ in range(ATTEMPTS):
            window = _channels(self._crop(self._raw(rng), rng), self.channels).to(torch.float32)
            rms = _rms(window)
            if rms > SILENCE_RMS:
                level = rng.uniform(*self.level_db)
                return (window * (10.0 ** (level / 20.0) / rms)).contiguous()
        raise InputError(f"{ATTEMPTS} dry windows in a row were silent; check the dry sources")

    def draw_chain(self, rng: np.random.Generator) -> tuple[Chain, bool]:
        """The item's chain and, in removal mode, whether it holds the effect to remove (consumes ``rng``)."""
        common = dict(rir_files=self.rir_files, convolution_probability=self.convolution_probability)
        if self.remove is None:
            chain = sample_chain(rng, self.max_effects, self.min_effects, self.effects, **common)
            return chain, False
        position = EFFECT_NAMES.index(self.remove)
        others = [
            n for n in self.effects if n != self.remove and (self.later_effects or EFFECT_NAMES.index(n) < position)
        ]
        if rng.random() < self.remove_probability:
            chain = sample_chain(
                rng, max(self.max_effects, 1), max(self.min_effects, 1), [*others, self.remove], require=[self.remove],
                **common,
            )
            return chain, True
        high = min(self.max_effects, len(others))
        return sample_chain(rng, high, min(self.min_effects, high), others, **common), False

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not 0 <= index < self.length:
            raise IndexError(f"index {index} outside [0, {self.length})")
        rng = np.random.default_rng([self.seed, self.epoch, index])
        dry = self.dry_audio(rng)
        chain, holds_removed = self.draw_chain(rng)
        wet = render_chain(dry, self.sample_rate, chain)
        if self.remove is None:
            target = dry
        elif holds_removed:
            target = render_chain(dry, self.sample_rate, chain.without(self.remove))
        else:
            target = wet
        peak = max(float(t.abs().max()) for t in (wet, dry, target))
        scale = 0.99 / peak if peak > 0.99 else 1.0
        values, mask = chain.normalised()
        return {
            "wet": wet * scale,
            "dry": dry * scale,
            "target": target * scale,
            "labels": torch.from_numpy(chain.labels()),
            "params": torch.from_numpy(values),
            "param_mask": torch.from_numpy(mask),
            "chain": json.dumps(chain.to_dict()),
            "index": index,
        }


@dataclass(frozen=True)
class RandomChainEffect:
    """A random catalog chain as a per-stem effect of the synthetic multitrack engine.

    Follows ``deconstruct.data.rendering.multitrack.StemEffect``: called with ``(dry [channels, T], sample_rate, rng)`` it
    draws a chain with :func:`~deconstruct.effects.chain.sample_chain` from ``rng`` and returns the wet stem and
    ``{"chain": ..., "labels": ..., "params": ..., "param_mask": ...}`` (lists, JSON-ready) as truth.
    """

    max_effects: int = 3
    min_effects: int = 0
    effects: tuple[str, ...] = EFFECT_NAMES
    rir_files: tuple[str, ...] = ()
    convolution_probability: float = 0.5

    def __call__(
        self, dry: torch.Tensor, sample_rate: int, rng: np.random.Generator
    ) -> tuple[torch.Tensor, dict[str, Any]]:
        chain = sample_chain(
            rng, self.max_effects, self.min_effects, self.effects, rir_files=self.rir_files,
            convolution_probability=self.convolution_probability,
        )
        values, mask = chain.normalised()
        info = {
            "chain": chain.to_dict(),
            "labels": chain.labels().tolist(),
            "params": values.tolist(),
            "param_mask": mask.tolist(),
        }
        return render_chain(dry, sample_rate, chain), info


def multitrack_source(multitracks: Any, stems: Sequence[str] | None = None) -> DrySource:
    """A :data:`DrySource` drawing dry stems from a synthetic multitrack dataset.

    Args:
        multitracks: a ``deconstruct.data.rendering.multitrack.SyntheticMultitracks`` (anything with ``len()``,
            ``item(i).dry`` (stem name → ``[channels, T]``) and ``sample_rate``).
        stems: the stems to draw from (all by default).

    Returns:
        ``source(seed)``: item ``seed % len(multitracks)``, and of its stems (among ``stems``) the one at
        ``(seed // len(multitracks)) % count`` (silent stems are skipped by :class:`EffectedDataset`, which draws
        again).
    """

    def source(seed: int) -> Audio:
        item = multitracks.item(seed % len(multitracks))
        names = [s for s in (stems or sorted(item.dry)) if s in item.dry]
        if not names:
            raise InputError(f"the multitrack items hold none of the stems {', '.join(stems or [])}")
        stem = names[(seed // len(multitracks)) % len(names)]
        return Audio(torch.as_tensor(item.dry[stem], dtype=torch.float32), multitracks.sample_rate)

    return source


def effected_loader(
    dataset: EffectedDataset, batch_size: int, num_workers: int = 0, shuffle: bool = False
) -> DataLoader:
    """A ``DataLoader`` over an :class:`EffectedDataset` (items are random already; shuffling only reorders).

    Workers are not persistent, so :meth:`EffectedDataset.set_epoch` reaches them at each new iterator.
    """
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        num_workers=num_workers,
        drop_last=False,
        persistent_workers=False,
    )
