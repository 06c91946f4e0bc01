"""Soundfont discovery and rendering: dry, separate, pitched right, reproducible."""

from __future__ import annotations

import numpy as np
import pytest

from deconstruct.data.rendering import soundfont
from deconstruct.data.rendering.notes import NoteEvent, Part
from deconstruct.data.rendering.soundfont import find_soundfont, render_parts
from deconstruct.errors import DependencyError, InputError

SR = 44100


def test_env_var_pointing_nowhere_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("DECONSTRUCT_SOUNDFONT", str(tmp_path / "missing.sf2"))
    with pytest.raises(DependencyError, match="DECONSTRUCT_SOUNDFONT"):
        find_soundfont()


def test_missing_soundfont_names_the_debian_package(monkeypatch, tmp_path):
    monkeypatch.delenv("DECONSTRUCT_SOUNDFONT", raising=False)
    monkeypatch.setattr(soundfont, "STANDARD_SOUNDFONTS", (tmp_path / "none.sf2",))
    with pytest.raises(DependencyError, match="fluid-soundfont-gm"):
        find_soundfont()


def test_env_var_wins(monkeypatch):
    path = find_soundfont()
    monkeypatch.setenv("DECONSTRUCT_SOUNDFONT", str(path))
    assert find_soundfont() == path


def _piano(pitch: int = 69, onset: float = 0.1, duration: float = 0.5) -> Part:
    return Part("piano", (NoteEvent(onset, duration, pitch, 100),), program=0)


def test_note_has_the_right_pitch_and_is_dry():
    audio = render_parts([_piano(69)], SR * 3)
    assert audio.shape == (1, 2, SR * 3) and audio.dtype == np.float32
    body = audio[0, 0, int(0.2 * SR): int(0.5 * SR)].astype(np.float64)
    spectrum = np.abs(np.fft.rfft(body * np.hanning(len(body)), 1 << 17))
    assert abs(np.argmax(spectrum) * SR / (1 << 17) - 440.0) < 3.0
    tail = audio[0, :, int(2.5 * SR):]
    assert np.abs(tail).max() < 1e-4  # no reverb tail 2 s after the release


def test_parts_are_rendered_alone_and_reproducibly():
    drums = Part("drums", tuple(NoteEvent(0.25 * k, 0.1, 38, 110) for k in range(8)), program=0, is_drum=True)
    silent_until = Part("late", (NoteEvent(1.5, 0.3, 60, 90),), program=40)
    first = render_parts([_piano(), drums, silent_until], SR * 2)
    render_parts([Part("other", (NoteEvent(0.0, 1.9, 40, 127),), program=48)], SR * 2)  # leaves voices ringing
    again = render_parts([_piano(), drums, silent_until], SR * 2)
    assert np.array_equal(first, again)
    assert np.abs(first[2, :, : int(1.45 * SR)]).max() == 0.0  # nothing from the other channels leaks in
    assert np.abs(first[1]).max() > 0.01


def test_start_offset_is_a_window_of_the_same_render():
    part = Part("p", tuple(NoteEvent(0.3 * k, 0.25, 60 + k, 90) for k in range(8)), program=0)
    whole = render_parts([part], SR * 3)
    window = render_parts([part], SR * 1, start_s=1.0)
    assert np.abs(window - whole[:, :, SR: 2 * SR]).max() < 1e-6


def test_too_many_parts_and_missing_kits_are_refused():
    with pytest.raises(InputError, match="at most 16"):
        render_parts([_piano()] * 17, 100)
    with pytest.raises(InputError, match="drum kit 99"):
        render_parts([Part("d", (NoteEvent(0, 0.1, 36, 100),), program=99, is_drum=True)], 100)
