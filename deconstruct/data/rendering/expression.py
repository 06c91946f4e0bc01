"""Sung expression for melody lines: vibrato and glides as a pitch curve.

The same curve drives both vocal sources: pitch-bend events for a GM voice patch (:func:`with_vibrato`) and the
target fundamental of a recorded voice re-sung through PSOLA (:func:`pitch_curve`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from deconstruct.data.rendering.notes import Part, PitchBend


@dataclass(frozen=True)
class Expression:
    """How a singer shapes pitch.

    Attributes:
        vibrato_hz: vibrato rate (sung vibrato: 4.5-7 Hz).
        vibrato_semitones: vibrato half-depth in semitones.
        vibrato_delay_s: time after a note's onset before vibrato sets in (it then fades in over as long).
        glide_s: time to slide from the previous note's pitch (portamento between legato notes).
        drift_semitones: standard deviation of a slow random intonation drift.
    """

    vibrato_hz: float = 5.5
    vibrato_semitones: float = 0.3
    vibrato_delay_s: float = 0.2
    glide_s: float = 0.06
    drift_semitones: float = 0.05

    @classmethod
    def draw(cls, rng: np.random.Generator) -> Expression:
        """A random but plausible singer."""
        return cls(vibrato_hz=float(rng.uniform(4.5, 7.0)), vibrato_semitones=float(rng.uniform(0.05, 0.6)),
                   vibrato_delay_s=float(rng.uniform(0.08, 0.35)), glide_s=float(rng.uniform(0.02, 0.12)),
                   drift_semitones=float(rng.uniform(0.0, 0.12)))


def pitch_curve(part: Part, times_s: np.ndarray, expression: Expression, rng: np.random.Generator) -> np.ndarray:
    """Sung pitch (fractional MIDI key) of a monophonic part at ``times_s``; NaN where no note sounds.

    Shape:
        times_s: ``[frames]`` seconds (sorted) → ``[frames]`` fractional MIDI keys.
    """
    curve = np.full(times_s.shape, np.nan)
    notes = sorted(part.notes, key=lambda n: n.onset_s)
    previous = None
    for note in notes:
        mask = (times_s >= note.onset_s) & (times_s < note.offset_s)
        if not mask.any():
            previous = note
            continue
        local = times_s[mask] - note.onset_s
        pitch = np.full(local.shape, float(note.pitch))
        if previous is not None and note.onset_s - previous.offset_s < 0.15 and abs(note.pitch - previous.pitch) <= 12:
            pitch += (previous.pitch - note.pitch) * np.exp(-local / max(expression.glide_s / 3.0, 1e-3))
        ramp = np.clip((local - expression.vibrato_delay_s) / max(expression.vibrato_delay_s, 1e-3), 0.0, 1.0)
        phase = float(rng.uniform(0.0, 2.0 * np.pi))
        pitch += expression.vibrato_semitones * ramp * np.sin(2.0 * np.pi * expression.vibrato_hz * local + phase)
        pitch += float(rng.normal(0.0, expression.drift_semitones))
        curve[mask] = pitch
        previous = note
    return curve


def with_vibrato(part: Part, expression: Expression, rng: np.random.Generator, rate_hz: float = 100.0) -> Part:
    """The part with pitch-bend points that sing its notes with ``expression`` (for a GM voice patch).

    Bends are written every ``1 / rate_hz`` seconds while a note sounds and reset to 0 between notes.
    """
    if not part.notes:
        return part
    start = min(n.onset_s for n in part.notes)
    times = np.arange(start, part.end_s, 1.0 / rate_hz)
    curve = pitch_curve(part, times, expression, rng)
    nominal = np.full(times.shape, np.nan)
    for note in part.notes:
        nominal[(times >= note.onset_s) & (times < note.offset_s)] = note.pitch
    bend = np.where(np.isnan(curve), 0.0, curve - np.nan_to_num(nominal))
    bend = np.round(np.clip(bend, -12.0, 12.0), 3)
    changed = np.concatenate([[True], np.abs(np.diff(bend)) > 0.004])  # drop repeats (the flat stretches)
    bends = tuple(PitchBend(float(t), float(b)) for t, b in zip(times[changed], bend[changed]))
    return replace(part, bends=bends)
