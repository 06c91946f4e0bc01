"""Render note parts through a General MIDI soundfont into dry, separate instrument tracks.

The synthesizer is FluidSynth (Debian ``fluidsynth``/``libfluidsynth3``) driven through :mod:`ctypes`, with its
reverb and chorus off. All parts of a multitrack are rendered in one pass, each on its own MIDI channel with its
own stereo output, so every track is exactly one instrument and the mixture is their sum. Rendering is
deterministic: the same parts give bit-identical audio, whatever was rendered before in the process.

The soundfont is found through the ``DECONSTRUCT_SOUNDFONT`` environment variable, else Debian's
``fluid-soundfont-gm`` (``/usr/share/sounds/sf2/FluidR3_GM.sf2``), else MuseScore's General soundfont.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from deconstruct.data.rendering.fluidsynth_lib import BLOCK, Synth
from deconstruct.data.rendering.notes import Part
from deconstruct.errors import DependencyError, InputError

SOUNDFONT_ENV = "DECONSTRUCT_SOUNDFONT"
STANDARD_SOUNDFONTS = (
    Path("/usr/share/sounds/sf2/FluidR3_GM.sf2"),
    Path("/usr/share/sounds/sf2/MuseScore_General.sf2"),
    Path("/usr/share/sounds/sf3/MuseScore_General.sf3"),
)
MAX_PARTS = 16
RELEASE_S = 1.0  # how long before the segment a note may have ended and still ring into it
_LOCK = threading.Lock()  # one synthesizer per process: threads take turns


def find_soundfont() -> Path:
    """Locate the General MIDI soundfont.

    Returns:
        ``$DECONSTRUCT_SOUNDFONT`` when set, else the first of :data:`STANDARD_SOUNDFONTS` that exists.

    Raises:
        DependencyError: the variable names a missing file, or no soundfont is installed.
    """
    configured = os.environ.get(SOUNDFONT_ENV)
    if configured:
        path = Path(configured).expanduser()
        if not path.is_file():
            raise DependencyError(
                f"{SOUNDFONT_ENV}={configured} is not a file; point it at a General MIDI .sf2/.sf3 soundfont "
                "or unset it to use fluid-soundfont-gm"
            )
        return path
    for path in STANDARD_SOUNDFONTS:
        if path.is_file():
            return path
    raise DependencyError(
        "no General MIDI soundfont found; install the Debian package fluid-soundfont-gm "
        f"(apt-get install fluid-soundfont-gm) or set {SOUNDFONT_ENV} to an .sf2 file"
    )


@functools.lru_cache(maxsize=2)
def _synth(soundfont: Path, sample_rate: int, pid: int) -> Synth:
    """One loaded synthesizer per (soundfont, rate, process): loading FluidR3_GM takes ~0.5 s and ~150 MB."""
    del pid  # part of the cache key only: a forked data-loader worker builds its own synthesizer
    return Synth(soundfont, sample_rate=sample_rate, channels=MAX_PARTS)


def render_parts(parts: Sequence[Part], num_samples: int, sample_rate: int = 44100, start_s: float = 0.0,
                 soundfont: Path | None = None) -> np.ndarray:
    """Render each part alone, dry, as stereo.

    Args:
        parts: up to 16 parts (drum parts included); notes before ``start_s`` still ring into the output.
        num_samples: output length in samples.
        sample_rate: output rate in Hz.
        start_s: the piece's time (s) at the first output sample.
        soundfont: the soundfont file; :func:`find_soundfont` when None.

    Returns:
        float32 array shaped ``[len(parts), 2, num_samples]``: part ``k``'s left and right channels. Event times are
        quantised to FluidSynth's 64-sample blocks (1.45 ms at 44.1 kHz).

    Raises:
        InputError: more than 16 parts, or a program or drum kit the soundfont lacks.
        DependencyError: no soundfont or FluidSynth library.
    """
    if len(parts) > MAX_PARTS:
        raise InputError(f"at most {MAX_PARTS} parts render together, got {len(parts)}")
    synth = _synth(Path(soundfont) if soundfont else find_soundfont(), int(sample_rate), os.getpid())
    with _LOCK:
        return _render(synth, parts, num_samples, sample_rate, start_s)


def _render(synth: Synth, parts: Sequence[Part], num_samples: int, sample_rate: int, start_s: float) -> np.ndarray:
    synth.reset()
    for channel, part in enumerate(parts):
        if not synth.select(channel, part.program, part.is_drum):
            kind = "drum kit" if part.is_drum else "program"
            raise InputError(f"the soundfont has no {kind} {part.program} (part {part.name!r})")

    sounding = [n.onset_s for p in parts for n in p.notes if n.offset_s > start_s - RELEASE_S]
    first_s = min([start_s, *sounding])
    origin = int(np.floor((first_s * sample_rate) / BLOCK)) * BLOCK  # absolute sample of buffer index 0
    skip = int(round(start_s * sample_rate)) - origin
    total = -(-(skip + num_samples) // BLOCK) * BLOCK
    out = np.zeros((2 * synth.channels, total), dtype=np.float32)

    position = 0
    for index, action, channel, a, b in _events(parts, sample_rate, origin, total):
        if index > position:
            synth.process(out, position, index)
            position = index
        if action == 0:
            synth.noteoff(channel, a)
        elif action == 1:
            synth.pitch_bend(channel, b)
        else:
            synth.noteon(channel, a, b)
    synth.process(out, position, total)
    return out[: 2 * len(parts), skip: skip + num_samples].reshape(len(parts), 2, num_samples).copy()


def _events(parts: Sequence[Part], sample_rate: int, origin: int, total: int) -> list[tuple]:
    """MIDI events as ``(block-aligned buffer index, action, channel, a, b)``, sorted.

    Actions sort as: note-off (0) before pitch bend (1) before note-on (2) at the same index, so a repeated key
    restarts cleanly. Events outside ``[0, total)`` are dropped; notes still held at the end are simply cut.
    """
    def index(time_s: float) -> int:
        return int(round((time_s * sample_rate - origin) / BLOCK)) * BLOCK

    events = []
    for channel, part in enumerate(parts):
        for note in part.notes:
            on, off = index(note.onset_s), index(note.offset_s)
            if off <= 0 or on >= total:
                continue
            off = max(off, on + BLOCK)
            events.append((max(on, 0), 2, channel, note.pitch, note.velocity))
            if off < total:
                events.append((off, 0, channel, note.pitch, 0))
        for bend in part.bends:
            events.append((min(max(index(bend.time_s), 0), total - BLOCK), 1, channel, 0, bend.semitones))
    events.sort(key=lambda e: (e[0], e[1], e[2]))
    return events
