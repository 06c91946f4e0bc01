"""The removal suite runs on the eval recordings and returns its tables (tiny settings)."""

from __future__ import annotations

from tests.conftest import shared_file


def test_suite_tables_on_the_eval_recordings():
    shared_file("splits.json")
    from eval.removal_suite import evaluate_removal, headline

    from deconstruct.removal import DSP_ONLY, EffectRemover

    tables = evaluate_removal(EffectRemover(DSP_ONLY), cases_per_effect=1, chain_cases=1, lacking_cases=2,
                              duration_s=1.0, effects=("eq", "distortion", "reverb"))
    assert set(tables) == {"single", "rir", "chains", "lacking", "dry", "detected", "summary"}
    single = tables["single"].set_index("effect")
    assert list(single.index) == ["eq", "distortion", "reverb"]
    assert single.loc["eq", "params_si_sdr"] > single.loc["eq", "input_si_sdr"]  # exact inverse from parameters
    assert single.loc["reverb", "names_methods"] == "reverb:pass-through"  # no network in dsp-only
    assert len(tables["rir"]) == 1 and tables["rir"]["room"].iloc[0]
    assert tables["detected"]["unchanged"].all()  # nothing detected: passed through unchanged
    assert set(tables["chains"]["effects"]) == {2, 3}
    assert set(tables["lacking"]["effect"]) == {"eq", "distortion", "reverb"}
    assert "si_sdr_gain_db/eq" in headline(tables["summary"])


def test_suite_runs_cases_through_an_analysis_callable():
    shared_file("splits.json")
    from eval.removal_suite import evaluate_removal

    from deconstruct.effects.catalog import EffectEstimate
    from deconstruct.removal import DSP_ONLY, EffectRemover

    def always_distortion(audio):
        return [EffectEstimate("distortion", 0.9), EffectEstimate("reverb", 0.1)]  # no drive: the strict gate

    tables = evaluate_removal(EffectRemover(DSP_ONLY), cases_per_effect=1, chain_cases=1, lacking_cases=1,
                              duration_s=1.0, effects=("distortion",), analyze=always_distortion)
    assert tables["single"]["analysis_methods"].iloc[0].startswith("distortion:")
    assert "analysis_gain_db" in tables["summary"]
    clean = tables["detected"]
    assert (clean["analysis"] == "given").all() and clean["unchanged"].all()  # the saturation gate spares clean input
