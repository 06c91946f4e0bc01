"""Finding and loading multitrack test sets: WAV folders and NI stem files."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest
import soundfile as sf

from deconstruct.errors import InputError
from eval.tracks import MUSDB_STEMS, find_tracks
from tests.eval.helpers import FREQUENCIES, RATE, synthetic_stems, write_wav_track


def test_finds_wav_tracks_recursively_and_a_single_track_folder(tmp_path):
    write_wav_track(tmp_path / "test" / "b song")
    write_wav_track(tmp_path / "train" / "a song")
    assert [track.name for track in find_tracks(tmp_path)] == ["a song", "b song"]
    (single,) = find_tracks(tmp_path / "test" / "b song")
    track = single.load()
    assert list(track.stems) == list(MUSDB_STEMS)
    assert track.mixture.samples.shape == track.stems["bass"].samples.shape == (2, int(2.2 * RATE))


def test_wav_track_without_musdb_names_uses_every_stem_wav(tmp_path):
    folder = tmp_path / "choir"
    folder.mkdir()
    for name in ("soprano", "alto"):
        sf.write(folder / f"{name}.wav", np.zeros((1000, 1), np.float32), RATE)
    sf.write(folder / "mixture.wav", np.zeros((1000, 1), np.float32), RATE)
    assert list(find_tracks(folder)[0].load().stems) == ["alto", "soprano"]


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg not installed")
def test_stem_file_streams_map_to_musdb_names(tmp_path):
    stems = synthetic_stems(seconds=1.0)
    order = ["mixture", "drums", "bass", "other", "vocals"]  # the NI stem stream order
    inputs = []
    for name in order:
        path = tmp_path / f"{name}.wav"
        sf.write(path, sum(stems.values()) if name == "mixture" else stems[name], RATE)
        inputs += ["-i", str(path)]
    maps = [arg for index in range(len(order)) for arg in ("-map", str(index))]
    target = tmp_path / "set" / "tiny.stem.mp4"
    target.parent.mkdir()
    subprocess.run(["ffmpeg", "-v", "error", *inputs, *maps, "-c:a", "aac", "-b:a", "192k", str(target)], check=True)
    (source,) = find_tracks(tmp_path / "set")
    assert source.name == "tiny"
    track = source.load()
    for name, audio in track.stems.items():  # each decoded stem peaks at its own tone's frequency
        spectrum = np.abs(np.fft.rfft(audio.samples[0].numpy()))
        peak_hz = np.argmax(spectrum) * RATE / audio.num_samples
        assert peak_hz == pytest.approx(FREQUENCIES[name], rel=0.02), name


def test_missing_or_empty_data_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="no such"):
        find_tracks(tmp_path / "absent")
    with pytest.raises(InputError, match="no tracks"):
        find_tracks(tmp_path)
    (tmp_path / "song.wav").write_bytes(b"")
    with pytest.raises(InputError, match="not a track"):
        find_tracks(tmp_path / "song.wav")
