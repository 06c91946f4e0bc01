"""Signal-processing inverses: exact against the pedalboard renders, blind delay estimation, rank checks."""

from __future__ import annotations

import pytest
import torch

from deconstruct.effects.chain import Effect
from deconstruct.effects.render import render_effect
from deconstruct.metrics.sdr import si_sdr
from deconstruct.removal import dsp
from tests.removal.conftest import dry_signal


def _sdr(reference: torch.Tensor, estimate: torch.Tensor) -> float:
    return float(si_sdr(reference, estimate).mean())


@pytest.mark.parametrize("rate", [22050, 44100])
def test_eq_inverse_is_exact(rate):
    x = dry_signal(0.5, channels=2, rate=rate)
    params = {"low_shelf_gain_db": 9.0, "low_shelf_cutoff_hz": 120.0, "peak2_gain_db": -11.0,
              "peak2_center_hz": 2500.0, "peak2_q": 2.0, "high_shelf_gain_db": 6.0, "high_shelf_cutoff_hz": 9000.0}
    y = render_effect(x, rate, Effect("eq", params))
    assert _sdr(x, y) < 20.0
    assert _sdr(x, dsp.invert_eq(y, rate, params)) > 50.0


@pytest.mark.parametrize("rate", [22050, 44100])
def test_compressor_inverse_is_exact(rate):
    x = dry_signal(0.5, channels=2, rate=rate) * 3.0
    params = {"threshold_db": -30.0, "ratio": 5.0, "attack_ms": 3.0, "release_ms": 120.0}
    y = render_effect(x, rate, Effect("compressor", params))
    assert _sdr(x, y) < 20.0
    assert _sdr(x, dsp.invert_compressor(y, rate, **params)) > 50.0


def test_limiter_inverse_is_exact_below_the_clip():
    x = dry_signal(0.5)
    x = 0.5 * x / x.abs().max()  # -6 dBFS peaks: the 4:1 stage works, the makeup stays below the final clip
    params = {"threshold_db": -1.0, "release_ms": 100.0}
    y = render_effect(x, 44100, Effect("limiter", params))
    assert float(y.abs().max()) < 1.0 and _sdr(x, y) < 40.0
    assert _sdr(x, dsp.invert_limiter(y, 44100, **params)) > 50.0


def test_distortion_inverse_needs_no_drive_up_to_level():
    x = dry_signal(0.5)
    y = render_effect(x, 44100, Effect("distortion", {"drive_db": 20.0}))
    assert _sdr(x, y) < 15.0
    assert _sdr(x, dsp.invert_distortion(y, 20.0)) > 30.0
    assert abs(_sdr(x, dsp.invert_distortion(y, 8.0)) - _sdr(x, dsp.invert_distortion(y, 20.0))) < 1e-3
    assert dsp.saturation(y) > 0.01 > dsp.saturation(x)


def test_delay_inverse_exact_and_blind_estimate():
    x = dry_signal(2.0)
    params = {"delay_s": 0.23, "feedback": 0.35, "mix": 0.4}
    y = render_effect(x, 44100, Effect("delay", params))
    assert _sdr(x, dsp.invert_delay(y, 44100, **params)) > 50.0
    estimate = dsp.estimate_delay(y, 44100)
    assert estimate is not None and estimate.steps == int(0.23 * 44100)
    assert abs(estimate.mix - 0.4) < 0.05 and abs(estimate.feedback - 0.35) < 0.1
    assert _sdr(x, dsp.invert_delay_steps(y, estimate.steps, estimate.feedback, estimate.mix)) > 20.0
    assert dsp.estimate_delay(x, 44100) is None


def test_unstable_delay_inverse_is_refused():
    with pytest.raises(ValueError, match="unstable"):
        dsp.invert_delay(dry_signal(0.2), 44100, 0.1, 0.0, 0.6)


@pytest.mark.parametrize("function,args", [
    (dsp.invert_eq, (44100, {})), (dsp.invert_distortion, (10.0,)), (dsp.estimate_delay, (44100,)),
    (dsp.invert_compressor, (44100, -20.0, 2.0, 5.0, 100.0)), (dsp.invert_limiter, (44100, -3.0, 100.0)),
])
def test_wrong_rank_is_an_error(function, args):
    with pytest.raises(ValueError, match=r"\[channels, samples\]"):
        function(torch.zeros(1, 1, 100), *args)

