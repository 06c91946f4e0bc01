"""Real band accompaniments for the suites that put a known source into a song.

Two kinds, both stereo at :data:`SAMPLE_RATE`, as stem name → ``[2, T]`` float32:

- the MUSDB18 preview of the ``eval`` split (drums, bass, other; its vocals are left out): a real produced band,
  usable for measuring only;
- multitracks rendered by the data engine (:class:`~deconstruct.data.rendering.multitrack.SyntheticMultitracks`:
  soundfont lines, with excerpts of real ``train`` recordings now and then), without their vocals: deterministic
  from a seed, any number of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from deconstruct.errors import InputError

__all__ = ["MUSDB_FOLDER", "SAMPLE_RATE", "Band", "data_root", "musdb_band", "rendered_bands"]

SAMPLE_RATE = 44100
MUSDB_FOLDER = "musdb18_music_delta_80s_rock"
SILENT_DB = -50.0


@dataclass(frozen=True)
class Band:
    """An accompaniment: its name and stem name → ``[2, T]`` float32 at :data:`SAMPLE_RATE`."""

    name: str
    stems: dict[str, torch.Tensor]

    @property
    def num_samples(self) -> int:
        return next(iter(self.stems.values())).shape[-1]


def data_root(root: str | Path | None = None) -> Path:
    """The shared data folder: ``root``, else ``$DECONSTRUCT_SHARED_DATA``, else ``shared/data`` beside the repository.

    Raises:
        InputError: no folder holding ``splits.json`` there.
    """
    import os

    if root is None:
        configured = os.environ.get("DECONSTRUCT_SHARED_DATA")
        root = configured or Path(__file__).resolve().parents[1].parent / "shared" / "data"
    root = Path(root).expanduser()
    if not (root / "splits.json").is_file():
        raise InputError(f"{root}: no splits.json; set DECONSTRUCT_SHARED_DATA to the shared data folder")
    return root


def musdb_band(root: str | Path | None = None) -> Band | None:
    """The MUSDB18 preview's drums, bass and other, or ``None`` when the data folder lacks it."""
    from eval.tracks import find_tracks

    folder = data_root(root) / MUSDB_FOLDER
    if not folder.exists():
        return None
    track = find_tracks(folder)[0].load()
    stems = {name: audio.to_channels(2).resampled(SAMPLE_RATE).samples.float()
             for name, audio in track.stems.items() if name != "vocals"}
    return Band(f"musdb:{track.name}", stems)


def rendered_bands(count: int, duration_s: float, seed: int, max_tries: int = 5) -> list[Band]:
    """``count`` accompaniments (drums, bass, other) rendered by the data engine, ``duration_s`` long each.

    Items are drawn in order from ``(seed, 0), (seed, 1), ...``; an item with a silent part (an arrangement without
    drums, say: active RMS under :data:`SILENT_DB`) is skipped, so every band plays all three parts and every true
    stem can be scored. Deterministic from the seed.

    Raises:
        InputError: fewer than ``count`` full bands in ``max_tries * count`` items.
    """
    if count <= 0:
        return []
    from deconstruct.data.rendering.mixing import active_rms
    from deconstruct.data.rendering.multitrack import SyntheticMultitracks

    tries = max_tries * count
    dataset = SyntheticMultitracks(seed=seed, num_items=tries, duration_s=duration_s, silence_probability=0.0,
                                   voice_library=None)
    bands = []
    for index in range(tries):
        stems = {name: x.float() for name, x in dataset.item(index).stems.items() if name != "vocals"}
        if all(active_rms(x.numpy()) > 10 ** (SILENT_DB / 20) for x in stems.values()):
            bands.append(Band(f"rendered:{seed}/{index}", stems))
            if len(bands) == count:
                return bands
    raise InputError(f"only {len(bands)} of {tries} rendered bands play every part; ask for fewer")
