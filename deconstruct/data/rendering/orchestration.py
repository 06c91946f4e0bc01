"""Choose instruments for the roles of a composed piece: which GM program plays each line.

Choices favour instrument classes that the requested stem set names, so a 6-stem set (with ``guitar`` and
``piano``) gets guitars and pianos often, and the 4-stem set still hears every family in ``other``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from deconstruct.data.rendering import taxonomy

# Candidate fine classes per role with base weights.
ROLE_CLASSES: dict[str, dict[str, float]] = {
    "chords": {"piano": 3.0, "guitar": 3.0, "keys": 1.5, "synth": 1.0, "strings": 0.5, "brass": 0.3},
    "pad": {"strings": 2.0, "synth": 2.0, "keys": 1.0, "brass": 0.5, "winds": 0.3, "vocals": 0.6},
    "counter": {"winds": 1.5, "brass": 1.0, "synth": 1.5, "guitar": 1.5, "keys": 1.0, "strings": 1.0,
                "piano": 0.8, "ethnic": 0.3},
    "melody": {"winds": 1.0, "brass": 0.6, "synth": 1.0, "guitar": 1.0, "strings": 0.8, "keys": 0.5},
}
# Programs that sound right for a role (0-based GM). Classes not listed draw from all their musical programs.
ROLE_PROGRAMS: dict[str, dict[str, tuple[int, ...]]] = {
    "chords": {"guitar": (24, 25, 26, 27, 28, 29, 30), "keys": (16, 17, 18, 19, 11, 4, 5),
               "synth": (80, 81, 88, 89, 90, 94), "strings": (45, 46, 48, 49), "brass": (61, 62, 63)},
    "pad": {"strings": (48, 49, 44), "synth": (50, 51, 88, 89, 90, 91, 92, 93, 94, 95), "keys": (16, 19, 20),
            "brass": (61, 62), "winds": (68, 71, 73), "vocals": (52, 53, 54)},
    "counter": {"guitar": (24, 25, 26, 27, 29, 30), "strings": (40, 41, 42, 45, 46),
                "synth": (80, 81, 82, 83, 84, 85, 86, 87), "keys": (8, 9, 10, 11, 12, 13, 16)},
    "melody": {"guitar": (26, 27, 29, 30), "strings": (40, 41, 42), "synth": (80, 81, 84, 85, 86, 87)},
}
BASS_BY_STYLE: dict[str, tuple[int, ...]] = {
    "swing": (32, 32, 33), "bossa": (32, 33, 35), "funk": (33, 36, 37, 34), "disco": (33, 38, 39, 34),
    "hiphop": (38, 39, 33), "metal": (34, 33), "reggae": (33, 35, 38), "ballad": (33, 35, 32),
}
KITS_BY_STYLE: dict[str, tuple[int, ...]] = {
    "swing": (32, 40, 0), "bossa": (0, 8, 32), "disco": (24, 25, 0, 16), "hiphop": (25, 24, 0),
    "metal": (16, 0, 8), "rock": (0, 8, 16), "ballad": (0, 8, 40), "shuffle": (0, 32, 40),
}
VOICE_PROGRAMS = (52, 53, 54)


def choose_class(role: str, stems: Sequence[str], rng: np.random.Generator) -> str:
    """Draw an instrument class for ``role``; classes the stem set names weigh three times more."""
    options = ROLE_CLASSES[role]
    names = sorted(options)
    weights = np.array([options[n] * (3.0 if n in stems and n != "vocals" else 1.0) for n in names])
    if "vocals" not in stems:
        weights[[i for i, n in enumerate(names) if n == "vocals"]] = 0.0
    return names[int(rng.choice(len(names), p=weights / weights.sum()))]


def choose_program(role: str, fine: str, rng: np.random.Generator) -> int:
    """Draw a GM program of class ``fine`` suited to ``role``."""
    programs = ROLE_PROGRAMS.get(role, {}).get(fine) or taxonomy.programs_of(fine)
    return int(programs[int(rng.integers(len(programs)))])


def choose_bass(style: str, rng: np.random.Generator) -> int:
    programs = BASS_BY_STYLE.get(style, (33, 34, 33, 32, 38))
    return int(programs[int(rng.integers(len(programs)))])


def choose_kit(style: str, rng: np.random.Generator) -> int:
    kits = KITS_BY_STYLE.get(style, taxonomy.DRUM_KITS)
    return int(kits[int(rng.integers(len(kits)))])
