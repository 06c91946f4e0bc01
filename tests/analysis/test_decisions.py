"""Decisions: detected / unsure / absent, the 1 dB EQ rule, level-relative thresholds."""

from __future__ import annotations

import pytest
import torch

from deconstruct.analysis.decisions import (
    RELATIVE_THRESHOLD_RANGE_DB,
    eq_veto,
    relative_thresholds,
    unsure_bounds,
)
from deconstruct.analysis.layout import output_specs
from deconstruct.effects.catalog import EFFECT_NAMES, EffectEstimate, default_unsure_below
from deconstruct.effects.level_reference import ActiveLevel, active_rms_db
from deconstruct.errors import InputError


def test_probability_bounds_give_the_three_decisions():
    def decision(probability: float) -> str:
        return EffectEstimate("delay", probability, threshold=0.6, unsure_below=0.4).decision

    assert [decision(p) for p in (0.7, 0.6, 0.5, 0.4, 0.39)] == ["detected", "detected", "unsure", "unsure",
                                                                    "absent"]
    assert not EffectEstimate("delay", 0.5, threshold=0.6).detected
    assert EffectEstimate("delay", 0.5, threshold=0.6).unsure_below == pytest.approx(0.4)
    assert default_unsure_below(0.2) == pytest.approx(0.1)  # a low threshold keeps an absent zone
    with pytest.raises(ValueError, match="unsure_below"):
        EffectEstimate("delay", 0.5, threshold=0.6, unsure_below=0.7)


def test_an_eq_of_a_twentieth_of_a_db_is_not_detected():
    params = {"peak1_gain_db": 0.05, "peak1_center_hz": 900.0, "peak1_q": 1.0}
    reason = eq_veto(params)
    assert reason is not None and "below 1 dB" in reason
    estimate = EffectEstimate("eq", 0.99, params, threshold=0.5, veto=reason)
    assert estimate.decision == "absent" and not estimate.detected
    data = estimate.to_dict()
    assert data["decision"] == "absent" and data["detected"] is False and data["reason"] == reason
    assert EffectEstimate.from_dict(data) == estimate
    assert eq_veto({**params, "high_shelf_gain_db": -1.5, "high_shelf_cutoff_hz": 9000.0}) is None


def test_the_analyzer_vetoes_a_flat_eq_and_reports_unsure_effects(smoke_analysis_checkpoint):
    from deconstruct.analysis import EffectAnalyzer

    analyzer = EffectAnalyzer(smoke_analysis_checkpoint, threshold=0.5)
    specs = output_specs()
    normalised = torch.full((len(specs),), 0.5)
    for index, (effect, spec) in enumerate(specs):
        if effect == "eq" and spec.name.endswith("_gain_db"):
            normalised[index] = float(spec.normalise(0.05))
    probabilities = torch.tensor([0.99 if name == "eq" else 0.4 if name == "delay" else 0.1
                                  for name in EFFECT_NAMES])
    estimates = {e.name: e for e in analyzer.decide(probabilities, normalised, level_db=-30.0)}
    assert estimates["eq"].decision == "absent" and "below 1 dB" in estimates["eq"].veto
    assert estimates["delay"].decision == "unsure" and estimates["delay"].params  # parameters kept for reports
    assert estimates["reverb"].decision == "absent" and estimates["reverb"].params == {}
    assert "threshold_rel_db" not in estimates["compressor"].params  # absent: no parameters at all


def test_calibrated_unsure_bounds_are_used_and_checked():
    thresholds = {name: 0.5 for name in EFFECT_NAMES}
    bounds = unsure_bounds(thresholds, {"chorus": 0.45, "reverb": 0.9})
    assert bounds["chorus"] == 0.45 and bounds["reverb"] == 0.5 and bounds["delay"] == pytest.approx(0.3)
    with pytest.raises(InputError, match="unknown effects"):
        unsure_bounds(thresholds, {"flanger": 0.2})
    with pytest.raises(InputError, match="must lie in"):
        unsure_bounds(thresholds, {"delay": -0.1})


def test_compressor_thresholds_are_reported_both_ways_and_kept_plausible():
    params = relative_thresholds("compressor", {"threshold_db": -36.0, "ratio": 3.0}, level_db=-30.0)
    assert params["threshold_db"] == -36.0 and params["threshold_rel_db"] == -6.0
    low, _ = RELATIVE_THRESHOLD_RANGE_DB["compressor"]
    loud = relative_thresholds("compressor", {"threshold_db": -42.0}, level_db=-6.0)  # far below the signal
    assert loud["threshold_rel_db"] == low and loud["threshold_db"] == -6.0 + low  # raised: a gentler inverse
    quiet = relative_thresholds("compressor", {"threshold_db": -30.0}, level_db=-50.0)  # above the stem
    assert quiet["threshold_rel_db"] == 20.0 and quiet["threshold_db"] == -30.0  # never lowered
    limiter = relative_thresholds("limiter", {"threshold_db": -3.0}, level_db=-20.0)
    assert limiter["threshold_rel_db"] == 17.0
    assert relative_thresholds("delay", {"delay_s": 0.2}, -20.0) == {"delay_s": 0.2}


def test_active_level_skips_silence_follows_scale_and_streams():
    generator = torch.Generator().manual_seed(0)
    sound = 0.1 * torch.randn(2, 44100, generator=generator)
    signal = torch.cat([sound, torch.zeros(2, 44100), sound], dim=-1)
    assert active_rms_db(signal, 44100) == pytest.approx(-20.0, abs=0.6)  # blocks straddling an edge count
    assert active_rms_db(signal * 0.01, 44100) == pytest.approx(active_rms_db(signal, 44100) - 40.0, abs=1e-6)
    meter = ActiveLevel(44100, 2)
    for start in range(0, signal.shape[-1], 7000):
        meter.update(signal[:, start:start + 7000])
    assert meter.level_db() == pytest.approx(active_rms_db(signal, 44100), abs=1e-9)
    assert active_rms_db(torch.zeros(1, 44100), 44100) == float("-inf")
