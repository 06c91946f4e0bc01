"""Procedural note material: drum grooves, bass lines, chord parts and sung-style melodies.

:func:`compose` draws a style (rock, pop, funk, disco, ballad, swing, waltz, shuffle, bossa, hip-hop, reggae, metal),
a tempo in the style's range (70-170 bpm overall), a key and mode, a metre (4/4, 3/4, 12/8), a chord progression,
and then writes each role of a small band over it:

- ``drums``: the style's groove on a step grid, with ghost notes, open hi-hats, fills at phrase ends and crashes;
- ``bass``: root-based lines locked to the kick, root-fifth, walking or pedal, with approach notes;
- ``chords``: block, stab, arpeggio or strummed accompaniment (close voice-led voicings or guitar shapes);
- ``pad``: sustained voicings;
- ``melody``: vocal-like phrases (a singer's range, chord tones on strong beats, mostly steps, breaths between
  phrases) that the vocals stem sings;
- ``counter``: a busier instrumental line in another register.

Timing and velocity are humanised (per-note jitter, metric accents, swing). Everything is drawn from the
``numpy.random.Generator`` passed in, so the same generator state gives the same music.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from deconstruct.data.rendering.notes import NoteEvent, Part
from deconstruct.errors import InputError

ROLES = ("drums", "bass", "chords", "pad", "melody", "counter")

MODES: dict[str, tuple[int, ...]] = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
}
# Progressions as 0-based scale degrees, one chord per entry.
PROGRESSIONS: dict[str, tuple[tuple[int, ...], ...]] = {
    "major": ((0, 4, 5, 3), (0, 3, 4, 3), (5, 3, 0, 4), (0, 5, 3, 4), (1, 4, 0, 0), (0, 3, 0, 4), (0, 2, 3, 4),
              (3, 0, 4, 5), (0, 0, 3, 4), (0, 4, 3, 3)),
    "minor": ((0, 5, 2, 6), (0, 3, 4, 0), (0, 6, 5, 6), (0, 3, 6, 2), (0, 5, 3, 4), (0, 0, 3, 4)),
    "dorian": ((0, 3, 0, 3), (0, 6, 3, 0)),
    "mixolydian": ((0, 6, 3, 0), (0, 3, 6, 3)),
}
BLUES = (0, 0, 0, 0, 3, 3, 0, 0, 4, 3, 0, 4)

# GM percussion keys
KICK, SNARE, SIDESTICK, CLAP, HAT, PEDAL_HAT, OPEN_HAT, CRASH, RIDE, SHAKER, TAMBOURINE = (
    36, 38, 37, 39, 42, 44, 46, 49, 51, 70, 54)
TOMS = (50, 48, 47, 45, 43, 41)


@dataclass(frozen=True)
class Groove:
    """A one-bar drum pattern: per GM key, a string over the bar's steps (``x`` hit, ``o`` soft hit, ``.`` rest)."""

    hits: tuple[tuple[int, str], ...]


@dataclass(frozen=True)
class Style:
    """What a style fixes: tempo range, metre, feel, grooves and the accompaniment figures it uses."""

    name: str
    tempo_bpm: tuple[float, float]
    beats_per_bar: int
    steps_per_beat: int
    swing: float  # 0 straight; fraction of a step the off-steps are delayed (4 steps/beat only)
    grooves: tuple[Groove, ...]
    bass: tuple[str, ...]
    comp: tuple[str, ...]
    modes: tuple[str, ...] = ("major", "minor")
    blues: bool = False
    sevenths: bool = False
    tight: bool = False  # machine-timed drums


def _g(**lines: str) -> Groove:
    keys = {"k": KICK, "s": SNARE, "ss": SIDESTICK, "c": CLAP, "h": HAT, "ph": PEDAL_HAT, "oh": OPEN_HAT,
            "r": RIDE, "sh": SHAKER, "t": TAMBOURINE}
    return Groove(tuple((keys[name], pattern) for name, pattern in lines.items()))


STYLES: dict[str, Style] = {s.name: s for s in (
    Style("rock", (95, 150), 4, 4, 0.0,
          (_g(k="x.......x.x.....", s="....x.......x...", h="x.x.x.x.x.x.x.x."),
           _g(k="x......xx.x.....", s="....x.......x..o", h="x.x.x.x.x.x.x.x.")),
          ("root8", "kick", "root_fifth"), ("strum", "block", "stabs")),
    Style("pop", (80, 128), 4, 4, 0.0,
          (_g(k="x.....x.x.......", s="....x.......x...", h="x.x.x.x.x.x.x.x."),
           _g(k="x.....x...x.....", c="....x.......x...", h="xoxoxoxoxoxoxoxo", t="....x.......x...")),
          ("kick", "root8", "pedal"), ("arpeggio", "block", "strum", "sustain")),
    Style("funk", (88, 115), 4, 4, 0.0,
          (_g(k="x..x..x...x..x..", s="....x..o.o..x..o", h="xxxxxxxxxxxxxxxx"),
           _g(k="x.x...x..x......", s="..o.x..o.o.ox...", h="x.xox.xox.xox.xo")),
          ("funk", "kick"), ("stabs", "strum"), ("dorian", "minor", "mixolydian"), sevenths=True),
    Style("disco", (110, 132), 4, 4, 0.0,
          (_g(k="x...x...x...x...", c="....x.......x...", oh="..x...x...x...x.", h="x...x...x...x..."),
           _g(k="x...x...x...x...", s="....x.......x...", h="xxxxxxxxxxxxxxxx")),
          ("octave", "kick", "root8"), ("stabs", "arpeggio", "sustain"), ("minor", "major", "dorian"),
          tight=True),
    Style("ballad", (70, 84), 4, 4, 0.0,
          (_g(k="x.......x.......", ss="....x.......x...", h="x.x.x.x.x.x.x.x."),
           _g(k="x.....x.x.......", s="....x.......x...", r="x...x...x...x...")),
          ("pedal", "root_fifth"), ("arpeggio", "sustain", "block")),
    Style("swing", (100, 170), 4, 3, 0.0,
          (_g(k="o.....o.....", ph="...x.....x..", r="x..x.xx..x.x"),
           _g(ph="...x.....x..", r="x..x.xx..x.x", ss=".........o..")),
          ("walking",), ("stabs", "block"), ("major", "minor"), sevenths=True),
    Style("waltz", (84, 160), 3, 4, 0.0,
          (_g(k="x...........", s="....o...o...", h="x...x...x..."),
           _g(k="x.......x...", ss="....x...x...", h="x.x.x.x.x.x.")),
          ("pedal", "root_fifth"), ("block", "arpeggio")),
    Style("shuffle", (70, 110), 4, 3, 0.0,
          (_g(k="x.....x..x..", s="...x.....x..", h="x.xx.xx.xx.x"),
           _g(k="x..x..x.....", s="...x.....x..", r="x.xx.xx.xx.x")),
          ("walking", "root_fifth"), ("strum", "stabs"), ("major", "mixolydian"), blues=True, sevenths=True),
    Style("bossa", (110, 150), 4, 4, 0.0,
          (_g(k="x..xx..xx..xx..x", ss="x..x..x...x..x..", h="xxxxxxxxxxxxxxxx"),
           _g(k="x..xx..xx..xx..x", ss="x..x...x..x..x..", sh="xxxxxxxxxxxxxxxx")),
          ("root_fifth", "kick"), ("stabs", "arpeggio"), ("major", "minor"), sevenths=True),
    Style("hiphop", (72, 98), 4, 4, 0.18,
          (_g(k="x......x..x.....", s="....x.......x...", h="x.x.x.x.x.x.x.x."),
           _g(k="x.x.......xx....", c="....x.......x...", h="xxxxxxxxxxxxxxxx")),
          ("kick", "pedal"), ("sustain", "stabs", "arpeggio"), ("minor", "dorian"), tight=True),
    Style("reggae", (70, 90), 4, 4, 0.12,
          (_g(k="........x.......", ss="........x.......", h="x.x.x.x.x.x.x.x."),
           _g(k="x.......x.......", s="........x.......", h="x.xxx.xxx.xxx.xx")),
          ("kick", "root_fifth"), ("skank",), ("minor", "major")),
    Style("metal", (130, 170), 4, 4, 0.0,
          (_g(k="x.x.x.x.x.x.x.x.", s="....x.......x...", h="x...x...x...x..."),
           _g(k="xxxxxxxxxxxxxxxx", s="....x.......x...", r="x.x.x.x.x.x.x.x.")),
          ("root8",), ("strum", "block"), ("minor",)),
)}


@dataclass(frozen=True)
class Arrangement:
    """A composed piece.

    Attributes:
        style: the style's name.
        tempo_bpm: beats per minute.
        beats_per_bar: 4, 3...; each beat holds ``steps_per_beat`` grid steps (4: sixteenths; 3: triplets/12/8).
        key: tonic pitch class 0-11 (0 = C).
        mode: ``major``, ``minor``, ``dorian`` or ``mixolydian``.
        parts: role name → part (roles of :data:`ROLES`), programs left at 0 for the caller to choose.
        duration_s: length of the composed music in seconds.
    """

    style: str
    tempo_bpm: float
    beats_per_bar: int
    steps_per_beat: int
    key: int
    mode: str
    parts: dict[str, Part]
    duration_s: float

    @property
    def bar_s(self) -> float:
        return self.beats_per_bar * 60.0 / self.tempo_bpm


class _Grid:
    """Step-grid timing with swing and humanisation."""

    def __init__(self, style: Style, tempo_bpm: float, rng: np.random.Generator, humanise_s: float) -> None:
        self.style, self.rng, self.humanise_s = style, rng, humanise_s
        self.step_s = 60.0 / tempo_bpm / style.steps_per_beat
        self.steps_per_bar = style.beats_per_bar * style.steps_per_beat

    def time(self, step: float, jitter: bool = True) -> float:
        base = step * self.step_s
        if self.style.swing and self.style.steps_per_beat == 4 and int(step) % 2 == 1 and step == int(step):
            base += self.style.swing * self.step_s
        if jitter and self.humanise_s > 0:
            base += float(self.rng.normal(0.0, self.humanise_s))
        return base

    def accent(self, step: int) -> float:
        """Metric weight of a step in its bar: 1 downbeat, 0.85 beats, 0.7 off-beats, 0.6 the rest."""
        within = step % self.steps_per_bar
        if within == 0:
            return 1.0
        if within % self.style.steps_per_beat == 0:
            return 0.85
        return 0.7 if within % (self.style.steps_per_beat // 2 or 1) == 0 else 0.6


def _velocity(rng: np.random.Generator, level: float, accent: float, spread: float = 8.0) -> int:
    return int(np.clip(round(level * (0.55 + 0.45 * accent) + rng.normal(0.0, spread)), 1, 127))


def _chord(key: int, mode: str, degree: int, sevenths: bool, dominant: bool = False) -> tuple[int, ...]:
    """Pitch classes of the diatonic chord on ``degree`` (root first), optionally with its seventh."""
    scale = MODES[mode]
    tones = [scale[(degree + step) % 7] + 12 * ((degree + step) // 7) for step in (0, 2, 4, 6)]
    if dominant:  # blues / V of minor keys: major third, flat seventh
        tones = [tones[0], tones[0] + 4, tones[0] + 7, tones[0] + 10]
    tones = tones if sevenths or dominant else tones[:3]
    return tuple((key + t) % 12 for t in tones)


def _voice(pcs: tuple[int, ...], centre: float, low: int, high: int) -> list[int]:
    """Close voicing of pitch classes ``pcs`` nearest ``centre``, inside ``[low, high]``."""
    best, best_cost = None, 1e9
    for inversion in range(len(pcs)):
        order = pcs[inversion:] + pcs[:inversion]
        for base in range(low, high):
            if base % 12 != order[0]:
                continue
            notes = [base]
            for pc in order[1:]:
                nxt = notes[-1] + 1
                while nxt % 12 != pc:
                    nxt += 1
                notes.append(nxt)
            if notes[-1] > high:
                continue
            cost = abs(float(np.mean(notes)) - centre)
            if cost < best_cost:
                best, best_cost = notes, cost
    return best or [low + (pcs[0] - low) % 12]


def _guitar_shape(root_pc: int, third_pc: int, fifth_pc: int, rng: np.random.Generator) -> list[int]:
    """An open-position-like guitar voicing: root in E2-A3 then fifth, octave, third, fifth, root."""
    root = 40 + (root_pc - 40) % 12
    fifth = root + (fifth_pc - root_pc) % 12
    third = root + 12 + (third_pc - root_pc) % 12
    shape = [root, fifth, root + 12, third, fifth + 12, root + 24]
    return sorted({p for p in shape if p <= 84})[: int(rng.integers(4, 7))]


def compose(rng: np.random.Generator, duration_s: float, style: str | None = None,
            tempo_bpm: float | None = None) -> Arrangement:
    """Compose a piece at least ``duration_s`` long.

    Args:
        rng: the random source (the only one used).
        duration_s: minimum length in seconds (whole bars are written).
        style: a key of :data:`STYLES`; drawn at random when None.
        tempo_bpm: beats per minute; drawn from the style's range when None.
    """
    if style is not None and style not in STYLES:
        raise InputError(f"unknown style {style!r}; use one of {', '.join(sorted(STYLES))}")
    chosen = STYLES[style] if style is not None else STYLES[sorted(STYLES)[int(rng.integers(len(STYLES)))]]
    tempo = float(rng.uniform(*chosen.tempo_bpm)) if tempo_bpm is None else float(tempo_bpm)
    mode = chosen.modes[int(rng.integers(len(chosen.modes)))]
    key = int(rng.integers(12))
    humanise_s = 0.002 if chosen.tight else float(rng.uniform(0.004, 0.014))
    grid = _Grid(chosen, tempo, rng, humanise_s)
    bar_s = grid.steps_per_bar * grid.step_s
    bars = max(1, int(np.ceil(duration_s / bar_s)))

    progression = BLUES if chosen.blues else PROGRESSIONS[mode][int(rng.integers(len(PROGRESSIONS[mode])))]
    chords_per_bar = 2 if (tempo < 90 and rng.random() < 0.3 and not chosen.blues) else 1
    harmony = []  # per half/whole bar: pitch classes, root first
    for index in range(bars * chords_per_bar):
        degree = progression[index % len(progression)]
        dominant = chosen.blues or (mode == "minor" and degree == 4 and rng.random() < 0.6)
        harmony.append(_chord(key, mode, degree, chosen.sevenths, dominant))
    span = grid.steps_per_bar // chords_per_bar
    groove = chosen.grooves[int(rng.integers(len(chosen.grooves)))]

    parts = {
        "drums": _drums(chosen, groove, grid, bars, rng),
        "bass": _bass(chosen, groove, grid, harmony, span, rng),
        "chords": _comp(chosen, grid, harmony, span, rng),
        "pad": _pad(grid, harmony, span, rng),
        "melody": _melody(grid, harmony, span, bars, key, mode, rng, vocal=True),
        "counter": _melody(grid, harmony, span, bars, key, mode, rng, vocal=False),
    }
    return Arrangement(chosen.name, tempo, chosen.beats_per_bar, chosen.steps_per_beat, key, mode, parts,
                       bars * bar_s)


def _drums(style: Style, groove: Groove, grid: _Grid, bars: int, rng: np.random.Generator) -> Part:
    level = float(rng.uniform(80, 118))
    fill_every = int(rng.choice([2, 4, 8]))
    notes = []
    n = grid.steps_per_bar
    for bar in range(bars):
        fill = (bar + 1) % fill_every == 0 and rng.random() < 0.7
        fill_start = n - style.steps_per_beat * int(rng.integers(1, 3)) if fill else n
        for key, pattern in groove.hits:
            for step, symbol in enumerate(pattern[:n]):
                if symbol == "." or step >= fill_start:
                    continue
                if key in (HAT, RIDE, SHAKER) and rng.random() < 0.03:
                    continue  # an occasional dropped cymbal stroke
                hit_key = OPEN_HAT if key == HAT and step == n - 2 and rng.random() < 0.25 else key
                soft = 0.45 if symbol == "o" else 1.0
                vel = _velocity(rng, level * soft, grid.accent(step), 6.0)
                notes.append(NoteEvent(grid.time(bar * n + step), 0.1, hit_key, vel))
            if key == KICK and rng.random() < 0.15:  # ghost kick
                step = int(rng.integers(1, n))
                if pattern[step % len(pattern)] == ".":
                    notes.append(NoteEvent(grid.time(bar * n + step), 0.1, KICK, _velocity(rng, level * 0.6, 0.6)))
        if bar % fill_every == 0 and rng.random() < 0.6:
            notes.append(NoteEvent(grid.time(bar * n), 0.5, CRASH, _velocity(rng, level, 1.0)))
        for step in range(fill_start, n):  # fill: snare and toms walking down
            if rng.random() < 0.8:
                tom = TOMS[min(len(TOMS) - 1, (step - fill_start) * len(TOMS) // max(1, n - fill_start))]
                key = SNARE if rng.random() < 0.4 else tom
                notes.append(NoteEvent(grid.time(bar * n + step), 0.1, key, _velocity(rng, level, 0.8)))
    return Part("drums", tuple(notes), 0, True)


def _bass(style: Style, groove: Groove, grid: _Grid, harmony: list, span: int, rng: np.random.Generator) -> Part:
    figure = style.bass[int(rng.integers(len(style.bass)))]
    level = float(rng.uniform(75, 110))
    low = int(rng.integers(28, 36))  # lowest root: E1-B1 region
    kick_steps = {s for key, pattern in groove.hits if key == KICK for s, c in enumerate(pattern) if c != "."}
    per_beat = style.steps_per_beat
    notes = []
    for index, pcs in enumerate(harmony):
        root = low + (pcs[0] - low) % 12
        fifth = root + (pcs[2] - pcs[0]) % 12
        start = index * span
        nxt = harmony[(index + 1) % len(harmony)][0]
        next_root = low + (nxt - low) % 12
        if figure == "pedal":
            events = [(0, span, root)]
        elif figure == "root_fifth":
            half = span // 2
            events = [(0, half, root), (half, span - half, fifth if fifth - root < 12 else root)]
        elif figure == "root8":
            events = [(s, max(1, per_beat // 2), root) for s in range(0, span, max(1, per_beat // 2))]
        elif figure == "octave":
            step = max(1, per_beat // 2)
            events = [(s, step, root + (12 if (s // step) % 2 else 0)) for s in range(0, span, step)]
        elif figure == "walking":
            beats = span // per_beat
            scale_walk = [root, root + (pcs[1] - pcs[0]) % 12, fifth, next_root + (1 if rng.random() < 0.5 else -1)]
            events = [(b * per_beat, per_beat, scale_walk[b % 4] if b < beats - 1 else scale_walk[3])
                      for b in range(beats)]
        elif figure == "funk":
            events = []
            for s in range(span):
                if s == 0 or (s % 2 == 1 and rng.random() < 0.3) or (s % 4 == 2 and rng.random() < 0.4):
                    pitch = root + (12 if rng.random() < 0.25 else 0) + (7 if rng.random() < 0.1 else 0)
                    events.append((s, 1 if rng.random() < 0.6 else 2, pitch))
        else:  # "kick": notes where the kick plays
            steps = sorted(s for s in kick_steps if s < span) or [0]
            events = [(s, (steps[i + 1] if i + 1 < len(steps) else span) - s, root) for i, s in enumerate(steps)]
        if figure not in ("walking", "pedal") and rng.random() < 0.3 and span >= per_beat:
            approach = next_root + (-1 if rng.random() < 0.5 else 2)  # approach note into the next chord
            events = [e for e in events if e[0] < span - per_beat // 2] + [(span - max(1, per_beat // 2), 1, approach)]
        for offset, length, pitch in events:
            legato = float(rng.uniform(0.6, 0.95))
            pitch = int(min(max(pitch, 24), 60))
            notes.append(NoteEvent(grid.time(start + offset), max(0.05, length * grid.step_s * legato), pitch,
                                   _velocity(rng, level, grid.accent(start + offset))))
    return Part("bass", _monophonic(notes), 0, False)


def _comp(style: Style, grid: _Grid, harmony: list, span: int, rng: np.random.Generator) -> Part:
    figure = style.comp[int(rng.integers(len(style.comp)))]
    level = float(rng.uniform(60, 100))
    centre = float(rng.uniform(58, 68))
    per_beat = style.steps_per_beat
    notes, previous = [], None
    for index, pcs in enumerate(harmony):
        start = index * span
        voicing = _voice(pcs, centre if previous is None else 0.7 * float(np.mean(previous)) + 0.3 * centre, 48, 84)
        previous = voicing
        if figure == "strum":
            shape = _guitar_shape(pcs[0], pcs[1], pcs[2], rng)
            pattern = [s for s in range(0, span, max(1, per_beat // 2)) if s == 0 or rng.random() < 0.7]
            for k, s in enumerate(pattern):
                down = (s // max(1, per_beat // 2)) % 2 == 0
                strings = shape if down else shape[::-1][: max(3, len(shape) - 2)]
                spread = float(rng.uniform(0.008, 0.02))
                t0 = grid.time(start + s)
                length = ((pattern[k + 1] if k + 1 < len(pattern) else span) - s) * grid.step_s * 0.9
                vel = _velocity(rng, level * (1.0 if down else 0.8), grid.accent(start + s))
                for j, pitch in enumerate(strings):
                    notes.append(NoteEvent(t0 + j * spread, max(0.05, length - j * spread), pitch, vel))
            continue
        if figure == "arpeggio":
            step = max(1, per_beat // 2) if rng.random() < 0.6 else 1
            order = voicing + [voicing[0] + 12]
            for k, s in enumerate(range(0, span, step)):
                pitch = order[k % len(order)] if rng.random() < 0.85 else order[int(rng.integers(len(order)))]
                notes.append(NoteEvent(grid.time(start + s), step * grid.step_s * 1.6, pitch,
                                       _velocity(rng, level, grid.accent(start + s))))
            continue
        if figure == "block":
            hits = [(s, per_beat) for s in range(0, span, per_beat)]
        elif figure == "stabs":
            offbeats = (per_beat // 2, per_beat - 1)
            hits = [(s, 1) for s in range(span) if s == 0 or (s % per_beat in offbeats and rng.random() < 0.5)]
        elif figure == "skank":
            hits = [(s + per_beat // 2, max(1, per_beat // 4)) for s in range(0, span, per_beat)]
        else:  # sustain
            hits = [(0, span)]
        for s, length in hits:
            t0 = grid.time(start + s)
            vel = _velocity(rng, level, grid.accent(start + s))
            for pitch in voicing:
                notes.append(NoteEvent(t0, max(0.05, length * grid.step_s * 0.92), pitch, vel))
    return Part("chords", tuple(notes), 0, False)


def _pad(grid: _Grid, harmony: list, span: int, rng: np.random.Generator) -> Part:
    level = float(rng.uniform(50, 90))
    centre = float(rng.uniform(55, 70))
    notes, previous = [], None
    for index, pcs in enumerate(harmony):
        voicing = _voice(pcs, centre if previous is None else float(np.mean(previous)), 45, 81)
        previous = voicing
        t0 = index * span * grid.step_s + float(rng.normal(0.0, 0.01))
        for pitch in voicing:
            notes.append(NoteEvent(t0, span * grid.step_s * 0.98, pitch, _velocity(rng, level, 0.9, 4.0)))
    return Part("pad", tuple(notes), 0, False)


def _melody(grid: _Grid, harmony: list, span: int, bars: int, key: int, mode: str, rng: np.random.Generator,
            vocal: bool) -> Part:
    """Phrase-based line: rhythm cells, chord tones on strong steps, mostly stepwise, rests between phrases."""
    scale = [(key + interval) % 12 for interval in MODES[mode]]
    if vocal:
        low = int(rng.choice([48, 53, 57, 60]))  # baritone/tenor/alto/soprano-ish ranges of ~19 semitones
        high, level = low + 19, float(rng.uniform(70, 105))
        cells = (2, 2, 4, 4, 3, 6, 8, 1) if grid.style.steps_per_beat == 4 else (3, 3, 6, 2, 1, 9)
    else:
        low = int(rng.choice([55, 62, 67]))
        high, level = low + 24, float(rng.uniform(65, 100))
        cells = (1, 1, 2, 2, 2, 4, 3) if grid.style.steps_per_beat == 4 else (1, 1, 2, 3, 3)
    pitches = [p for p in range(low, high + 1) if p % 12 in scale]
    total = bars * grid.steps_per_bar
    phrase_steps = grid.steps_per_bar * int(rng.choice([1, 2, 2, 4]))
    notes = []
    position = 0 if rng.random() < 0.5 else int(rng.integers(1, grid.steps_per_bar))
    current = len(pitches) // 2
    motif: list[int] = []  # the previous phrase's rhythm, which the next phrase may repeat
    while position < total:
        boundary = (position // phrase_steps + 1) * phrase_steps
        if boundary - position < phrase_steps // 2:  # too close to the next phrase boundary: sing to the one after
            boundary += phrase_steps
        phrase_end = min(total, boundary - int(rng.integers(1, 5)))
        repeat = motif if rng.random() < 0.5 else []
        rhythm: list[int] = []
        while position < phrase_end:
            k = len(rhythm)
            length = repeat[k] if k < len(repeat) else int(rng.choice(cells))
            rhythm.append(length)
            length = min(length, phrase_end - position) or 1
            chord = harmony[min(len(harmony) - 1, position // span)]
            strong = position % grid.style.steps_per_beat == 0
            move = int(rng.choice([-1, 1, -1, 1, -2, 2, 0, -3, 3, 4, -4]))
            current = int(np.clip(current + move, 0, len(pitches) - 1))
            if strong and pitches[current] % 12 not in chord:
                near = [i for i in range(len(pitches)) if pitches[i] % 12 in chord]
                if near:
                    current = min(near, key=lambda i: abs(i - current))
            legato = float(rng.uniform(0.75, 0.98)) if vocal else float(rng.uniform(0.5, 0.95))
            notes.append(NoteEvent(grid.time(position), max(0.06, length * grid.step_s * legato), pitches[current],
                                   _velocity(rng, level, grid.accent(position), 6.0)))
            position += length
        motif = rhythm
        position = phrase_end + int(rng.integers(1, grid.style.steps_per_beat * 2 + 1))  # breath
    return Part("melody" if vocal else "counter", _monophonic(notes), 0, False)


def _monophonic(notes: list[NoteEvent]) -> tuple[NoteEvent, ...]:
    """Sort notes and trim each so it ends before the next starts (a monophonic line, no same-key overlaps)."""
    notes = sorted(notes, key=lambda n: n.onset_s)
    out = []
    for index, note in enumerate(notes):
        if index + 1 < len(notes):
            gap = notes[index + 1].onset_s - note.onset_s
            if gap <= 0.01:
                continue
            if note.duration_s > gap - 0.005:
                note = NoteEvent(note.onset_s, max(0.01, gap - 0.005), note.pitch, note.velocity)
        out.append(note)
    return tuple(out)
