"""Output layout (targets, physical read-out) and the detection / parameter scores."""

from __future__ import annotations

import math

import numpy as np
import pytest

from deconstruct.analysis.layout import MIN_SECTION_GAIN_DB, output_names, physical_params, targets_from_chain
from deconstruct.analysis.scoring import detection_scores, macro_f1, masked_mae, tune_thresholds
from deconstruct.effects.catalog import CATALOG, param_layout, total_params
from deconstruct.effects.chain import Chain, Effect


def test_output_layout_is_the_catalog_then_reverb_descriptors():
    names = output_names()
    assert len(names) == total_params() + 2 and names[-2:] == ["reverb.rt60_s", "reverb.drr_db"]
    assert names[param_layout()["delay"]] == ["delay.delay_s", "delay.feedback", "delay.mix"]


def test_absent_eq_sections_are_flat_targets():
    chain = Chain((Effect("eq", {"peak1_gain_db": 6.0, "peak1_center_hz": 1000.0, "peak1_q": 1.0}),))
    values, mask = targets_from_chain(chain)
    names = output_names()
    flat = CATALOG["eq"].param("low_shelf_gain_db").normalise(0.0)
    assert values[names.index("eq.low_shelf_gain_db")] == pytest.approx(flat)
    assert mask[names.index("eq.low_shelf_gain_db")] == 1 and mask[names.index("eq.low_shelf_cutoff_hz")] == 0
    assert mask[names.index("eq.peak1_q")] == 1 and mask[-2:].sum() == 0


def test_reverb_targets_carry_rt60_and_drr():
    values, mask = targets_from_chain(Chain((Effect("reverb", {"room_size": 0.5, "wet_level": 0.4}),)))
    assert mask[-2:].tolist() == [1.0, 1.0] and np.all((values[-2:] > 0) & (values[-2:] < 1))


def test_physical_params_drop_flat_eq_sections_but_keep_the_strongest():
    chain = Chain((Effect("eq", {"high_shelf_gain_db": 9.0, "high_shelf_cutoff_hz": 10000.0}),))
    values, _ = targets_from_chain(chain)
    params = physical_params("eq", values)
    assert set(params) == {"high_shelf_gain_db", "high_shelf_cutoff_hz"}
    assert params["high_shelf_gain_db"] == pytest.approx(9.0, abs=1e-4)
    everything_flat = physical_params("eq", np.full(len(output_names()), 0.5))
    assert len(everything_flat) in (2, 3) and all(abs(v) < MIN_SECTION_GAIN_DB for k, v in everything_flat.items()
                                                 if k.endswith("gain_db"))
    with pytest.raises(ValueError, match="outputs"):
        physical_params("eq", [0.5])


def test_detection_scores_and_macro_f1():
    labels = np.array([[1, 0], [1, 1], [0, 0], [0, 1]])
    predicted = np.array([[1, 0], [0, 1], [1, 0], [0, 0]], dtype=bool)
    scores = detection_scores(predicted, labels, ["a", "b"])
    assert scores["a"]["precision"] == 0.5 and scores["a"]["recall"] == 0.5 and scores["a"]["f1"] == 0.5
    assert scores["b"]["precision"] == 1.0 and scores["b"]["f1"] == pytest.approx(2 / 3)
    assert macro_f1(scores) == pytest.approx((0.5 + 2 / 3) / 2)
    assert math.isnan(detection_scores(np.zeros((2, 1), bool), np.zeros((2, 1)), ["c"])["c"]["f1"])


def test_tuned_thresholds_separate_the_classes():
    probabilities = np.array([[0.1], [0.2], [0.35], [0.4], [0.9]])
    labels = np.array([[0], [0], [1], [1], [1]])
    threshold = tune_thresholds(probabilities, labels, ["a"])["a"]
    assert 0.2 < threshold <= 0.35


def test_masked_mae_counts_only_present_entries():
    mae = masked_mae(np.array([[0.5, 0.0], [1.0, 0.0]]), np.array([[0.0, 0.0], [0.5, 1.0]]),
                     np.array([[1, 0], [1, 0]]))
    assert mae[0] == 0.5 and math.isnan(mae[1])
