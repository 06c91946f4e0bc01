"""The voice-in-a-band protocol: its effects, its items and the suite with tiny models."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from deconstruct.data.rendering.mixing import active_rms
from eval.band_suite import (
    CLASSES,
    PROTOCOL_EFFECTS,
    build_items,
    protocol_effect,
    render_protocol_effect,
    run_band_suite,
    wide_summary,
)
from eval.cli import main

RANGES = {  # RemFX's ranges, as the protocol states them
    "reverb": {"room_size": (0.3, 1.0), "wet_level": (0.2, 0.6)},
    "compressor": {"threshold_db": (-42, -20), "ratio": (1.5, 6), "attack_ms": (1, 20), "release_ms": (50, 300)},
    "distortion": {"drive_db": (8, 25)},
    "delay": {"delay_s": (0.1, 0.5), "feedback": (0.1, 0.5), "mix": (0.2, 0.5)},
    "chorus": {"rate_hz": (0.5, 3), "depth": (0.2, 0.8), "mix": (0.3, 0.7)},
}


@pytest.mark.parametrize("name", PROTOCOL_EFFECTS)
def test_protocol_effects_draw_inside_remfx_ranges(name):
    rng = np.random.default_rng(0)
    for _ in range(20):
        effect = protocol_effect(name, rng)
        assert set(effect.params) == set(RANGES[name])
        for param, (low, high) in RANGES[name].items():
            assert low <= effect.params[param] <= high
    assert protocol_effect(None, rng) is None


def test_protocol_reverb_keeps_the_dry_level_at_0_8():
    x = torch.randn(2, 44100) * 0.1
    effect = protocol_effect("reverb", np.random.default_rng(1))
    wet = render_protocol_effect(x, effect)
    assert wet.shape == x.shape
    head = 800  # before the first comb filter's echo returns
    # JUCE's reverb (pedalboard's) scales the dry level by 2: dry_level 0.8 passes the input at 1.6
    torch.testing.assert_close(wet[:, :head], 1.6 * x[:, :head], atol=1e-4, rtol=1e-3)
    torch.testing.assert_close(render_protocol_effect(x, None), x)


def test_items_balance_the_classes_and_sit_3_db_under_the_band(recordings):
    items = build_items(recordings["voice"].parents[1], items=6, duration_s=1.5, rendered_bands=1)
    assert [item.effect_name for item in items] == [c or "none" for c in CLASSES]
    for item in items:
        band = sum(x.samples for x in item.band.values())
        torch.testing.assert_close(item.mixture.samples, band + item.wet.samples, atol=1e-5, rtol=1e-5)
        assert item.stem not in item.band and item.band_name.startswith("rendered:")
        under = 20 * np.log10(active_rms(band.numpy()) / active_rms(item.wet.samples.numpy()))
        assert under == pytest.approx(3.0, abs=0.05)
    assert {item.stem for item in items} == {"vocals", "other"}


def test_suite_scores_each_condition_and_writes_its_tables(recordings, tiny_separation_checkpoint,
                                                          tiny_analysis_checkpoint, tmp_path):
    out = tmp_path / "band"
    summary, results = run_band_suite([tiny_analysis_checkpoint], tiny_separation_checkpoint, "dsp-only",
                                      recordings["voice"].parents[1], out, items=6, duration_s=1.5,
                                      rendered_bands=1, device="cpu")
    assert set(results.items["condition"]) == {"separated", "true wet"} and len(results.items) == 12
    macro = summary[summary["metric"] == "detection macro-F1"]
    assert macro["baseline_value"].round(4).tolist() == [0.2857, 0.2857]  # every effect present: 2/7
    assert macro["value"].between(0, 1).all()
    separated = results.levels[results.levels["condition"] == "separated"]
    stems = separated["stem"].nunique()  # every stem the separator gives, not only the source's
    assert stems > 1 and len(separated) == 6 * stems
    assert np.isfinite(separated[["rms_change_db", "loudness_change_lu", "peak_change_db"]].to_numpy()).all()
    for name in ("items.csv", "levels.csv", "summary.csv"):
        assert (out / name).is_file()
    assert json.loads((out / "summary.json").read_text())["items"] == 6
    wide = wide_summary(summary)
    assert wide.loc["detection macro-F1", "target"] == ">= 0.55" and wide.shape[1] == 5


def test_command_line_registers_the_suite(capsys):
    with pytest.raises(SystemExit):
        main(["band", "--help"])
    assert "--analysis-model" in capsys.readouterr().out
