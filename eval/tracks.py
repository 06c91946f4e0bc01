"""Multitrack test sets for the separation suite: MUSDB-style WAV folders and NI ``.stem.mp4`` files.

A *WAV track* is a folder holding ``mixture.wav`` beside one WAV per stem (MUSDB18-HQ:
``<root>/<track>/{mixture,vocals,drums,bass,other}.wav``). A *stem-file track* is an NI STEMS file
(MUSDB18: streams mixture, drums, bass, other, vocals), decoded with ffmpeg. :func:`find_tracks` accepts one
track (folder or file) or any folder above them, searched recursively; a folder holding ``mixture.wav`` is a
WAV track and is not searched further.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from deconstruct.audio import Audio, load_audio
from deconstruct.errors import InputError

__all__ = ["MUSDB_STEMS", "Track", "TrackSource", "find_tracks"]

MUSDB_STEMS = ("vocals", "drums", "bass", "other")
STEM_SUFFIX = ".stem.mp4"


@dataclass(frozen=True)
class Track:
    """One multitrack song held in memory.

    Attributes:
        name: the track's name (folder or file name).
        mixture: the mixture.
        stems: the true stems by name, same rate, channel count and length as the mixture.
    """

    name: str
    mixture: Audio
    stems: dict[str, Audio]


@dataclass(frozen=True)
class TrackSource:
    """Where a track lives on disk; :meth:`load` reads it.

    Attributes:
        name: the track's name.
        path: the track folder (WAV track) or the ``.stem.mp4`` file.
    """

    name: str
    path: Path

    def load(self) -> Track:
        """Read the mixture and the stems, trimmed to their common length.

        Raises:
            InputError: unreadable audio, or stems whose rate or channel count differ from the mixture's.
        """
        if self.path.is_dir():
            mixture = load_audio(self.path / "mixture.wav")
            stems = {name: load_audio(self.path / f"{name}.wav") for name in _wav_stem_names(self.path)}
        else:
            mixture = load_audio(self.path, stream="mixture")
            stems = {name: load_audio(self.path, stream=name) for name in MUSDB_STEMS}
        for name, stem in stems.items():
            if (stem.sample_rate, stem.channels) != (mixture.sample_rate, mixture.channels):
                raise InputError(
                    f"{self.path}: stem {name!r} is {stem.channels} ch at {stem.sample_rate} Hz but the mixture is "
                    f"{mixture.channels} ch at {mixture.sample_rate} Hz; give stems in the mixture's format"
                )
        length = min(audio.num_samples for audio in (mixture, *stems.values()))
        return Track(self.name, _trim(mixture, length), {name: _trim(stem, length) for name, stem in stems.items()})


def find_tracks(path: str | os.PathLike) -> list[TrackSource]:
    """The tracks at or below ``path``, sorted by name.

    Raises:
        InputError: the path does not exist or holds no track.
    """
    root = Path(path)
    if not root.exists():
        raise InputError(f"{root}: no such file or folder; give a track folder, a .stem.mp4 file or a data set root")
    if root.is_file():
        if not root.name.lower().endswith(STEM_SUFFIX):
            raise InputError(f"{root}: not a track; give a folder holding mixture.wav and stems, or a .stem.mp4 file")
        return [TrackSource(root.name[: -len(STEM_SUFFIX)], root)]
    tracks = []
    for folder, subfolders, files in os.walk(root):
        folder_path = Path(folder)
        if "mixture.wav" in files:
            subfolders.clear()
            tracks.append(TrackSource(folder_path.name, folder_path))
            continue
        subfolders.sort()
        tracks += [
            TrackSource(name[: -len(STEM_SUFFIX)], folder_path / name)
            for name in sorted(files)
            if name.lower().endswith(STEM_SUFFIX)
        ]
    if not tracks:
        raise InputError(
            f"{root}: no tracks found; expected <track>/mixture.wav with one WAV per stem, or *.stem.mp4 files"
        )
    return sorted(tracks, key=lambda track: (track.name, str(track.path)))


def _wav_stem_names(folder: Path) -> list[str]:
    """The stems of a WAV track: the four MUSDB stems when all are present, else every WAV but the mixture."""
    names = sorted(p.stem for p in folder.glob("*.wav") if p.stem != "mixture" and not p.name.startswith("."))
    if all(name in names for name in MUSDB_STEMS):
        return list(MUSDB_STEMS)
    if not names:
        raise InputError(f"{folder}: holds mixture.wav but no stem WAVs; add one WAV per stem")
    return names


def _trim(audio: Audio, length: int) -> Audio:
    return audio if audio.num_samples == length else Audio(audio.samples[:, :length], audio.sample_rate)
