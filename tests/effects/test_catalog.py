"""The effect catalog: order, units, ranges, normalisation and the EffectEstimate contract."""

from __future__ import annotations

import math

import pytest
import torch

from deconstruct.effects.catalog import (
    CATALOG,
    EFFECT_NAMES,
    EffectEstimate,
    detected,
    effect_spec,
    param_layout,
    total_params,
)

UNIT_SUFFIXES = ("_db", "_hz", "_ms", "_s")
UNITLESS = {"q", "ratio", "depth", "mix", "feedback", "room_size", "wet_level"}


def test_catalog_order_is_the_chain_order():
    assert EFFECT_NAMES == ("eq", "compressor", "distortion", "chorus", "delay", "reverb", "limiter")


def test_every_parameter_name_carries_its_unit_or_is_documented_unitless():
    for spec in CATALOG.values():
        for param in spec.params:
            base = param.name.split("_", 1)[1] if param.name.startswith("peak") else param.name
            if param.name.endswith(UNIT_SUFFIXES):
                assert param.unit in ("dB", "Hz", "ms", "s")
            else:
                assert base in UNITLESS and "unitless" in param.description


@pytest.mark.parametrize(
    "effect,param,low,high",
    [
        ("compressor", "threshold_db", -42, -20),
        ("compressor", "ratio", 1.5, 6),
        ("compressor", "attack_ms", 1, 20),
        ("compressor", "release_ms", 50, 300),
        ("distortion", "drive_db", 8, 25),
        ("chorus", "rate_hz", 0.5, 3),
        ("delay", "delay_s", 0.1, 0.5),
        ("reverb", "room_size", 0.3, 1.0),
        ("limiter", "threshold_db", -12, -1),
        ("eq", "peak2_center_hz", 80, 12000),
        ("eq", "peak3_q", 0.5, 4),
    ],
)
def test_ranges_follow_the_issue(effect, param, low, high):
    spec = effect_spec(effect).param(param)
    assert (spec.minimum, spec.maximum) == (low, high)


def test_normalise_denormalise_round_trip_for_floats_and_tensors():
    for spec in CATALOG.values():
        for param in spec.params:
            middle = (param.minimum + param.maximum) / 2
            for value in (param.minimum, middle, param.maximum):
                unit = param.normalise(value)
                assert param.denormalise(unit) == pytest.approx(value, rel=1e-9, abs=1e-9)
            values = torch.linspace(param.minimum, param.maximum, 7, dtype=torch.float64)
            units = param.normalise(values)
            assert units.min() == pytest.approx(0.0, abs=1e-12) and units.max() == pytest.approx(1.0)
            torch.testing.assert_close(param.denormalise(units), values)


def test_log_scaled_parameters_put_the_geometric_mean_at_one_half():
    attack = effect_spec("compressor").param("attack_ms")
    assert attack.scale == "log"
    assert attack.normalise(math.sqrt(1.0 * 20.0)) == pytest.approx(0.5)
    assert effect_spec("compressor").param("threshold_db").normalise(-31.0) == pytest.approx(0.5)


def test_denormalise_clamps_out_of_range_predictions():
    drive = effect_spec("distortion").param("drive_db")
    assert drive.denormalise(1.7) == 25.0 and drive.denormalise(-0.3) == 8.0
    assert drive.denormalise(torch.tensor([2.0]))[0] == 25.0


def test_layout_covers_every_parameter_once():
    layout = param_layout()
    assert list(layout) == list(EFFECT_NAMES)
    assert sum(s.stop - s.start for s in layout.values()) == total_params() == 28
    assert layout["eq"].start == 0 and layout["limiter"].stop == total_params()


def test_validate_rejects_bad_settings():
    eq = effect_spec("eq")
    with pytest.raises(ValueError, match="all of"):
        eq.validate({"peak1_gain_db": 3.0})
    with pytest.raises(ValueError, match="outside"):
        effect_spec("compressor").validate({"threshold_db": -10, "ratio": 2, "attack_ms": 5, "release_ms": 100})
    with pytest.raises(ValueError, match="has no parameter"):
        effect_spec("reverb").validate({"room_size": 0.5, "wet_level": 0.3}, "convolution")
    with pytest.raises(ValueError, match="unknown effect"):
        effect_spec("flanger")


def test_estimate_detected_follows_its_threshold():
    assert EffectEstimate("reverb", 0.5).detected
    assert not EffectEstimate("reverb", 0.49).detected
    assert not EffectEstimate("reverb", 0.6, threshold=0.7).detected
    with pytest.raises(ValueError):
        EffectEstimate("reverb", 1.2)
    with pytest.raises(ValueError):
        EffectEstimate("wah", 0.3)


def test_detected_sorts_by_catalog_order_and_takes_per_effect_thresholds():
    estimates = [EffectEstimate(n, p) for n, p in [("limiter", 0.9), ("eq", 0.6), ("delay", 0.4), ("chorus", 0.55)]]
    assert [e.name for e in detected(estimates)] == ["eq", "chorus", "limiter"]
    assert [e.name for e in detected(estimates, 0.3)] == ["eq", "chorus", "delay", "limiter"]
    assert [e.name for e in detected(estimates, {"chorus": 0.7})] == ["eq", "limiter"]


def test_estimate_dict_round_trip_recomputes_detected():
    estimate = EffectEstimate("compressor", 0.8, {"threshold_db": -30.0, "ratio": 4.0}, threshold=0.6)
    data = estimate.to_dict()
    assert data["detected"] is True and data["params"]["threshold_db"] == -30.0
    assert EffectEstimate.from_dict({**data, "detected": False}) == estimate


def test_flat_vector_maps_back_to_physical_parameters_per_effect():
    from deconstruct.effects.catalog import denormalise_flat
    from deconstruct.effects.chain import sample_chain

    chain = sample_chain(4, 3, 3)
    values, mask = chain.normalised()
    physical = denormalise_flat(values, mask, chain.names)
    for effect in chain:
        assert physical[effect.name] == pytest.approx(dict(effect.params), rel=1e-5)
    with pytest.raises(ValueError, match="28"):
        denormalise_flat([0.5] * 3)
