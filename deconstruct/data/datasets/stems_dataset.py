"""Datasets of real multitracks: a folder of stems (any stem names; MUSDB18-HQ's WAV layout) and MUSDB18 stem files.

Both return ``dict[stem name, Tensor[2, T]]`` items, like :class:`~deconstruct.data.rendering.multitrack.SyntheticMultitracks`,
so recipes swap sources freely. Segments are either drawn at random per item (training: ``random_segments=True``;
item ``i`` depends only on ``(seed, i)``) or laid out in order over every track (evaluation).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from torch.utils.data import Dataset

from deconstruct.audio import resample
from deconstruct.stem_files import STEM_STREAMS, decode_stem_stream, probe_duration_s
from deconstruct.data.datasets.augment import Augmentation
from deconstruct.errors import InputError

MIXTURE = "mixture"
AUDIO_SUFFIXES = (".wav", ".flac")
MUSDB_STEMS = ("vocals", "drums", "bass", "other")


@dataclass(frozen=True)
class _Track:
    name: str
    duration_s: float


class _SegmentedStems(Dataset):
    """Shared segment bookkeeping; subclasses read ``(track, start_s, length_s)`` as stems."""

    def __init__(self, tracks: Sequence[_Track], stems: Sequence[str], segment_s: float | None, sample_rate: int,
                 random_segments: bool, items_per_epoch: int | None, seed: int,
                 augment: Augmentation | None) -> None:
        if not tracks:
            raise InputError("no tracks found; check the dataset folder")
        if segment_s is not None and segment_s <= 0:
            raise InputError(f"segment_s must be positive or None, got {segment_s}")
        self.tracks, self.stems = list(tracks), tuple(stems)
        self.segment_s, self.sample_rate = segment_s, int(sample_rate)
        self.random_segments, self.seed, self.augment = random_segments and segment_s is not None, int(seed), augment
        if self.random_segments:
            self._index: list[tuple[int, float]] = []
            self._length = int(items_per_epoch) if items_per_epoch is not None else len(self.tracks)
        else:
            self._index = [(k, start) for k, track in enumerate(self.tracks)
                           for start in self._starts(track.duration_s)]
            self._length = len(self._index)

    def _starts(self, duration_s: float) -> list[float]:
        if self.segment_s is None:
            return [0.0]
        count = max(1, int(duration_s // self.segment_s))
        return [k * self.segment_s for k in range(count)]

    def __len__(self) -> int:
        return self._length

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        if not 0 <= index < len(self):
            raise IndexError(f"item {index} out of range for {len(self)} items")
        rng = np.random.default_rng([self.seed, index])
        if self.random_segments:
            track_index = int(rng.integers(len(self.tracks)))
            duration = self.tracks[track_index].duration_s
            start = float(rng.uniform(0.0, max(0.0, duration - self.segment_s)))
        else:
            track_index, start = self._index[index]
        track = self.tracks[track_index]
        length = self.segment_s if self.segment_s is not None else track.duration_s
        stems = self._read(track, start, length)
        target = int(round(length * self.sample_rate))
        stems = {name: _fit(audio, target) for name, audio in stems.items()}
        return self.augment(stems, rng) if self.augment is not None else stems

    def _read(self, track: _Track, start_s: float, length_s: float) -> dict[str, torch.Tensor]:
        raise NotImplementedError


class FolderOfStems(_SegmentedStems):
    """Tracks as folders of per-stem audio files: ``<root>/<track>/<stem>.wav`` (or ``.flac``).

    MUSDB18-HQ (``<root>/train/<track>/{vocals,drums,bass,other,mixture}.wav``: pass ``root/"train"``) and caches
    written by :func:`deconstruct.data.datasets.cache.write_cache` read as they are. A track lacking one of the stems gets
    silence for it; a ``mixture`` file is never read as a stem.

    Args:
        root: the folder holding one sub-folder per track.
        stems: stem names to read; None reads every stem name found in the first track (minus ``mixture``).
        segment_s: segment length in seconds; None returns whole tracks.
        sample_rate: output rate (files at other rates are resampled).
        random_segments: draw a random track and offset per item (training) instead of tiling every track.
        items_per_epoch: dataset length with random segments (default: the number of tracks).
        seed: seed of the random segments and of the augmentation draws.
        augment: optional augmentation applied to each item (see :mod:`deconstruct.data.datasets.augment`).

    Shape:
        items: stem name → float32 ``[2, round(segment_s * sample_rate)]`` (mono files are duplicated).
    """

    def __init__(self, root: str | Path, stems: Sequence[str] | None = None, segment_s: float | None = 6.0,
                 sample_rate: int = 44100, random_segments: bool = True, items_per_epoch: int | None = None,
                 seed: int = 0, augment: Augmentation | None = None) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise InputError(f"{self.root}: no such folder; give a folder holding one sub-folder per track")
        folders = sorted(p for p in self.root.iterdir() if p.is_dir())
        if stems is None:
            found = sorted({f.stem for folder in folders[:1] for f in folder.iterdir()
                            if f.suffix.lower() in AUDIO_SUFFIXES and f.stem != MIXTURE})
            stems = found
        if not stems:
            raise InputError(f"{self.root}: no stem files found (expected <track>/<stem>.wav)")
        tracks = []
        for folder in folders:
            files = [self._file(folder, stem) for stem in stems]
            present = [f for f in files if f is not None]
            if present:
                tracks.append(_Track(folder.name, min(sf.info(str(f)).duration for f in present)))
        if not tracks:
            raise InputError(f"{self.root}: no track folder holds any of the stems {', '.join(stems)}")
        super().__init__(tracks, stems, segment_s, sample_rate, random_segments, items_per_epoch, seed, augment)

    @staticmethod
    def _file(folder: Path, stem: str) -> Path | None:
        for suffix in AUDIO_SUFFIXES:
            path = folder / f"{stem}{suffix}"
            if path.is_file():
                return path
        return None

    def _read(self, track: _Track, start_s: float, length_s: float) -> dict[str, torch.Tensor]:
        out = {}
        for stem in self.stems:
            path = self._file(self.root / track.name, stem)
            if path is None:
                out[stem] = torch.zeros(2, int(round(length_s * self.sample_rate)))
                continue
            rate = sf.info(str(path)).samplerate
            data, rate = sf.read(str(path), start=int(round(start_s * rate)), frames=int(round(length_s * rate)),
                                 dtype="float32", always_2d=True)
            out[stem] = _stereo(resample(torch.from_numpy(np.ascontiguousarray(data.T)), rate, self.sample_rate))
        return out


class MUSDBStems(_SegmentedStems):
    """MUSDB18 NI stem files: ``<root>/<subset>/*.stem.mp4``, decoded with ffmpeg segment by segment.

    Streams are mixture, drums, bass, other, vocals (the mixture is not returned: it is the stems' sum up to AAC
    coding noise). Arguments as :class:`FolderOfStems`, plus ``subset`` (``"train"`` or ``"test"``; when
    ``<root>/<subset>`` does not exist, ``root`` itself is searched).

    Raises:
        DependencyError: ffmpeg/ffprobe are not installed.
    """

    def __init__(self, root: str | Path, subset: str = "train", stems: Sequence[str] = MUSDB_STEMS,
                 segment_s: float | None = 6.0, sample_rate: int = 44100, random_segments: bool = True,
                 items_per_epoch: int | None = None, seed: int = 0, augment: Augmentation | None = None) -> None:
        unknown = [s for s in stems if s not in STEM_STREAMS or s == MIXTURE]
        if unknown:
            raise InputError(f"MUSDB18 has no stem {', '.join(unknown)}; use {', '.join(MUSDB_STEMS)}")
        folder = Path(root) / subset if (Path(root) / subset).is_dir() else Path(root)
        if not folder.is_dir():
            raise InputError(f"{folder}: no such folder; give the MUSDB18 root holding train/ and test/")
        self.folder = folder
        files = sorted(folder.glob("*.stem.mp4"))
        tracks = [_Track(f.name, probe_duration_s(f)) for f in files]
        if not tracks:
            raise InputError(f"{folder}: no .stem.mp4 files found")
        super().__init__(tracks, stems, segment_s, sample_rate, random_segments, items_per_epoch, seed, augment)

    def _read(self, track: _Track, start_s: float, length_s: float) -> dict[str, torch.Tensor]:
        path = self.folder / track.name
        return {stem: torch.from_numpy(decode_stem_stream(path, stem, self.sample_rate, start_s, length_s))
                for stem in self.stems}


def _stereo(audio: torch.Tensor) -> torch.Tensor:
    if audio.shape[0] == 1:
        return audio.expand(2, -1).contiguous()
    if audio.shape[0] != 2:
        raise InputError(f"stem files must be mono or stereo, got {audio.shape[0]} channels")
    return audio


def _fit(audio: torch.Tensor, length: int) -> torch.Tensor:
    """Zero-pad or cut ``[2, T]`` to ``length`` samples (files of a track may differ by a few samples)."""
    if audio.shape[-1] >= length:
        return audio[..., :length].contiguous()
    return torch.nn.functional.pad(audio, (0, length - audio.shape[-1]))
