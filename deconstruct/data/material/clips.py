"""Real instrument recordings (``train`` split) dropped into synthetic multitracks as extra lines.

A clip is a random excerpt of a recording of one instrument (a dry guitar take, castanets...). It does not follow
the piece's tempo or key, like the cross-song stem remixing of Demucs-style training, but it brings recorded
timbres into a synthetic mix.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deconstruct.audio import load_audio, resample
from deconstruct.data.material.recordings import train_instrument_files


@dataclass(frozen=True)
class Clip:
    """A mono recording at the library's rate and its fine stem class."""

    name: str
    fine_class: str
    samples: np.ndarray


class ClipLibrary:
    """Instrument recordings to excerpt.

    Args:
        clips: the loaded clips.
        sample_rate: their rate (Hz).
    """

    def __init__(self, clips: list[Clip], sample_rate: int) -> None:
        self.clips, self.sample_rate = tuple(clips), int(sample_rate)

    def __len__(self) -> int:
        return len(self.clips)

    @classmethod
    def from_files(cls, files: Mapping[Path, str], sample_rate: int = 44100) -> ClipLibrary:
        """Load ``path → fine class`` recordings (stereo is averaged to mono)."""
        clips = []
        for path, fine in sorted(files.items()):
            audio = load_audio(path)
            mono = resample(audio.samples.mean(dim=0, keepdim=True), audio.sample_rate, sample_rate)[0].numpy()
            clips.append(Clip(Path(path).name, fine, mono.astype(np.float32)))
        return cls(clips, sample_rate)

    @classmethod
    def default(cls, sample_rate: int = 44100) -> ClipLibrary | None:
        """The ``train`` instrument recordings of the shared data set; None when that folder is absent."""
        files = train_instrument_files()
        return cls.from_files(files, sample_rate) if files else None

    def excerpt(self, num_samples: int, rng: np.random.Generator, classes: set[str] | None = None,
                ) -> tuple[Clip, np.ndarray] | None:
        """A random excerpt ``[2, num_samples]`` (looped when the clip is shorter) of a clip whose class is in
        ``classes`` (any when None); None when no clip qualifies."""
        pool = [clip for clip in self.clips if classes is None or clip.fine_class in classes]
        if not pool:
            return None
        clip = pool[int(rng.integers(len(pool)))]
        start = int(rng.integers(len(clip.samples)))
        indices = (start + np.arange(num_samples)) % len(clip.samples)
        mono = clip.samples[indices]
        return clip, np.stack([mono, mono])
