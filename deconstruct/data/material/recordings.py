"""The real recordings of the shared data set that training may use: the ``train`` split of ``splits.json``.

The shared data folder is ``$DECONSTRUCT_SHARED_DATA`` when set, else ``shared/data`` beside the repository.
Only paths listed under ``train`` are ever returned; ``eval`` recordings only measure and never reach a dataset.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from deconstruct.errors import InputError

SHARED_DATA_ENV = "DECONSTRUCT_SHARED_DATA"
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3")
# Which train files are voices, and which are other instruments. Dagstuhl ChoirSet: per-singer dynamic (DYN) and
# headset (HSM) microphones only; larynx microphones (LRX) do not sound like a voice and the stereo room
# microphones hold the whole choir with the room's reverb.
_VOICE_PREFIXES = ("dry_speech/", "dry_vocals/", "dagstuhl_choirset")
_CHOIR_MICS = ("_DYN.", "_HSM.")
# Train recordings of instruments usable as whole lines, by fine stem class (file-name prefixes under the root).
# GuitarSet's single-string pickups, the lone contrabass note and the unlabelled Medley-solos-DB clip are left out.
_INSTRUMENT_CLIPS = {
    "guitarset_00_Funk1-114-Ab_solo/mic.": "guitar",
    "guitarset_00_Funk1-114-Ab_solo/pickup_mix.": "guitar",
    "dry_instruments/castanets_dry.": "drums",
}


SHARED_DATA_DEFAULT = Path(__file__).resolve().parents[3].parent / "shared" / "data"
"""Where the shared data set is looked for without the environment variable: ``shared/data`` beside the repository."""


def shared_data_root(require_splits: bool = True) -> Path | None:
    """The shared data folder: ``$DECONSTRUCT_SHARED_DATA`` when set, else :data:`SHARED_DATA_DEFAULT`.

    Args:
        require_splits: return ``None`` when the default folder holds no ``splits.json`` (a set variable is
            always returned, so a wrong setting fails loudly where it is used).
    """
    configured = os.environ.get(SHARED_DATA_ENV)
    folder = Path(configured).expanduser() if configured else SHARED_DATA_DEFAULT
    if configured or not require_splits or (folder / "splits.json").is_file():
        return folder
    return None


def train_files(root: Path | None = None) -> list[Path]:
    """Every audio file of the ``train`` split (folders expanded), sorted; empty when there is no data folder.

    Raises:
        InputError: ``splits.json`` exists but cannot be read.
    """
    root = shared_data_root() if root is None else Path(root)
    if root is None or not (root / "splits.json").is_file():
        return []
    try:
        entries = json.loads((root / "splits.json").read_text())["train"]
    except (OSError, ValueError, KeyError) as error:
        raise InputError(f"{root / 'splits.json'}: cannot read the train split ({error})") from None
    files: list[Path] = []
    for entry in entries:
        path = root / entry
        if path.is_dir():
            files.extend(p for p in sorted(path.iterdir()) if p.suffix.lower() in AUDIO_SUFFIXES)
        elif path.suffix.lower() in AUDIO_SUFFIXES and path.is_file():
            files.append(path)
    return sorted(files)


def train_voice_files(root: Path | None = None) -> list[Path]:
    """The ``train`` recordings of a single dry voice, speaking or singing."""
    root = shared_data_root() if root is None else Path(root)
    voices = []
    for path in train_files(root):
        relative = path.relative_to(root).as_posix()
        if not relative.startswith(_VOICE_PREFIXES):
            continue
        if relative.startswith("dagstuhl_choirset") and not any(mic in path.name for mic in _CHOIR_MICS):
            continue
        voices.append(path)
    return voices


def train_instrument_files(root: Path | None = None) -> dict[Path, str]:
    """``train`` recordings of a whole instrument line, mapped to their fine stem class (``guitar``, ``drums``)."""
    root = shared_data_root() if root is None else Path(root)
    clips = {}
    for path in train_files(root):
        relative = path.relative_to(root).as_posix()
        for prefix, fine in _INSTRUMENT_CLIPS.items():
            if relative.startswith(prefix):
                clips[path] = fine
    return clips
