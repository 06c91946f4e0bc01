"""Block-wise stages equal their whole-signal versions: analysis, resampling, resynthesis, WAV writing, PCM gain."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

from deconstruct.audio import Audio, resample
from deconstruct.effects.catalog import EFFECT_NAMES, EffectEstimate
from deconstruct.errors import OutputError
from deconstruct.streaming import (
    FileReader,
    ResampledReader,
    TensorReader,
    WavWriter,
    convert_wav,
    pcm_gain_db,
    pcm_limit,
)


def stem(seconds: float, rate: int, seed: int = 0) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    envelope = (np.sin(2 * np.pi * 0.3 * t) > -0.5).astype(np.float32)  # quiet stretches: windows left out
    x = np.stack([np.sin(2 * np.pi * 440 * t), np.sin(2 * np.pi * 660 * t)]) * 0.3 * envelope
    return torch.from_numpy((x + 0.01 * rng.standard_normal(x.shape)).astype(np.float32))


@pytest.mark.parametrize("rate", [44100, 48000])
def test_resampled_reads_equal_whole_resampling(rate):
    x = stem(4.0, rate)
    whole = resample(x, rate, 44100)
    reader = ResampledReader(TensorReader(x, rate), 44100)
    assert reader.num_samples == whole.shape[-1]
    parts = torch.cat([reader.read(s, min(s + 9999, reader.num_samples)) for s in range(0, reader.num_samples, 9999)],
                      dim=-1)
    assert torch.allclose(parts, whole, atol=1e-6)


@pytest.mark.parametrize("rate", [48000])
def test_streamed_analysis_equals_whole_analysis(tmp_path, rate):
    from deconstruct.analysis import EffectAnalyzer

    analyzer = EffectAnalyzer(device="cpu")
    x = stem(8.0, rate)
    path = tmp_path / "stem.wav"
    sf.write(path, x.numpy().T, rate, subtype="FLOAT")
    whole = analyzer.analyze(Audio(x, rate))
    reader = FileReader(path)
    streamed = analyzer.analyze_reader(reader, windows_per_read=3)
    reader.close()
    assert streamed.windows == whole.windows and streamed.reason == whole.reason
    for a, b in zip(whole, streamed):
        assert a.name == b.name and a.probability == pytest.approx(b.probability, abs=1e-5)
        assert a.params.keys() == b.params.keys()
        for key in a.params:
            assert a.params[key] == pytest.approx(b.params[key], rel=1e-4, abs=1e-4)


def test_streamed_resynthesis_equals_whole(tmp_path):
    from deconstruct.pipeline import add_resynthesized, resynthesis_scores
    from deconstruct.run_folder import streaming_resynthesis

    rate = 44100
    dry = {"a": stem(1.5, rate, 1), "b": stem(1.5, rate, 2)}
    mixture = dry["a"] + dry["b"] * 0.5
    compressor = EffectEstimate("compressor", 0.9, {"threshold_db": -20.0, "ratio": 4.0, "attack_ms": 5.0,
                                                    "release_ms": 100.0}, 0.5)
    delay = EffectEstimate("delay", 0.9, {"delay_s": 0.25, "feedback": 0.3, "mix": 0.3}, 0.5)

    def analysis(*chosen):
        found = {e.name: e for e in chosen}
        return [found.get(name, EffectEstimate(name, 0.0, {}, 0.5)) for name in EFFECT_NAMES]

    analyses = {"a": analysis(compressor, delay), "b": analysis()}
    total = torch.zeros_like(mixture)
    for name, samples in dry.items():
        add_resynthesized(total, Audio(samples, rate), analyses[name])
    expected = resynthesis_scores(mixture, total, block=rate)
    paths = {}
    for name, samples in {**dry, "mixture": mixture}.items():
        paths[name] = tmp_path / f"{name}.wav"
        sf.write(paths[name], samples.numpy().T, rate, subtype="FLOAT")
    readers = {name: FileReader(paths[name]) for name in dry}
    got = streaming_resynthesis(FileReader(paths["mixture"]), readers, analyses, block=rate)
    assert got["sdr_db"] == pytest.approx(expected["sdr_db"], abs=0.02)
    assert got["mrstft"] == pytest.approx(expected["mrstft"], abs=2e-3)


@pytest.mark.parametrize("bit_depth,mask", [("float32", 0), ("24", 0), ("16", 0x60F)])
def test_wav_writer_round_trip(tmp_path, bit_depth, mask):
    channels = 6 if mask else 2
    x = np.clip(np.random.default_rng(0).standard_normal((channels, 5001)) * 0.3, -0.99, 0.99).astype(np.float32)
    path = tmp_path / "w.wav"
    with WavWriter(path, 48000, channels, bit_depth, mask) as writer:
        writer.write(x[:, :1000])
        writer.write(x[:, 1000:])
    data, rate = sf.read(path, dtype="float64", always_2d=True)
    assert rate == 48000 and data.shape == (5001, channels)
    step = 0.0 if bit_depth == "float32" else 2.0 ** (1 - int(bit_depth))
    assert np.abs(data.T - x).max() <= step
    if mask:
        from deconstruct.spatial import read_wav_channel_mask

        assert read_wav_channel_mask(path) == mask


def test_pcm_gain_and_conversion(tmp_path):
    assert pcm_gain_db(0.5, "16") == 0.0 and pcm_gain_db(2.0, "float32") == 0.0
    gain = pcm_gain_db(10 ** (0.42 / 20), "16")
    assert -0.5 < gain < -0.42 and 10 ** (0.42 / 20) * 10 ** (gain / 20) <= pcm_limit("16")
    with pytest.raises(OutputError, match="headroom"):
        pcm_gain_db(1.2, "24", headroom_db=0.5)
    assert pcm_gain_db(1.2, "24", headroom_db=3.0) == -3.0
    source, target = tmp_path / "f.wav", tmp_path / "p.wav"
    x = np.stack([np.linspace(-1.04, 1.04, 9000)] * 2).astype(np.float32)
    sf.write(source, x.T, 44100, subtype="FLOAT")
    gain = pcm_gain_db(1.04, "24")
    convert_wav(source, target, "24", gain, block=1000)
    data = sf.read(target, dtype="float64")[0].T
    assert sf.info(target).subtype == "PCM_24"
    assert np.abs(data - x * 10 ** (gain / 20)).max() < 3 * 2.0 ** -23
    with pytest.raises(OutputError, match="clip"):
        convert_wav(source, tmp_path / "c.wav", "16", 0.0)


def test_compressor_inverse_in_blocks_with_carried_state_equals_whole():
    from deconstruct.effects.sample_loops import invert_peak_compressor
    from deconstruct.removal import dsp

    y = np.clip(np.random.default_rng(1).standard_normal((2, 30001)) * 0.4, -0.99, 0.99)
    args = (10 ** (-18 / 20), 4.0, dsp.ballistic_pole(5.0, 44100), dsp.ballistic_pole(150.0, 44100))
    whole = invert_peak_compressor(y, *args)
    state = np.zeros((2, 2))
    blocks = np.concatenate([invert_peak_compressor(y[:, s:s + 7000], *args, state=state)
                             for s in range(0, y.shape[1], 7000)], axis=1)
    assert np.array_equal(blocks, whole)
    x = torch.from_numpy(y.astype(np.float32))
    small = dsp.BLOCK
    try:
        dsp.BLOCK = 4096  # the limiter's two stages and the atanh inverse, block by block
        limited, distorted = dsp.invert_limiter(x, 44100, -8.0, 120.0), dsp.invert_distortion(x, 12.0)
    finally:
        dsp.BLOCK = small
    assert torch.allclose(limited, dsp.invert_limiter(x, 44100, -8.0, 120.0), atol=1e-6)
    assert torch.equal(distorted, dsp.invert_distortion(x, 12.0))
