"""Chain descriptions and the seeded chain sampler."""

from __future__ import annotations

import json

import numpy as np
import pytest

from deconstruct.effects.catalog import EFFECT_NAMES, EffectEstimate, effect_spec, param_layout
from deconstruct.effects.chain import Chain, Effect, chain_from_estimates, sample_chain


def test_same_seed_same_chain_and_seeds_differ():
    assert sample_chain(7) == sample_chain(7)
    assert sample_chain([3, 1]) == sample_chain([3, 1])
    assert len({json.dumps(sample_chain(seed, 3, 1).to_dict()) for seed in range(20)}) == 20


def test_sampled_chains_are_in_catalog_order_without_repeats_and_in_range():
    counts = set()
    for seed in range(200):
        chain = sample_chain(seed, max_effects=3, min_effects=0, rir_files=["room.wav"])
        positions = [EFFECT_NAMES.index(n) for n in chain.names]
        assert positions == sorted(set(positions))
        counts.add(len(chain))
        for effect in chain:
            spec = effect_spec(effect.name)
            for name, value in effect.params.items():
                assert spec.param(name).contains(value)
    assert counts == {0, 1, 2, 3}


def test_every_effect_and_both_reverb_variants_get_drawn():
    chains = [sample_chain(seed, 3, 3, rir_files=["a.wav", "b.wav"]) for seed in range(100)]
    assert {n for c in chains for n in c.names} == set(EFFECT_NAMES)
    variants = {c.get("reverb").variant for c in chains if "reverb" in c}
    assert variants == {"algorithmic", "convolution"}


def test_require_and_subset():
    for seed in range(30):
        chain = sample_chain(seed, 2, 0, effects=["delay", "reverb"], require=["compressor"])
        assert "compressor" in chain and set(chain.names) <= {"compressor", "delay", "reverb"}
    with pytest.raises(ValueError, match="cannot draw"):
        sample_chain(0, 1, 0, require=["eq", "delay"])


def test_chain_rejects_wrong_order_and_repeats():
    eq = Effect("eq", {"peak1_gain_db": 3.0, "peak1_center_hz": 1000.0, "peak1_q": 1.0})
    distortion = Effect("distortion", {"drive_db": 10.0})
    Chain((eq, distortion))
    with pytest.raises(ValueError, match="catalog order"):
        Chain((distortion, eq))
    with pytest.raises(ValueError, match="at most once"):
        Chain((distortion, distortion))


def test_labels_params_and_mask():
    chain = Chain(
        (
            Effect("eq", {"peak1_gain_db": 12.0, "peak1_center_hz": 80.0, "peak1_q": 4.0}),
            Effect("reverb", {"wet_level": 0.6}, variant="convolution", rir="room.wav"),
        )
    )
    np.testing.assert_array_equal(chain.labels(), [1, 0, 0, 0, 0, 1, 0])
    values, mask = chain.normalised()
    layout = param_layout()
    eq_mask = mask[layout["eq"]]
    assert eq_mask.tolist() == [0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0]
    np.testing.assert_allclose(values[layout["eq"]][2:5], [1.0, 0.0, 1.0])
    assert mask[layout["reverb"]].tolist() == [0, 1] and values[layout["reverb"]][1] == pytest.approx(1.0)
    assert mask.sum() == 4


def test_dict_round_trip_and_without():
    chain = sample_chain(11, 3, 3, rir_files=["x.wav"])
    assert Chain.from_dict(json.loads(json.dumps(chain.to_dict()))) == chain
    first = chain.names[0]
    assert first not in chain.without(first) and len(chain.without(first)) == 2


def test_convolution_needs_a_file_and_only_wet_level():
    with pytest.raises(ValueError):
        Effect("reverb", {"wet_level": 0.3}, variant="convolution")
    with pytest.raises(ValueError):
        Effect("reverb", {"room_size": 0.5, "wet_level": 0.3}, rir="x.wav")


def test_chain_from_estimates_keeps_detected_effects_with_clamped_params():
    estimates = [
        EffectEstimate("reverb", 0.9, {"room_size": 1.3, "wet_level": 0.4, "rt60_s": 1.2}),
        EffectEstimate("distortion", 0.2, {"drive_db": 12.0}),
        EffectEstimate("compressor", 0.7, {"threshold_db": -30, "ratio": 3, "attack_ms": 5, "release_ms": 100}),
    ]
    chain = chain_from_estimates(estimates)
    assert chain.names == ("compressor", "reverb")
    assert dict(chain.get("reverb").params) == {"room_size": 1.0, "wet_level": 0.4}


def test_chains_and_estimates_pickle_for_worker_processes():
    import pickle

    chain = sample_chain(2, 3, 3, rir_files=["r.wav"])
    estimate = EffectEstimate("reverb", 0.7, {"room_size": 0.5, "wet_level": 0.3})
    assert pickle.loads(pickle.dumps(chain)) == chain
    assert pickle.loads(pickle.dumps(estimate)) == estimate
