"""EffectAnalyzer: output contract, nothing-detectable cases, windowing and aggregation, input errors."""

from __future__ import annotations

import math

import pytest
import torch

from deconstruct.analysis import MIN_DURATION_S, EffectAnalyzer, analyze
from deconstruct.analysis.windows import SILENCE_DB, active_windows, cut_windows, window_starts
from deconstruct.audio import Audio, resample
from deconstruct.effects.catalog import CATALOG, EFFECT_NAMES
from deconstruct.errors import InputError

RATE = 22050


def noise(seconds: float, channels: int = 1, level: float = 0.1, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return level * torch.randn(channels, round(seconds * RATE), generator=generator)


def test_every_effect_in_catalog_order_with_physical_params_for_detected_ones(smoke_analysis_checkpoint):
    everything = EffectAnalyzer(smoke_analysis_checkpoint, threshold=0.0)  # every effect counts as detected
    result = everything.analyze(Audio(noise(2.0, channels=2), RATE))
    assert [e.name for e in result] == list(EFFECT_NAMES) and len(result) == 7
    for estimate in result:
        assert (estimate.detected or estimate.name == "eq" and estimate.veto) and estimate.threshold == 0.0
        spec = CATALOG[estimate.name]
        descriptors = ("rt60_s", "drr_db", "threshold_rel_db")
        catalog_params = {k: v for k, v in estimate.params.items() if k not in descriptors}
        assert catalog_params and set(catalog_params) <= set(spec.param_names)
        assert all(spec.param(k).contains(v) for k, v in catalog_params.items() if k != "threshold_db")
    assert 0.05 <= result["reverb"].params["rt60_s"] <= 20.0 and math.isfinite(result["reverb"].params["drr_db"])
    nothing = EffectAnalyzer(smoke_analysis_checkpoint, threshold=1.0).analyze(Audio(noise(2.0), RATE))
    assert not nothing.detected and all(e.params == {} for e in nothing)
    assert result.to_dict()["effects"][0]["name"] == "eq"


@pytest.mark.parametrize("samples", [torch.zeros(2, 3 * RATE), noise(3.0, 2, level=10 ** (-75 / 20))])
def test_silence_is_nothing_detectable(analyzer, samples):
    result = analyzer.analyze(Audio(samples, RATE))
    assert not result.detectable and "silent" in result.reason
    assert all(e.probability == 0.0 and not e.detected and e.params == {} for e in result)
    assert [e.name for e in result] == list(EFFECT_NAMES) and result.windows == 0


def test_too_short_is_nothing_detectable(analyzer):
    result = analyzer.analyze(Audio(noise(MIN_DURATION_S / 2), RATE))
    assert not result.detectable and result.reason.startswith("too short")
    assert all(e.probability == 0.0 for e in result)


def test_window_starts_cover_the_whole_stem():
    assert window_starts(100, 40, 20) == [0, 20, 40, 60]
    assert window_starts(105, 40, 20) == [0, 20, 40, 60, 65]
    assert window_starts(30, 40, 20) == [0]
    assert cut_windows(torch.ones(30), 40, 20).shape == (1, 40)


def test_silent_windows_are_left_out():
    loud, quiet = noise(1.0)[0], torch.zeros(RATE)
    windows = cut_windows(torch.cat([loud, quiet, loud]), RATE, RATE)
    assert active_windows(windows).tolist() == [True, False, True]
    faint = cut_windows(torch.full((RATE,), 10 ** ((SILENCE_DB - 5) / 20)), RATE, RATE)
    assert not active_windows(faint).any()


def test_long_stem_is_analysed_in_windows_and_aggregated(analyzer):
    window_s = analyzer.feature_config.window_s
    stem = noise(4 * window_s, channels=2)
    stem[:, : round(window_s * RATE)] = 0.0  # a silent first window
    outputs = analyzer.network_outputs(stem, RATE)
    mono = resample(stem.mean(dim=0), RATE, analyzer.sample_rate)
    windows = cut_windows(mono, analyzer.window, analyzer.hop)
    active = active_windows(windows)
    assert outputs.windows == int(active.sum()) < len(windows) and outputs.windows >= 5
    with torch.inference_mode():
        raw = analyzer.net(analyzer.features(windows[active]))
    torch.testing.assert_close(outputs.probabilities, torch.sigmoid(raw["logits"].mean(dim=0)))
    torch.testing.assert_close(outputs.params, raw["params"].median(dim=0).values)
    assert analyzer.analyze(Audio(stem, RATE)).windows == outputs.windows


def test_one_shot_analyze_matches_the_analyzer(smoke_analysis_checkpoint, analyzer):
    audio = Audio(noise(1.0), RATE)
    assert analyze(audio, smoke_analysis_checkpoint, device="cpu") == analyzer.analyze(audio)


@pytest.mark.parametrize("bad", [noise(1.0)[0], noise(1.0)[None]])
def test_wrong_ranks_are_clear_errors(analyzer, bad):
    with pytest.raises(InputError, match=r"\[channels, samples\]"):
        analyzer.analyze_tensor(bad, RATE)


def test_other_bad_inputs_are_clear_errors(analyzer, smoke_analysis_checkpoint):
    with pytest.raises(InputError, match="takes an Audio"):
        analyzer.analyze(noise(1.0))
    broken = noise(1.0)
    broken[0, 10] = float("nan")
    with pytest.raises(InputError, match="NaN"):
        analyzer.analyze(Audio(broken, RATE))
    with pytest.raises(InputError, match="unknown effects"):
        EffectAnalyzer(smoke_analysis_checkpoint, threshold={"flanger": 0.5})
    with pytest.raises(InputError, match=r"\[0, 1\]"):
        EffectAnalyzer(smoke_analysis_checkpoint, threshold=1.5)


def test_thresholds_default_to_tuned_and_can_be_overridden(smoke_analysis_checkpoint, analyzer):
    tuned = analyzer.resolved.config["thresholds"]
    assert analyzer.thresholds == tuned
    partial = EffectAnalyzer(smoke_analysis_checkpoint, threshold={"reverb": 0.9})
    assert partial.thresholds["reverb"] == 0.9 and partial.thresholds["delay"] == tuned["delay"]
    assert set(EffectAnalyzer(smoke_analysis_checkpoint, threshold=0.5).thresholds.values()) == {0.5}
