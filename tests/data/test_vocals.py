"""Recorded voices re-sung through PSOLA, and the train-only recordings list."""

from __future__ import annotations

import json

import numpy as np
import pytest

from deconstruct.data.material.recordings import train_files, train_voice_files
from deconstruct.data.rendering.expression import Expression
from deconstruct.data.rendering.notes import NoteEvent, Part
from deconstruct.data.rendering.vocals import estimate_f0
from tests.conftest import shared_file

from .conftest import SAMPLE_RATE, vowel

STEADY = Expression(vibrato_semitones=0.0, drift_semitones=0.0, glide_s=0.02)


def test_f0_estimate_of_a_vowel():
    f0, voiced = estimate_f0(vowel(150.0, 1.0), SAMPLE_RATE)
    assert voiced.mean() > 0.6
    assert np.median(f0[voiced]) == pytest.approx(150.0, rel=0.02)


def test_sung_note_has_the_melody_pitch_and_rests_are_silent(voice_library):
    melody = Part("melody", (NoteEvent(0.1, 0.8, 57, 110), NoteEvent(1.2, 0.6, 64, 110)))
    out = voice_library.sing(melody, int(2.0 * SAMPLE_RATE), 0.0, np.random.default_rng(0), STEADY, transpose=0)
    assert out.shape == (2, 2 * SAMPLE_RATE) and np.array_equal(out[0], out[1])
    for (start, stop), midi in (((0.3, 0.8), 57), ((1.4, 1.7), 64)):
        f0, voiced = estimate_f0(out[0, int(start * SAMPLE_RATE): int(stop * SAMPLE_RATE)], SAMPLE_RATE)
        cents = 1200 * np.log2(np.median(f0[voiced]) / (440.0 * 2 ** ((midi - 69) / 12)))
        assert abs(cents) < 30
    assert np.abs(out[:, int(1.0 * SAMPLE_RATE): int(1.15 * SAMPLE_RATE)]).max() == 0.0  # the rest
    assert np.abs(out[:, int(1.95 * SAMPLE_RATE):]).max() == 0.0  # after the last release


def test_singing_is_reproducible_from_the_generator(voice_library):
    melody = Part("melody", tuple(NoteEvent(0.3 * k, 0.25, 55 + k, 100) for k in range(5)))
    a = voice_library.sing(melody, SAMPLE_RATE, 0.0, np.random.default_rng(4))
    b = voice_library.sing(melody, SAMPLE_RATE, 0.0, np.random.default_rng(4))
    assert np.array_equal(a, b) and np.abs(a).max() > 0


def test_band_limited_voices_get_air_above_their_bandwidth(voice_library):
    from scipy import signal

    from deconstruct.data.rendering.vocals import VoiceLibrary, analyse

    narrow = signal.resample_poly(signal.resample_poly(vowel(), 1, 4), 4, 1).astype(np.float32)
    library = VoiceLibrary([analyse("narrow", narrow, SAMPLE_RATE, SAMPLE_RATE / 8)], SAMPLE_RATE)
    melody = Part("melody", (NoteEvent(0.0, 0.9, 50, 110),))
    out = library.sing(melody, SAMPLE_RATE, 0.0, np.random.default_rng(1), STEADY, transpose=0)[0]
    spectrum = np.abs(np.fft.rfft(out)) ** 2
    freqs = np.fft.rfftfreq(len(out), 1 / SAMPLE_RATE)
    top = spectrum[freqs > SAMPLE_RATE / 8 * 1.2].sum() / spectrum.sum()
    assert 1e-5 < top < 0.1


def test_only_train_recordings_are_used():
    root = shared_file().parent
    splits = json.loads((root / "splits.json").read_text())
    files = train_files(root)
    assert files
    for path in files:
        relative = path.relative_to(root).as_posix()
        assert not any(relative.startswith(entry) for entry in splits["eval"])
        assert any(relative.startswith(entry) for entry in splits["train"])
    voices = [p.name for p in train_voice_files(root)]
    assert "ljspeech_LJ002-0020.wav" in voices and "A2_DYN.wav" in voices
    assert "A2_LRX.wav" not in voices and "castanets_dry.wav" not in voices


def test_no_data_folder_means_no_recordings(tmp_path):
    assert train_files(tmp_path) == []
