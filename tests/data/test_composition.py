"""Procedural composition: reproducible, in range, musically shaped."""

from __future__ import annotations

import numpy as np
import pytest

from deconstruct.data.rendering.composition import ROLES, STYLES, compose
from deconstruct.data.rendering.expression import Expression, pitch_curve, with_vibrato
from deconstruct.data.rendering.notes import NoteEvent, Part
from deconstruct.errors import InputError


def test_same_generator_state_same_music():
    a = compose(np.random.default_rng(3), 8.0)
    b = compose(np.random.default_rng(3), 8.0)
    c = compose(np.random.default_rng(4), 8.0)
    assert a == b
    assert a != c


@pytest.mark.parametrize("style", sorted(STYLES))
def test_every_style_writes_a_band_in_range(style):
    piece = compose(np.random.default_rng(1), 6.0, style)
    assert piece.duration_s >= 6.0
    assert 70 <= piece.tempo_bpm <= 170
    assert set(piece.parts) == set(ROLES)
    assert piece.parts["drums"].is_drum and len(piece.parts["drums"].notes) >= 8
    bass = [n.pitch for n in piece.parts["bass"].notes]
    assert bass and 24 <= min(bass) and max(bass) <= 60
    for role in ("melody", "counter", "bass"):  # monophonic lines never overlap
        notes = sorted(piece.parts[role].notes, key=lambda n: n.onset_s)
        assert all(a.offset_s <= b.onset_s + 1e-9 for a, b in zip(notes, notes[1:], strict=False))
    melody = [n.pitch for n in piece.parts["melody"].notes]
    assert max(melody) - min(melody) <= 19  # a singer's range


def test_tempo_can_be_imposed_and_unknown_styles_are_refused():
    assert compose(np.random.default_rng(0), 4.0, "rock", tempo_bpm=100.0).tempo_bpm == 100.0
    with pytest.raises(InputError, match="unknown style"):
        compose(np.random.default_rng(0), 4.0, "polka")


def test_melody_uses_the_key():
    piece = compose(np.random.default_rng(7), 16.0, "pop")
    from deconstruct.data.rendering.composition import MODES

    scale = {(piece.key + i) % 12 for i in MODES[piece.mode]}
    assert {n.pitch % 12 for n in piece.parts["melody"].notes} <= scale


def test_vibrato_bends_oscillate_around_the_note():
    part = Part("melody", (NoteEvent(0.0, 2.0, 60, 100),))
    expression = Expression(vibrato_hz=5.0, vibrato_semitones=0.5, vibrato_delay_s=0.1, drift_semitones=0.0)
    sung = with_vibrato(part, expression, np.random.default_rng(0))
    bends = np.array([b.semitones for b in sung.bends if b.time_s > 0.5])
    assert bends.max() == pytest.approx(0.5, abs=0.05) and bends.min() == pytest.approx(-0.5, abs=0.05)
    times = np.linspace(0, 3, 301)
    curve = pitch_curve(part, times, expression, np.random.default_rng(0))
    assert np.isnan(curve[times >= 2.0]).all() and np.nanmean(curve) == pytest.approx(60.0, abs=0.1)


def test_note_validation():
    with pytest.raises(ValueError, match="pitch"):
        NoteEvent(0.0, 1.0, 128, 100)
    with pytest.raises(ValueError, match="velocity"):
        NoteEvent(0.0, 1.0, 60, 0)
    part = Part("p", (NoteEvent(0.0, 1.0, 120, 100),)).transposed(12)
    assert part.notes[0].pitch == 120  # folded back into range by octaves
