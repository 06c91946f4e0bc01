"""Songs of the RawStems layout (the Music Source Restoration data set: 578 songs of raw, unprocessed stems).

RawStems keeps every song in its own folder, and inside it one folder per instrument group (``Voc``, ``Gtr``,
``Bass``, ``Kbs``, ``Orch``, ``Rhy``, ``Synth``, ``Misc``), each holding sub-group folders (``Voc/LV`` lead vocal,
``Voc/BV`` backing vocals, ``Gtr/EG`` electric guitar, ``Rhy/DK`` drum kit, ...) with the raw recordings
(``.flac``, ``.wav`` or ``.mp3``)::

    ROOT/<song>/Voc/LV/take1.flac
    ROOT/<song>/Rhy/DK/kick.flac
    ROOT/<song>/Bass/SB/bass.flac

The data set's split files list song folders relative to ``ROOT``, one a line. Here each group is mapped to the
four-stem set a separator gives (:data:`GROUP_ROLES`: ``Voc`` → vocals, ``Rhy`` → drums, ``Bass`` → bass, the rest
→ other) and a song becomes a dict role → the files whose sum is that stem.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from deconstruct.audio import resample
from deconstruct.errors import InputError

__all__ = ["GROUP_ROLES", "RAWSTEMS_SUFFIXES", "RawStemsSong", "list_rawstems_songs", "read_excerpt"]

GROUP_ROLES: Mapping[str, str] = {"Voc": "vocals", "Rhy": "drums", "Bass": "bass", "Gtr": "other", "Kbs": "other",
                                  "Orch": "other", "Synth": "other", "Misc": "other"}
"""RawStems instrument group → stem of the four-stem set."""
RAWSTEMS_SUFFIXES = (".flac", ".wav", ".mp3")


@dataclass(frozen=True)
class RawStemsSong:
    """One RawStems song: its folder and, per stem role, the raw files that sum to it.

    Attributes:
        folder: the song folder.
        stems: role (``vocals``, ``drums``, ``bass``, ``other``) → files, sorted.
    """

    folder: Path
    stems: Mapping[str, tuple[Path, ...]]

    @property
    def frames(self) -> int:
        """The shortest file's length in frames (excerpts are drawn inside it)."""
        return min(sf.info(str(f)).frames for files in self.stems.values() for f in files)

    @property
    def sample_rate(self) -> int:
        first = next(f for files in self.stems.values() for f in files)
        return int(sf.info(str(first)).samplerate)


def _song(folder: Path) -> RawStemsSong | None:
    stems: dict[str, list[Path]] = {}
    for group in sorted(p for p in folder.iterdir() if p.is_dir()):
        role = GROUP_ROLES.get(group.name)
        if role is None:
            continue
        files = sorted(p for p in group.rglob("*") if p.is_file() and p.suffix.lower() in RAWSTEMS_SUFFIXES)
        stems.setdefault(role, []).extend(files)
    stems = {role: files for role, files in stems.items() if files}
    return RawStemsSong(folder, {role: tuple(sorted(files)) for role, files in stems.items()}) if stems else None


def list_rawstems_songs(root: str | os.PathLike, file_list: str | os.PathLike | None = None,
                        min_stems: int = 2) -> list[RawStemsSong]:
    """The songs of a RawStems folder.

    Args:
        root: the data set's root folder (one folder per song).
        file_list: optional split file: song folders relative to ``root``, one a line (blank lines skipped).
        min_stems: songs with fewer stem roles are left out (a mix needs neighbours).

    Returns:
        The songs, sorted by folder.

    Raises:
        InputError: ``root`` is not a folder, a listed song is missing, or no song has ``min_stems`` roles.
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise InputError(f"{root}: not a RawStems folder; point rawstems.root at the folder holding one folder per song")
    if file_list is not None:
        names = [line.strip() for line in Path(file_list).read_text().splitlines() if line.strip()]
        folders = [root / name for name in names]
        missing = [str(f) for f in folders if not f.is_dir()]
        if missing:
            raise InputError(f"{len(missing)} song folder(s) of {file_list} are missing under {root}, "
                             f"e.g. {missing[0]}; check rawstems.root")
    else:
        folders = sorted(p for p in root.iterdir() if p.is_dir())
    songs = [song for song in map(_song, folders) if song is not None and len(song.stems) >= min_stems]
    if not songs:
        raise InputError(f"{root}: no song folder with at least {min_stems} of the groups "
                         f"{', '.join(GROUP_ROLES)}; is this the RawStems layout (SONG/Voc/LV/*.flac)?")
    return songs


def read_excerpt(song: RawStemsSong, start_s: float, duration_s: float, sample_rate: int,
                 roles: Sequence[str] | None = None) -> dict[str, torch.Tensor]:
    """Each stem of a song over one excerpt: the sum of its files, stereo, at ``sample_rate``.

    Shape:
        returns role → ``[2, round(duration_s * sample_rate)]`` float32 (zero-padded past a file's end).
    """
    length = round(duration_s * sample_rate)
    out = {}
    for role in roles or sorted(song.stems):
        total = torch.zeros(2, length)
        for path in song.stems.get(role, ()):
            info = sf.info(str(path))
            start = int(start_s * info.samplerate)
            frames = int(np.ceil(duration_s * info.samplerate))
            data, rate = sf.read(str(path), start=start, frames=frames, dtype="float32", always_2d=True)
            audio = torch.from_numpy(np.ascontiguousarray(data.T))
            audio = audio.expand(2, -1) if audio.shape[0] == 1 else audio[:2]
            audio = resample(audio.contiguous(), int(rate), sample_rate)[:, :length]
            total[:, : audio.shape[1]] += audio
        out[role] = total
    return out
