"""Multi-part scores from the music21 corpus (shipped inside the music21 package) as arrangements.

Bach chorales, Palestrina masses, trecento motets and Haydn and Mozart string quartets give real part
writing. :func:`score_arrangement` takes a random excerpt of a random work, plays it at a drawn tempo with
humanised timing and dynamics, and maps its parts to roles: the top part sings (``melody``), the lowest plays the
``bass`` (moved into the bass register), inner parts become accompanying instruments; a procedural drum groove at
the same tempo joins about half of the time.

Parsing is slow (a chorale ~50 ms, a Palestrina mass movement ~0.2 s, a quartet movement ~0.5 s; Beethoven's
quartets, up to 7 s, are left out), so parsed works are kept in memory and as small JSON files in
:func:`cache_dir`; :func:`prepare_scores` fills that cache ahead of training.
"""

from __future__ import annotations

import functools
import json
import os
from dataclasses import replace
from pathlib import Path

import numpy as np

from deconstruct.data.rendering.composition import Arrangement, compose
from deconstruct.data.rendering.notes import NoteEvent, Part
from deconstruct.errors import DependencyError, OutputError
from deconstruct.files import write_text_atomic

# (composer in the music21 corpus, file suffixes to use, weight when drawing a family)
FAMILIES: tuple[tuple[str, tuple[str, ...], float], ...] = (
    ("bach", (".mxl", ".xml"), 0.45),
    ("palestrina", (".krn",), 0.2),
    ("trecento", (".xml", ".mxl"), 0.1),
    ("haydn", (".mxl",), 0.12),
    ("mozart", (".mxl",), 0.13),
)
CACHE_ENV = "DECONSTRUCT_CACHE"
_CACHE_VERSION = 1
# A score note as (onset in quarter notes, length in quarter notes, MIDI key)
_QNote = tuple[float, float, int]


@functools.cache
def corpus_works(composer: str, suffixes: tuple[str, ...]) -> tuple[Path, ...]:
    """The corpus files of one composer with the given suffixes, sorted (stable across machines)."""
    corpus = _music21_corpus()
    return tuple(sorted(Path(p) for p in corpus.getComposer(composer) if Path(p).suffix in suffixes))


@functools.lru_cache(maxsize=512)
def parse_work(path: Path) -> tuple[tuple[tuple[str, tuple[_QNote, ...]], ...], int, float]:
    """Parse a work into its parts' notes in quarter-note time (memoised in memory and in :func:`cache_dir`).

    Returns:
        ``((part name, notes), ...)`` top to bottom as the score lists them, beats per bar (from the first time
        signature; 4 when absent) and the length in quarter notes.
    """
    cached = cache_dir() / f"{path.parent.name}__{path.name}.json"
    try:
        data = json.loads(cached.read_text())
        if data.get("version") == _CACHE_VERSION:
            parts = tuple((name, tuple(tuple(n) for n in notes)) for name, notes in data["parts"])
            return parts, int(data["beats"]), float(data["length_q"])
    except (OSError, ValueError, KeyError):
        pass
    parsed = _parse(path)
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(cached, json.dumps({"version": _CACHE_VERSION, "parts": parsed[0], "beats": parsed[1],
                                              "length_q": parsed[2]}))
    except (OSError, OutputError):
        pass  # a read-only cache only costs speed
    return parsed


def cache_dir() -> Path:
    """Where parsed works are kept: ``$DECONSTRUCT_CACHE/scores``, else ``~/.cache/deconstruct/scores``."""
    base = os.environ.get(CACHE_ENV)
    if base:
        return Path(base) / "scores"
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "deconstruct" / "scores"


def prepare_scores() -> int:
    """Parse every work of :data:`FAMILIES` into the cache ahead of training (minutes, once); returns the count."""
    count = 0
    for composer, suffixes, _ in FAMILIES:
        for path in corpus_works(composer, suffixes):
            parse_work(path)
            count += 1
    return count


def _parse(path: Path) -> tuple[tuple[tuple[str, tuple[_QNote, ...]], ...], int, float]:
    corpus = _music21_corpus()
    from music21 import meter

    score = corpus.parse(str(path))
    parts = []
    for index, part in enumerate(getattr(score, "parts", [])):
        notes: list[_QNote] = []
        for element in part.stripTies().flatten().notes:
            length = float(element.quarterLength)
            if length <= 0:
                continue
            for pitch in element.pitches:
                notes.append((float(element.offset), length, int(pitch.midi)))
        if notes:
            parts.append((part.partName or f"part{index + 1}", tuple(sorted(notes))))
    signatures = list(score.recurse().getElementsByClass(meter.TimeSignature))
    beats = int(signatures[0].numerator) if signatures and signatures[0].denominator in (2, 4) else 4
    return tuple(parts), beats, float(score.highestTime)


def score_arrangement(rng: np.random.Generator, duration_s: float, drums_probability: float = 0.5,
                      ) -> Arrangement | None:
    """An arrangement from a random corpus excerpt at least ``duration_s`` long (None when the drawn work has
    fewer than two usable parts or is too short)."""
    weights = np.array([w for _, _, w in FAMILIES])
    composer, suffixes, _ = FAMILIES[int(rng.choice(len(FAMILIES), p=weights / weights.sum()))]
    works = corpus_works(composer, suffixes)
    if not works:
        return None
    path = works[int(rng.integers(len(works)))]
    parts, beats_per_bar, length_q = parse_work(path)
    parts = tuple(p for p in parts if p[1])
    if len(parts) < 2:
        return None
    tempo = float(rng.uniform(70.0, 132.0))
    need_q = duration_s * tempo / 60.0
    if length_q < need_q:
        return None
    start_q = float(np.floor(rng.uniform(0.0, length_q - need_q) / beats_per_bar) * beats_per_bar)
    beat_s = 60.0 / tempo
    jitter_s = float(rng.uniform(0.004, 0.015))
    roles = _roles(len(parts))
    arranged: dict[str, Part] = {}
    for (_, notes), role in zip(parts, roles, strict=True):
        level = float(rng.uniform(60.0, 105.0))
        events = []
        for onset_q, length_q_note, pitch in notes:
            if onset_q + length_q_note <= start_q or onset_q >= start_q + need_q:
                continue
            onset = (onset_q - start_q) * beat_s + float(rng.normal(0.0, jitter_s))
            velocity = int(np.clip(level + rng.normal(0.0, 7.0), 1, 127))
            events.append(NoteEvent(onset, max(0.05, length_q_note * beat_s * 0.95), pitch, velocity))
        if not events:
            continue
        part = Part(role, tuple(events))
        if role == "bass":
            part = _into_register(part, 31, 45)
        arranged[role] = part
    if "melody" not in arranged or len(arranged) < 2:
        return None
    style = "waltz" if beats_per_bar == 3 else None
    if rng.random() < drums_probability and beats_per_bar in (3, 4):
        groove = compose(rng, duration_s, style=style or str(rng.choice(["rock", "pop", "ballad", "bossa"])),
                         tempo_bpm=tempo)
        arranged["drums"] = groove.parts["drums"]
    return Arrangement(f"score:{composer}", tempo, beats_per_bar, 4, 0, "major", arranged, need_q * beat_s)


def _roles(count: int) -> list[str]:
    """Top part sings, bottom part is the bass, inner parts accompany."""
    inner = ["chords", "counter", "pad"] + [f"inner{k}" for k in range(1, max(1, count - 4))]
    return ["melody"] + inner[: count - 2] + ["bass"]


def _into_register(part: Part, low: int, high: int) -> Part:
    """Transpose by octaves so the part's median pitch lies within ``[low, high]``."""
    median = float(np.median([n.pitch for n in part.notes]))
    shift = 0
    while median + shift > high:
        shift -= 12
    while median + shift < low:
        shift += 12
    return part.transposed(shift) if shift else replace(part)


def _music21_corpus():
    try:
        from music21 import corpus
    except ImportError:
        raise DependencyError("music21 is needed for score-based items; pip install music21") from None
    return corpus
