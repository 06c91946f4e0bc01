"""The removal stage: reverse catalog order, modes, estimates vs names, pass-through, input errors."""

from __future__ import annotations

import pytest
import torch

from deconstruct.audio import Audio
from deconstruct.effects.catalog import EffectEstimate
from deconstruct.effects.chain import Chain, Effect
from deconstruct.effects.render import render_chain
from deconstruct.errors import InputError, ModelError
from deconstruct.metrics.sdr import si_sdr
from deconstruct.removal import DSP_ONLY, EffectRemover, remove
from tests.removal.conftest import RATE, dry_signal

EQ = {"peak1_gain_db": 10.0, "peak1_center_hz": 1500.0, "peak1_q": 1.5}
COMPRESSOR = {"threshold_db": -32.0, "ratio": 4.0, "attack_ms": 5.0, "release_ms": 100.0}


@pytest.fixture(scope="module")
def remover() -> EffectRemover:
    return EffectRemover(DSP_ONLY)


def test_effects_are_undone_in_reverse_catalog_order(remover):
    audio = Audio(dry_signal(0.5), RATE)
    result = remover.remove(audio, ["eq", "limiter", "reverb", "compressor"], mode="given")
    assert [r.name for r in result.removals] == ["limiter", "reverb", "compressor", "eq"]


def test_reverse_order_recovers_a_chain_from_its_parameters(remover):
    dry = dry_signal(1.0) * 2.0
    chain = Chain((Effect("eq", EQ), Effect("compressor", COMPRESSOR)))
    wet = render_chain(dry, RATE, chain)
    estimates = [EffectEstimate("eq", 0.9, EQ), EffectEstimate("compressor", 0.8, COMPRESSOR)]
    result = remover.remove(Audio(wet, RATE), estimates)
    assert result.applied == ("compressor", "eq")
    assert float(si_sdr(dry, result.audio.samples).mean()) > 40.0 > float(si_sdr(dry, wet).mean())


def test_nothing_detected_passes_through_unchanged(remover):
    audio = Audio(dry_signal(0.5, channels=2), RATE)
    estimates = [EffectEstimate("reverb", 0.2), EffectEstimate("delay", 0.49), EffectEstimate("eq", 0.1, EQ)]
    result = remover.remove(audio, estimates)
    assert result.removals == () and result.audio is audio
    assert remover.remove(audio).audio is audio


def test_threshold_override_selects_the_detections(remover):
    audio = Audio(dry_signal(0.5), RATE)
    estimates = [EffectEstimate("eq", 0.3, EQ), EffectEstimate("compressor", 0.6, COMPRESSOR)]
    assert remover.remove(audio, estimates, threshold=0.25).applied == ("compressor", "eq")
    assert remover.remove(audio, estimates, threshold={"compressor": 0.7}).applied == ()
    assert [r.name for r in remover.remove(audio, estimates, mode="given").removals] == ["compressor", "eq"]


def test_estimates_carry_parameters_names_do_not(remover):
    audio = Audio(dry_signal(0.5), RATE)
    with_params = remover.remove(audio, [EffectEstimate("compressor", 1.0, {**COMPRESSOR, "extra_db": 1.0})])
    assert with_params.removals[0].method == "dsp" and with_params.removals[0].params == COMPRESSOR
    by_name = remover.remove(audio, ["compressor"])  # no parameters: the remover estimates them blindly
    assert "blind" in by_name.removals[0].note
    if by_name.removals[0].method == "pass-through":
        assert torch.equal(by_name.audio.samples, audio.samples)
    else:
        assert by_name.removals[0].params and by_name.removals[0].params != COMPRESSOR


def test_all_mode_visits_every_effect_and_its_gates_spare_clean_audio(remover):
    generator = torch.Generator().manual_seed(0)
    noise = 0.1 * torch.randn(2, 3 * 22050, generator=generator) * torch.linspace(1.0, 0.2, 3 * 22050)
    audio = Audio(noise, 22050)
    result = remover.remove(audio, [], mode="all")
    assert len(result.removals) == 7
    notes = {r.name: r.note for r in result.removals}
    assert "no echo" in notes["delay"] and "no saturation" in notes["distortion"]
    assert result.audio.samples.shape == audio.samples.shape and result.audio.sample_rate == 22050
    assert torch.equal(result.audio.samples, audio.samples)


@pytest.mark.parametrize("effects,mode,message", [
    (["flanger"], "detected", "unknown effect"),
    (["eq", "eq"], "given", "listed twice"),
    ([3], "given", "EffectEstimate objects or effect names"),
    (["eq"], "sometimes", "mode must be one of"),
])
def test_bad_requests_are_input_errors(remover, effects, mode, message):
    with pytest.raises(InputError, match=message):
        remover.remove(Audio(dry_signal(0.1), RATE), effects, mode=mode)


def test_bad_audio_is_an_input_error(remover):
    with pytest.raises(InputError, match="takes an Audio"):
        remover.remove(dry_signal(0.1), ["eq"])
    with pytest.raises(InputError, match="NaN"):
        remover.remove(Audio(torch.full((1, 100), float("nan")), RATE), ["eq"])
    with pytest.raises(InputError, match="no samples"):
        remover.remove(Audio(torch.zeros(1, 0), RATE), ["eq"])


def test_unknown_model_is_a_model_error():
    with pytest.raises(ModelError):
        EffectRemover("no-such-removal-model")


def test_one_shot_function(tmp_path):
    audio = Audio(dry_signal(0.3), RATE)
    assert remove(audio, ["limiter"], model=DSP_ONLY).removals[0].name == "limiter"


def test_stems_are_processed_with_their_own_estimates(remover):
    stems = {"vocals": Audio(dry_signal(0.3, seed=1), RATE), "bass": Audio(dry_signal(0.3, seed=2), RATE)}
    results = remover.remove_stems(stems, {"vocals": [EffectEstimate("compressor", 0.9, COMPRESSOR)]})
    assert results["vocals"].applied == ("compressor",)
    assert results["bass"].removals == () and results["bass"].audio is stems["bass"]
    assert "exact inverse" in remover.methods()["compressor"]


@pytest.mark.parametrize("effects,state,message", [
    ({"chorus": {"dsp": True}}, {}, "bad chorus entry"),
    ({"flanger": {"dsp": True}}, {}, "unknown effects"),
    ({"eq": {"dsp": True}}, {"reverb.weight": torch.zeros(1)}, "no configured network"),
    ({"reverb": {"net": {"architecture": "gain_tcn", "arch_kwargs": {"hidden": 4, "layers": 1}}}},
     {"reverb.out.weight": torch.zeros(3)}, "do not fit"),
])
def test_inconsistent_checkpoints_are_model_errors(tmp_path, effects, state, message):
    from deconstruct.models.checkpoint import save_checkpoint

    path = save_checkpoint(tmp_path / "bad.pt", "bad", {"stage": "removal", "sample_rate": RATE, "effects": effects},
                           state)
    with pytest.raises(ModelError, match=message):
        EffectRemover(path)
