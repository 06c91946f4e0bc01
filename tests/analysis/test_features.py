"""The fixed feature views: shapes, and that each view shows what it is there for."""

from __future__ import annotations

import math

import pytest
import torch

from deconstruct.analysis.features import NUM_STATS, EffectFeatures, FeatureConfig, log_bins
from deconstruct.effects.chain import Effect
from deconstruct.effects.render import render_effect

CONFIG = FeatureConfig(window_s=1.5, echo_max_s=0.6)


@pytest.fixture(scope="module")
def features() -> EffectFeatures:
    return EffectFeatures(CONFIG)


def speechlike(seed: int = 0) -> torch.Tensor:
    """Noise bursts with a syllable-rate envelope: broadband and non-stationary, like speech."""
    generator = torch.Generator().manual_seed(seed)
    t = torch.arange(CONFIG.window_samples) / CONFIG.sample_rate
    envelope = torch.relu(torch.sin(2 * math.pi * 3.1 * t)) ** 4
    return 0.1 * envelope * torch.randn(CONFIG.window_samples, generator=generator)


def test_views_have_the_configured_shapes(features):
    views = features(torch.stack([speechlike(0), speechlike(1)]))
    c = CONFIG
    assert views["logmel"].shape == (2, c.n_mels, c.frames)
    assert views["laggram"].shape == (2, c.lag_bins, c.frames)
    assert views["modulation"].shape == (2, c.mod_bands, c.mod_bins)
    assert views["echo"].shape == (2, 2, c.echo_bins)
    assert views["stats"].shape == (2, NUM_STATS)
    assert all(torch.isfinite(v).all() for v in views.values())


def test_an_echo_peaks_at_its_delay(features):
    dry = speechlike()[None]
    delay_s = 0.23
    wet = render_effect(dry, CONFIG.sample_rate, Effect("delay", {"delay_s": delay_s, "feedback": 0.3, "mix": 0.4}))
    c = CONFIG
    lags = c.echo_min_s * (c.echo_max_s / c.echo_min_s) ** ((torch.arange(c.echo_bins) + 0.5) / c.echo_bins)
    for row in (0, 1):  # generalised autocorrelation and cepstrum
        peak = float(lags[int(features(wet)["echo"][0, row].argmax())])
        assert abs(math.log(peak / delay_s)) < 0.05
        assert features(wet)["echo"][0, row].max() > 2 * features(dry)["echo"][0, row].max()


def test_level_statistics_see_a_limiter(features):
    dry = speechlike()[None]
    limited = render_effect(dry, CONFIG.sample_rate, Effect("limiter", {"threshold_db": -12.0, "release_ms": 100.0}))
    dry_stats, limited_stats = features(dry)["stats"][0], features(limited)["stats"][0]
    assert limited_stats[0] > dry_stats[0]  # peak level (dBFS / 10) rises towards full scale
    assert limited_stats[2] < dry_stats[2]  # crest factor falls


def test_wrong_window_shapes_raise(features):
    with pytest.raises(ValueError, match="mono windows"):
        features(torch.zeros(1, 2, CONFIG.window_samples))
    with pytest.raises(ValueError, match="mono windows"):
        features(torch.zeros(1, CONFIG.window_samples - 1))


def test_log_bins_refuse_bins_finer_than_the_positions():
    assert log_bins(torch.arange(1, 100, dtype=torch.float64), 1.0, 99.0, 8).max() == 7
    with pytest.raises(ValueError, match="finer"):
        log_bins(torch.arange(1, 10, dtype=torch.float64), 1.0, 9.0, 40)
