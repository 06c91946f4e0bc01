"""Removal that checks itself: harmful removals are rejected bit-exactly, genuine ones kept, unsure ones skipped."""

from __future__ import annotations

import pytest
import torch

from deconstruct.audio import Audio, loudness_lufs
from deconstruct.effects.catalog import EffectEstimate
from deconstruct.effects.chain import Chain, Effect
from deconstruct.effects.render import render_chain
from deconstruct.metrics.sdr import si_sdr
from deconstruct.effects.level_reference import active_rms_db
from deconstruct.removal import DSP_ONLY, EffectRemover
from deconstruct.removal import dsp
from deconstruct.removal.checks import (
    RemovalCheck,
    Resynthesizer,
    check_removal,
    measure_levels,
)
from deconstruct.removal.remover import REMOVE_POLICIES
from tests.removal.conftest import RATE, dry_signal

HEAVY = {"threshold_db": -40.0, "ratio": 6.0, "attack_ms": 5.0, "release_ms": 100.0}


@pytest.fixture(scope="module")
def remover() -> EffectRemover:
    return EffectRemover(DSP_ONLY)


def _wet(dry: torch.Tensor, name: str, params: dict) -> torch.Tensor:
    return render_chain(dry, RATE, Chain((Effect(name, params),)))


SATURATED = {"drive_db": 15.0}  # on the -20 dBFS test signal: atanh restores peaks far above the stem's


def test_a_removal_that_would_raise_the_peak_is_rejected_and_the_stem_passes_through_bit_exact(remover):
    audio = Audio(_wet(dry_signal(2.0), "distortion", SATURATED), RATE)
    original = audio.samples.clone()
    estimate = EffectEstimate("distortion", 0.95, SATURATED, threshold=0.5)
    unchecked = remover.remove(audio, [estimate])  # what the inverse alone would do
    assert float(unchecked.audio.samples.abs().max()) > 10 ** (3 / 20) * float(audio.samples.abs().max())
    result = remover.remove(audio, [estimate], checks="enforce")
    assert result.audio is audio and torch.equal(result.audio.samples, original)
    assert result.applied == () and result.rejected == ("distortion",)
    step = result.to_dict()[0]
    assert step["kept"] is False and step["checks"]["enforced"] is True and step["checks"]["passed"] is False
    assert step["checks"]["peak"]["passed"] is False and step["checks"]["resynthesis"]["passed"] is True
    assert "rejected" in step["note"] and "peak" in step["note"]


def test_recorded_checks_are_not_enforced(remover):
    audio = Audio(_wet(dry_signal(2.0), "distortion", SATURATED), RATE)
    result = remover.remove(audio, [EffectEstimate("distortion", 0.95, SATURATED)], checks="record")
    assert result.applied == ("distortion",) and result.audio is not audio
    step = result.to_dict()[0]
    assert step["kept"] is True and step["checks"]["enforced"] is False and step["checks"]["passed"] is False
    assert "not enforced" in step["note"]


@pytest.mark.parametrize("name,params,scale,sdr_gain_db", [
    ("compressor", HEAVY, 1.0, 3.0),  # the inverse alone would raise the stem by about 20 dB
    ("limiter", {"threshold_db": -6.0, "release_ms": 50.0}, 2.0, 0.0),  # ... or lower it by about 10 dB
])
def test_a_level_preserving_removal_returns_the_stem_level_with_one_recorded_gain(remover, name, params, scale,
                                                                                  sdr_gain_db):
    dry = dry_signal(2.0) * scale
    audio = Audio(_wet(dry, name, params), RATE)
    estimate = EffectEstimate(name, 0.95, params)
    result = remover.remove(audio, [estimate], checks="enforce")
    assert result.applied == (name,)
    step = result.to_dict()[0]
    assert abs(step["level_match_db"]) > 6.0 and abs(step["checks"]["loudness"]["change_lu"]) < 1.0
    assert active_rms_db(result.audio.samples, RATE) == pytest.approx(active_rms_db(audio.samples, RATE), abs=1e-3)
    assert step["checks"]["resynthesis"]["improvement_db"] > 3.0
    inverse = {"compressor": lambda x: dsp.invert_compressor(x, RATE, **params),
               "limiter": lambda x: dsp.invert_limiter(x, RATE, **params)}[name](audio.samples)
    gain = 10 ** (result.steps[0].removal.level_match_db / 20)
    assert torch.allclose(result.audio.samples, inverse * gain, atol=1e-6)  # one scalar on the inverse
    assert float(si_sdr(dry, result.audio.samples).mean()) > float(si_sdr(dry, audio.samples).mean()) + sdr_gain_db


def test_removals_that_keep_absolute_levels_record_no_level_match(remover):
    params = {"delay_s": 0.2, "feedback": 0.3, "mix": 0.25}
    result = remover.remove(Audio(_wet(dry_signal(2.0), "delay", params), RATE), [EffectEstimate("delay", 0.9, params)],
                            checks="enforce")
    assert result.applied == ("delay",) and "level_match_db" not in result.to_dict()[0]


def test_a_chain_of_level_preserving_removals_stays_exact(remover):
    """Compressor then distortion: the compressor's inverse runs on the distortion inverse's own level."""
    compressor = {"threshold_db": -20.0, "ratio": 3.0, "attack_ms": 5.0, "release_ms": 100.0}
    dry = dry_signal(2.0)
    wet = render_chain(dry, RATE, Chain((Effect("compressor", compressor), Effect("distortion", {"drive_db": 20.0}))))
    estimates = [EffectEstimate("compressor", 0.9, compressor), EffectEstimate("distortion", 0.9, {"drive_db": 20.0})]
    result = remover.remove(Audio(wet, RATE), estimates, checks="record")
    assert result.applied == ("distortion", "compressor")
    assert all(step.check.resynthesis["improvement_db"] > 40.0 for step in result.steps)
    assert all(step.removal.level_match_db is not None for step in result.steps)
    assert float(si_sdr(dry, result.audio.samples).mean()) > 60.0


def test_the_resynthesis_of_a_level_matched_step_renders_the_effect_at_the_level_its_inverse_ran_on():
    params = {"threshold_db": -30.0, "ratio": 4.0, "attack_ms": 5.0, "release_ms": 100.0}
    dry = dry_signal(1.0, channels=2)
    match, carried = 0.25, 2.0
    render = Resynthesizer(Effect("compressor", params), RATE, 2, level_match=match, carried=carried)
    pieces = torch.cat([render(dry[:, start:start + 5000]) for start in range(0, dry.shape[-1], 5000)], dim=-1)
    assert torch.allclose(pieces, carried * _wet(dry / match, "compressor", params), atol=1e-5)


def test_an_unsure_detection_removes_nothing(remover):
    params = {"delay_s": 0.2, "feedback": 0.3, "mix": 0.25}
    audio = Audio(_wet(dry_signal(2.0), "delay", params), RATE)
    unsure = EffectEstimate("delay", 0.4, params, threshold=0.5, unsure_below=0.3)
    assert unsure.decision == "unsure" and not unsure.detected
    mode, checks = REMOVE_POLICIES["safe"]
    result = remover.remove(audio, [unsure], mode=mode, checks=checks)
    assert result.steps == () and result.audio is audio
    mode, checks = REMOVE_POLICIES["all"]
    assert remover.remove(audio, [unsure], mode=mode, checks=checks).applied == ("delay",)
    assert REMOVE_POLICIES["none"] is None


@pytest.mark.parametrize("name,params,dry", [
    ("delay", {"delay_s": 0.2, "feedback": 0.3, "mix": 0.25}, dry_signal(2.0, channels=2)),
    ("compressor", HEAVY, dry_signal(2.0)),
])
def test_a_genuine_removal_passes_its_checks_and_is_kept(remover, name, params, dry):
    wet = _wet(dry, name, params)
    result = remover.remove(Audio(wet, RATE), [EffectEstimate(name, 0.9, params)], checks="enforce")
    assert result.applied == (name,)
    checks = result.steps[0].check
    assert checks.passed and checks.resynthesis["improvement_db"] > 3.0
    assert float(si_sdr(dry, result.audio.samples).mean()) > float(si_sdr(dry, wet).mean()) + 3.0


def test_block_wise_checks_equal_whole_tensor_checks():
    params = {"delay_s": 0.15, "feedback": 0.3, "mix": 0.3}
    dry = dry_signal(2.0, channels=2)
    wet = _wet(dry, "delay", params)
    stem = measure_levels(wet, RATE)
    assert stem.loudness_lufs == pytest.approx(loudness_lufs(Audio(wet, RATE)), abs=0.05)
    whole = check_removal(stem, wet, dry, RATE, Effect("delay", params), block_s=0.5)
    check = RemovalCheck(stem, RATE, 2, Resynthesizer(Effect("delay", params), RATE, 2))
    for start, stop in ((0, 22050), (22050, 22100), (22100, wet.shape[-1])):  # uneven blocks, one tiny
        check.update(wet[:, start:stop], dry[:, start:stop])
    blocks = check.result()
    assert blocks.levels == whole.levels
    assert blocks.resynthesis["resynthesis_snr_db"] > 40 and whole.resynthesis["resynthesis_snr_db"] > 40
    assert blocks.resynthesis["waveform_identity_snr_db"] == whole.resynthesis["waveform_identity_snr_db"]
    assert blocks.passed and whole.passed


def test_streamed_resynthesis_matches_the_whole_render():
    params = {"delay_s": 0.1, "feedback": 0.4, "mix": 0.4}
    dry = dry_signal(1.0, channels=2)
    whole = _wet(dry, "delay", params)
    render = Resynthesizer(Effect("delay", params), RATE, 2)
    pieces = torch.cat([render(dry[:, start:start + 3000]) for start in range(0, dry.shape[-1], 3000)], dim=-1)
    assert torch.allclose(pieces, whole, atol=1e-5)


def test_a_relative_compressor_threshold_is_placed_on_a_quiet_stem(remover):
    """A stem 30 dB quieter than the level it was compressed at: the relative threshold follows it."""
    params = {"threshold_db": -30.0, "ratio": 3.0, "attack_ms": 5.0, "release_ms": 100.0}
    dry = dry_signal(2.0)
    loud = _wet(dry, "compressor", params)
    quiet = loud * 10 ** (-30 / 20)
    from deconstruct.effects.level_reference import active_rms_db

    relative = {**params, "threshold_rel_db": params["threshold_db"] - active_rms_db(loud, RATE)}
    at_level = remover.remove(Audio(loud, RATE), [EffectEstimate("compressor", 0.9, relative)])
    placed = remover.remove(Audio(quiet, RATE), [EffectEstimate("compressor", 0.9, relative)])
    assert placed.removals[0].params["threshold_db"] == pytest.approx(-60.0, abs=0.01)
    assert torch.allclose(placed.audio.samples * 10 ** (30 / 20), at_level.audio.samples, atol=1e-4)
    assert float(si_sdr(dry, placed.audio.samples).mean()) > 30.0


def test_bad_checks_value_is_an_input_error(remover):
    from deconstruct.errors import InputError

    with pytest.raises(InputError, match="checks must be one of"):
        remover.remove(Audio(dry_signal(0.2), RATE), ["eq"], checks="sometimes")


def _analysis_saying(**probabilities: float):
    """What a re-analysis of the dry estimate reports (threshold 0.5 for every effect)."""
    return lambda audio: {name: EffectEstimate(name, probabilities.get(name, 0.0))
                          for name in ("eq", "compressor", "distortion", "chorus", "delay", "reverb", "limiter")}


def test_a_removal_the_analysis_still_detects_on_the_dry_estimate_is_rejected(remover):
    eq = {"peak1_gain_db": 6.0, "peak1_center_hz": 1000.0, "peak1_q": 1.0}
    delay = {"delay_s": 0.2, "feedback": 0.3, "mix": 0.25}
    dry = dry_signal(2.0)
    wet = _wet(dry, "delay", delay)  # the delay is real, the EQ a false detection
    estimates = [EffectEstimate("eq", 0.9, eq), EffectEstimate("delay", 0.9, delay)]
    plain = remover.remove(Audio(wet, RATE), estimates, checks="enforce")
    assert plain.applied == ("delay", "eq")  # an exact inverse always resynthesises: the three checks pass
    result = remover.remove(Audio(wet, RATE), estimates, checks="enforce", reanalyze=_analysis_saying(eq=0.8))
    assert result.applied == ("delay",) and result.rejected == ("eq",)
    steps = {step["name"]: step for step in result.to_dict()}
    assert steps["eq"]["checks"]["reanalysis"] == {"probability": 0.8, "decision": "detected", "passed": False}
    assert steps["eq"]["checks"]["passed"] is False and "still detects eq" in steps["eq"]["note"]
    assert steps["delay"]["checks"]["reanalysis"]["passed"] is True and steps["delay"]["kept"] is True
    alone = remover.remove(Audio(wet, RATE), [estimates[1]], checks="enforce")
    assert torch.equal(result.audio.samples, alone.audio.samples)
    only_eq = remover.remove(Audio(dry, RATE), [estimates[0]], checks="enforce", reanalyze=_analysis_saying(eq=0.9))
    assert only_eq.applied == () and torch.equal(only_eq.audio.samples, dry)
