"""The note-event types shared by the composers (procedural and score-based) and the soundfont renderer."""

from __future__ import annotations

from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class NoteEvent:
    """One note.

    Attributes:
        onset_s: start time in seconds from the start of the piece (may be negative: sounding before the segment).
        duration_s: held time in seconds (the instrument's release rings on after it).
        pitch: MIDI key number 0-127 (for drum parts, the GM percussion key: 36 kick, 38 snare, 42 closed hi-hat...).
        velocity: MIDI velocity 1-127.
    """

    onset_s: float
    duration_s: float
    pitch: int
    velocity: int

    def __post_init__(self) -> None:
        if not 0 <= self.pitch <= 127:
            raise ValueError(f"pitch must be a MIDI key 0-127, got {self.pitch}")
        if not 1 <= self.velocity <= 127:
            raise ValueError(f"velocity must be 1-127, got {self.velocity}")
        if self.duration_s <= 0:
            raise ValueError(f"duration_s must be positive, got {self.duration_s}")

    @property
    def offset_s(self) -> float:
        """Release time in seconds."""
        return self.onset_s + self.duration_s


@dataclass(frozen=True)
class PitchBend:
    """A pitch-bend point: from ``time_s`` on, the part sounds ``semitones`` away from its notes (range ±12)."""

    time_s: float
    semitones: float


@dataclass(frozen=True)
class Part:
    """One instrument's line: what a separate track of a multitrack recording would hold.

    Attributes:
        name: a role name such as ``"bass"``, ``"melody"``, ``"chords"``, ``"drums"`` or a score part's name.
        notes: the notes, any order.
        program: General MIDI program 0-127 (for drum parts: the GM drum-kit number, 0 standard, 25 TR-808...).
        is_drum: True for the GM percussion channel (bank 128).
        bends: pitch-bend curve (vibrato, glides), sorted by time; empty for none.
    """

    name: str
    notes: tuple[NoteEvent, ...]
    program: int = 0
    is_drum: bool = False
    bends: tuple[PitchBend, ...] = field(default=())

    def __post_init__(self) -> None:
        if not 0 <= self.program <= 127:
            raise ValueError(f"program must be a GM program 0-127, got {self.program}")

    def with_program(self, program: int, is_drum: bool | None = None) -> Part:
        """Return this line played on another program (and, optionally, channel kind)."""
        return replace(self, program=program, is_drum=self.is_drum if is_drum is None else is_drum)

    def shifted(self, offset_s: float) -> Part:
        """Return this part with every time moved by ``offset_s`` seconds (negative: earlier)."""
        notes = tuple(replace(n, onset_s=n.onset_s + offset_s) for n in self.notes)
        bends = tuple(replace(b, time_s=b.time_s + offset_s) for b in self.bends)
        return replace(self, notes=notes, bends=bends)

    def transposed(self, semitones: int) -> Part:
        """Return this part transposed by whole semitones, notes folded by octaves into the MIDI range."""
        def fold(pitch: int) -> int:
            pitch += semitones
            while pitch > 127:
                pitch -= 12
            while pitch < 0:
                pitch += 12
            return pitch

        return replace(self, notes=tuple(replace(n, pitch=fold(n.pitch)) for n in self.notes))

    @property
    def end_s(self) -> float:
        """Time the last note is released (0 for an empty part)."""
        return max((n.offset_s for n in self.notes), default=0.0)
