"""Behaviour of the differentiable effects (and of the pedalboard renders they follow)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from deconstruct.effects import functional as F
from deconstruct.effects.chain import Effect
from deconstruct.effects.render import render_effect

RATE = 44100


def sine(freq: float, seconds: float = 1.0, amplitude: float = 0.5, rate: int = RATE) -> torch.Tensor:
    t = torch.arange(int(seconds * rate), dtype=torch.float64) / rate
    return (amplitude * torch.sin(2 * math.pi * freq * t)).float()[None, None]


def level_db(x) -> float:
    x = np.asarray(x, dtype=np.float64)
    return 10 * math.log10(np.mean(x**2))


def test_gain_scales_by_decibels():
    x = sine(100.0, 0.1)
    torch.testing.assert_close(F.gain(x, 6.0), x * 10 ** (6 / 20))
    y = F.gain(x.repeat(2, 1, 1), torch.tensor([0.0, -20.0]))
    torch.testing.assert_close(y[1], x[0] * 0.1)


def test_eq_band_at_plus_6_db_gives_plus_6_db_at_its_centre():
    x = sine(1000.0)
    effect = Effect("eq", {"peak1_gain_db": 6.0, "peak1_center_hz": 1000.0, "peak1_q": 1.0})
    steady = slice(RATE // 2, None)
    torch_out = F.parametric_eq(x, RATE, dict(effect.params))[0, 0, steady]
    board_out = render_effect(x[0].numpy(), RATE, effect)[0, steady]
    for out in (torch_out.numpy(), board_out):
        assert level_db(out) - level_db(x[0, 0, steady]) == pytest.approx(6.0, abs=0.05)
    far = sine(80.0)
    far_out = F.peak_filter(far, RATE, 8000.0, 6.0, 1.0)[0, 0, steady]
    assert abs(level_db(far_out) - level_db(far[0, 0, steady])) < 0.1


def test_shelves_boost_their_side_only():
    low, high = sine(40.0), sine(15000.0)
    steady = slice(RATE // 2, None)
    boost = lambda f, x: level_db(f(x)[0, 0, steady]) - level_db(x[0, 0, steady])  # noqa: E731
    assert boost(lambda x: F.low_shelf(x, RATE, 200.0, 9.0), low) == pytest.approx(9.0, abs=0.3)
    assert abs(boost(lambda x: F.low_shelf(x, RATE, 200.0, 9.0), high)) < 0.1
    assert boost(lambda x: F.high_shelf(x, RATE, 8000.0, -9.0), high) == pytest.approx(-9.0, abs=0.5)


def test_compressor_at_ratio_1_is_the_identity():
    x = torch.randn(2, 2, 4000) * 0.5
    torch.testing.assert_close(F.compressor(x, RATE, -40.0, 1.0, 1.0, 50.0), x)
    gentle = Effect("compressor", {"threshold_db": -40, "ratio": 1.5, "attack_ms": 1, "release_ms": 50})
    board = render_effect(x[0].numpy(), RATE, gentle)
    assert np.abs(board).max() < np.abs(x[0].numpy()).max()  # and a real ratio does compress


def test_compressor_follows_its_static_curve_on_a_steady_sine():
    x = sine(200.0, amplitude=0.5)  # peak -6 dBFS
    y = F.compressor(x, RATE, -20.0, 4.0, 1.0, 300.0)[0, 0, RATE // 2 :]
    expected_peak_db = -20.0 + (20 * math.log10(0.5) + 20.0) / 4.0  # -16.5 dBFS
    assert 20 * math.log10(float(y.abs().max())) == pytest.approx(expected_peak_db, abs=0.5)


def test_distortion_is_odd_symmetric_bounded_and_driven():
    x = torch.linspace(-1, 1, 201)[None, None]
    y = F.distortion(x, 12.0)
    torch.testing.assert_close(F.distortion(-x, 12.0), -y)
    assert float(y.abs().max()) < 1.0
    small = torch.full((1, 1, 1), 1e-4)
    assert float(F.distortion(small, 12.0)) / 1e-4 == pytest.approx(10 ** (12 / 20), rel=1e-4)


@pytest.mark.parametrize("renderer", ["torch", "pedalboard"])
def test_delay_impulse_response_echoes_at_delay_s_with_feedback_gain(renderer):
    rate, impulse = 1000, np.zeros((1, 450), dtype=np.float32)
    impulse[0, 0] = 1.0
    if renderer == "torch":
        y = F.delay(torch.from_numpy(impulse)[None], rate, 0.1, 0.5, 0.4)[0, 0].numpy()
    else:
        y = render_effect(impulse, rate, Effect("delay", {"delay_s": 0.1, "feedback": 0.5, "mix": 0.4}))[0]
    expected = np.zeros(450)
    expected[[0, 100, 200, 300, 400]] = [0.6, 0.4, 0.2, 0.1, 0.05]
    np.testing.assert_allclose(y, expected, atol=1e-6)


def test_chorus_without_depth_is_a_fixed_centre_delay():
    rate = 1000
    x = torch.randn(1, 2, 300)
    y = F.chorus(x, rate, 1.0, 0.0, 1.0)  # fully wet, no modulation: 7 ms = 7 samples
    torch.testing.assert_close(y[..., 7:], x[..., :-7])
    assert float(y[..., :7].abs().max()) == 0.0


def test_limiter_never_exceeds_full_scale():
    x = torch.randn(1, 2, 8000) * 3.0
    assert float(F.limiter(x, RATE, -6.0, 100.0).abs().max()) <= 1.0


def test_convolution_with_a_unit_impulse_is_the_identity():
    x = torch.randn(2, 2, 500)
    torch.testing.assert_close(F.convolution_reverb(x, torch.tensor([[1.0, 0.0, 0.0]]), 0.7), x, atol=1e-6, rtol=0)


@pytest.mark.parametrize(
    "call",
    [
        lambda x: F.gain(x, 1.0),
        lambda x: F.distortion(x, 1.0),
        lambda x: F.peak_filter(x, RATE, 1000.0, 3.0, 1.0),
        lambda x: F.compressor(x, RATE, -20.0, 2.0, 5.0, 50.0),
        lambda x: F.delay(x, RATE, 0.1, 0.3, 0.3),
        lambda x: F.chorus(x, RATE, 1.0, 0.5, 0.5),
        lambda x: F.limiter(x, RATE, -3.0, 100.0),
    ],
)
def test_wrong_rank_is_refused(call):
    with pytest.raises(ValueError, match=r"\[batch, channels, samples\]"):
        call(torch.zeros(2, 100))


def test_gradients_reach_every_compressor_and_delay_parameter():
    x = (torch.randn(2, 1, 3000) * 0.5).double()
    settings = {
        "threshold_db": [-30.0, -25.0], "ratio": [3.0, 5.0], "attack_ms": [2.0, 8.0], "release_ms": [60.0, 200.0]
    }
    params = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in settings.items()}
    F.compressor(x, RATE, **params).pow(2).sum().backward()
    for value in params.values():
        assert torch.isfinite(value.grad).all() and (value.grad != 0).all()
    delay_params = [torch.tensor([v, v], dtype=torch.float64, requires_grad=True) for v in (0.01, 0.4, 0.3)]
    F.delay(x, RATE, *delay_params).pow(2).sum().backward()
    assert all(torch.isfinite(p.grad).all() and (p.grad != 0).all() for p in delay_params)
