"""Audio loading, validation, writing and levels."""

from __future__ import annotations

import math

import numpy as np
import pyloudnorm
import pytest
import soundfile as sf
import torch

from deconstruct.audio import Audio, load_audio, loudness_lufs, peak_dbfs, save_audio
from deconstruct.errors import InputError, OutputError
from deconstruct.streaming import LevelMeter, TensorReader, chunk_bounds, overlap_add
from tests.conftest import shared_file


def sine(freq=440.0, seconds=1.0, rate=44100, channels=2, amp=0.5):
    t = torch.arange(int(seconds * rate)) / rate
    return Audio((amp * torch.sin(2 * math.pi * freq * t)).repeat(channels, 1), rate)


@pytest.mark.parametrize("fmt,subtype", [("WAV", "FLOAT"), ("FLAC", "PCM_24"), ("OGG", "VORBIS")])
def test_formats_round_trip(tmp_path, fmt, subtype):
    audio = sine(seconds=0.5)
    path = tmp_path / f"x.{fmt.lower()}"
    sf.write(path, audio.samples.T.numpy(), 44100, format=fmt, subtype=subtype)
    loaded = load_audio(path)
    assert loaded.samples.shape == (2, 22050) and loaded.sample_rate == 44100
    assert float((loaded.samples - audio.samples).abs().max()) < (0.05 if fmt == "OGG" else 1e-4)


def test_mp3_and_stem_file_load():
    mp3 = load_audio(shared_file("mixes_no_stems/spleeter_audio_example.mp3"))
    assert mp3.channels == 2 and abs(mp3.duration_s - 10.88) < 0.05
    stem_file = shared_file("musdb18_music_delta_80s_rock/Music Delta - 80s Rock.stem.mp4")
    vocals = load_audio(stem_file, "vocals")
    reference = load_audio(shared_file("musdb18_music_delta_80s_rock/vocals.wav"))
    n = min(vocals.num_samples, reference.num_samples)
    assert float((vocals.samples[:, :n] - reference.samples[:, :n]).abs().max()) < 1e-3


@pytest.mark.parametrize("make,message", [
    (lambda p: None, "no such file"),
    (lambda p: p.write_text("hello, not audio"), "not a readable audio file"),
    (lambda p: sf.write(p, np.zeros((0, 2)), 44100), "zero length"),
    (lambda p: sf.write(p, np.full((100, 2), np.nan, dtype=np.float32), 44100, subtype="FLOAT"), "NaN"),
    (lambda p: sf.write(p, np.zeros((100, 6)), 44100), "mono or stereo"),
])
def test_bad_input_is_one_clear_error(tmp_path, make, message):
    path = tmp_path / "bad.wav"
    make(path)
    with pytest.raises(InputError, match=message) as info:
        load_audio(path)
    assert "\n" not in str(info.value)


def test_save_float_and_dithered_int(tmp_path):
    audio = sine(amp=0.25)
    save_audio(audio, tmp_path / "f.wav")
    assert sf.info(tmp_path / "f.wav").subtype == "FLOAT"
    save_audio(audio, tmp_path / "i.wav", bit_depth="16")
    back, _ = sf.read(tmp_path / "i.wav", dtype="float32")
    error = back.T - audio.samples.numpy()
    assert sf.info(tmp_path / "i.wav").subtype == "PCM_16"
    assert 0 < np.abs(error).max() < 3 / 32768  # dithered: small, non-zero
    loud = Audio(audio.samples * 5.0, 44100)
    with pytest.raises(OutputError, match="clip"):
        save_audio(loud, tmp_path / "loud.wav", bit_depth="24")
    save_audio(loud, tmp_path / "loud.wav")  # float32 keeps it unclipped
    assert abs(sf.read(tmp_path / "loud.wav")[0].max() - 1.25) < 1e-6
    assert not list(tmp_path.glob(".*partial*"))


def test_streaming_levels_match_pyloudnorm():
    audio = sine(freq=997, seconds=3.0, amp=0.3)
    meter = LevelMeter(44100, 2)
    for start in range(0, audio.num_samples, 12345):
        meter.update(audio.samples[:, start:start + 12345])
    reference = pyloudnorm.Meter(44100).integrated_loudness(audio.samples.T.double().numpy())
    assert abs(meter.loudness_lufs() - reference) < 1e-6
    assert abs(loudness_lufs(audio) - reference) < 1e-9
    assert abs(meter.peak_dbfs() - peak_dbfs(audio.samples)) < 1e-6
    assert LevelMeter(44100, 2).loudness_lufs() == float("-inf")


@pytest.mark.parametrize("total,chunk,overlap", [(1000, 300, 50), (300, 300, 50), (301, 300, 50), (10, 300, 50)])
def test_overlap_add_reconstructs_identity(total, chunk, overlap):
    x = torch.randn(2, total)
    bounds = chunk_bounds(total, chunk, overlap)
    assert bounds[0][0] == 0 and bounds[-1][1] == total
    out = torch.cat(list(overlap_add(TensorReader(x, 100), lambda b: b.unsqueeze(0) * 3, chunk, overlap)), -1)
    assert out.shape == (1, 2, total)
    assert torch.allclose(out[0], 3 * x, atol=1e-6)
