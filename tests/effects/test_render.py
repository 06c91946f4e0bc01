"""Pedalboard rendering on [channels, samples] audio, convolution reverb, and torch/pedalboard parity."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

from deconstruct.audio import load_audio
from deconstruct.effects import functional as F
from deconstruct.effects.chain import Chain, Effect, sample_chain
from deconstruct.effects.parity import parity_si_sdr, si_sdr
from deconstruct.effects.render import apply_rir, render_chain
from tests.conftest import shared_file


@pytest.mark.parametrize("channels,samples", [(1, 5000), (2, 5000), (3, 5000), (2, 2), (2, 1)])
@pytest.mark.parametrize("rate", [16000, 48000])
def test_any_channel_count_length_and_rate_keeps_its_shape(channels, samples, rate):
    chain = sample_chain(5, 7, 7)  # every effect once (reverb algorithmic)
    x = np.random.default_rng(0).standard_normal((channels, samples)).astype(np.float32) * 0.1
    y = render_chain(x, rate, chain)
    assert isinstance(y, np.ndarray) and y.shape == x.shape and y.dtype == np.float32 and np.isfinite(y).all()
    tensor_out = render_chain(torch.from_numpy(x), rate, chain)
    assert isinstance(tensor_out, torch.Tensor)
    np.testing.assert_array_equal(tensor_out.numpy(), y)


def test_channels_are_never_swapped_with_time():
    x = np.zeros((2, 2), dtype=np.float32)
    x[0, 0] = 1.0
    y = render_chain(x, 1000, Chain((Effect("delay", {"delay_s": 0.1, "feedback": 0.1, "mix": 0.5}),)))
    np.testing.assert_allclose(y, [[0.5, 0.0], [0.0, 0.0]])


def test_empty_chain_is_a_copy_and_wrong_rank_is_refused():
    x = np.ones((1, 10), dtype=np.float32)
    y = render_chain(x, 8000, Chain())
    np.testing.assert_array_equal(x, y)
    y[0, 0] = 5.0
    assert x[0, 0] == 1.0
    with pytest.raises(ValueError, match="channels, samples"):
        render_chain(np.ones(10, dtype=np.float32), 8000, Chain())


def test_apply_rir_trims_leading_silence_and_normalises_energy(tmp_path):
    rate = 8000
    response = np.zeros(400, dtype=np.float32)
    response[200], response[210] = 0.8, 0.4  # direct sound at 25 ms, one reflection 10 samples later
    path = tmp_path / "room.wav"
    sf.write(path, response, rate, subtype="FLOAT")
    impulse = np.zeros((2, 100), dtype=np.float32)
    impulse[:, 0] = 1.0
    y = apply_rir(impulse, rate, path, wet_level=1.0)
    margin = 8  # 1 ms before the direct sound is kept
    expected = np.zeros(100)
    expected[margin], expected[margin + 10] = 0.8 / np.sqrt(0.8), 0.4 / np.sqrt(0.8)
    np.testing.assert_allclose(y[0], expected, atol=1e-6)
    np.testing.assert_allclose(y[1], y[0])


@pytest.fixture(scope="module")
def real_clip() -> tuple[np.ndarray, int]:
    audio = load_audio(shared_file("dry_instruments/medley_solos_db_validation-3.wav"))
    x = audio.samples[:, audio.sample_rate // 2 : 2 * audio.sample_rate].numpy()  # 1.5 s of a train recording
    return (x * (0.125 / np.sqrt(np.mean(x**2)))).astype(np.float32), audio.sample_rate


@pytest.mark.parametrize("name", ["eq", "distortion", "delay", "compressor", "chorus", "limiter"])
def test_torch_matches_pedalboard_on_a_real_recording(real_clip, name):
    x, rate = real_clip
    for seed in range(3):
        effect = sample_chain([seed, 1], 1, 1, [name]).effects[0]
        assert parity_si_sdr(x, rate, effect) >= 20.0, effect


def test_torch_gain_matches_pedalboard_on_a_real_recording(real_clip):
    import pedalboard

    x, rate = real_clip
    for gain_db in (-18.0, 7.5):
        reference = pedalboard.Gain(gain_db)(x, float(rate))
        assert si_sdr(reference, F.gain(torch.from_numpy(x)[None], gain_db)[0].numpy()) >= 20.0
