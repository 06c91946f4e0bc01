"""Stem taxonomy: General MIDI programs to stem classes.

Program numbers here are MIDI program-change values, 0-based: GM's 1-based "33-40 basses" are 32-39 here.

Two levels:

- coarse classes, the MUSDB18 four: ``drums`` (the percussion channel), ``bass`` (GM 33-40), ``vocals`` (GM voice
  patches 53-55, plus real voice recordings, which carry no program) and ``other``;
- fine classes that split ``other`` (``piano``, ``keys``, ``guitar``, ``strings``, ``brass``, ``winds``, ``synth``,
  ``ethnic``, ``percussion``, ``fx``), so that custom stem sets such as a 6-stem
  ``vocals, drums, bass, guitar, piano, other`` come from the same engine.

:func:`stem_for` maps a program to the stem of a given stem set: the fine class when the set names it, else the
coarse class, else ``other`` when the set has one.
"""

from __future__ import annotations

from collections.abc import Sequence

from deconstruct.errors import InputError

COARSE_CLASSES = ("vocals", "drums", "bass", "other")
FINE_CLASSES = (
    "vocals", "drums", "bass", "piano", "keys", "guitar", "strings", "brass", "winds", "synth", "ethnic",
    "percussion", "fx",
)
STEM_SETS: dict[str, tuple[str, ...]] = {
    "4stems": ("vocals", "drums", "bass", "other"),
    "6stems": ("vocals", "drums", "bass", "guitar", "piano", "other"),
}

# 0-based program ranges (inclusive) of each fine class; GM families, with the voice patches taken out of the
# ensemble family and the synth strings moved to synth.
_FINE_RANGES: dict[str, tuple[tuple[int, int], ...]] = {
    "piano": ((0, 7),),
    "keys": ((8, 23),),  # chromatic percussion (celesta, mallets) and organs
    "guitar": ((24, 31),),
    "bass": ((32, 39),),
    "strings": ((40, 49),),  # solo strings, harp, timpani, string ensembles
    "synth": ((50, 51), (80, 103)),  # synth strings, leads, pads, synth effects
    "vocals": ((52, 54),),  # choir aahs, voice oohs, synth voice
    "fx": ((55, 55), (120, 127)),  # orchestra hit, sound effects
    "brass": ((56, 63),),
    "winds": ((64, 79),),  # reeds and pipes
    "ethnic": ((104, 111),),
    "percussion": ((112, 119),),  # pitched/tuned percussion patches (steel drums, taiko...), not the drum channel
}
_FINE_OF_PROGRAM: tuple[str, ...] = tuple(
    next(name for name, ranges in _FINE_RANGES.items() if any(lo <= p <= hi for lo, hi in ranges))
    for p in range(128)
)

# Programs that sound like music in a band context: the ones drawn when a class is asked for an instrument.
# Sound effects (seashore, gunshot...) and novelty patches are left out.
_UNMUSICAL = frozenset({55, 97, 98, 99, 101, 102, 103, 119, 120, 121, 122, 123, 124, 125, 126, 127})


def fine_class(program: int, is_drum: bool = False) -> str:
    """Fine stem class of a GM program (``drums`` for the percussion channel, whatever the kit number)."""
    _check_program(program)
    return "drums" if is_drum else _FINE_OF_PROGRAM[program]


def coarse_class(program: int, is_drum: bool = False) -> str:
    """Coarse (MUSDB18) class of a GM program: ``vocals``, ``drums``, ``bass`` or ``other``."""
    fine = fine_class(program, is_drum)
    return fine if fine in COARSE_CLASSES else "other"


def stem_for(program: int, is_drum: bool, stems: Sequence[str]) -> str | None:
    """The stem of ``stems`` a part played on ``program`` belongs to, or None when the set has no place for it.

    Args:
        program: 0-based GM program (for drum parts: the kit number, ignored).
        is_drum: True for the percussion channel.
        stems: the stem set, e.g. ``("vocals", "drums", "bass", "other")``.
    """
    return stem_for_class(fine_class(program, is_drum), stems)


def stem_for_class(fine: str, stems: Sequence[str]) -> str | None:
    """The stem of ``stems`` that a line of fine class ``fine`` belongs to (see :func:`stem_for`)."""
    if fine in stems:
        return fine
    coarse = fine if fine in COARSE_CLASSES else "other"
    if coarse in stems:
        return coarse
    return "other" if "other" in stems else None


def programs_of(fine: str) -> tuple[int, ...]:
    """The musical GM programs of a fine class (``drums``: the GM kit numbers)."""
    if fine == "drums":
        return DRUM_KITS
    if fine not in _FINE_RANGES:
        raise InputError(f"unknown instrument class {fine!r}; use one of {', '.join(FINE_CLASSES)}")
    return tuple(p for p in range(128) if _FINE_OF_PROGRAM[p] == fine and p not in _UNMUSICAL)


def validate_stems(stems: Sequence[str]) -> tuple[str, ...]:
    """Check a stem set: names must be known classes, unique, and at least one given."""
    stems = tuple(stems)
    if not stems:
        raise InputError("the stem set is empty; give stem names such as vocals, drums, bass, other")
    unknown = [s for s in stems if s not in FINE_CLASSES and s != "other"]
    if unknown:
        raise InputError(
            f"unknown stem name(s) {', '.join(unknown)}; use classes from {', '.join(FINE_CLASSES)} or 'other'"
        )
    if len(set(stems)) != len(stems):
        raise InputError(f"stem names repeat in {stems}")
    return stems


def _check_program(program: int) -> None:
    if not 0 <= int(program) <= 127:
        raise InputError(f"GM program must be 0-127 (0-based), got {program}")


# GM drum kits (bank 128 program numbers) present in the common GM soundfonts: standard, room, power, electronic,
# TR-808, jazz, brush, orchestra.
DRUM_KITS: tuple[int, ...] = (0, 8, 16, 24, 25, 32, 40, 48)
