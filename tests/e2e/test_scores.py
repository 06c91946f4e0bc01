"""Scoring a deconstruction against the truth: an oracle gets the best scores, the baselines sit beside it."""

from __future__ import annotations

import math

import pandas as pd
import pytest
import torch

from deconstruct.analysis import StemAnalysis
from deconstruct.audio import Audio
from deconstruct.effects.catalog import EFFECT_NAMES, EffectEstimate
from deconstruct.effects.chain import Chain, Effect
from deconstruct.effects.render import render_chain
from deconstruct.errors import InputError
from deconstruct.pipeline import Deconstruction
from eval.e2e_suite import SI_SDR_CAP_DB, E2EResults, Song, make_song, score_song, summarise

VOCAL_CHAIN = Chain((Effect("compressor", {"threshold_db": -30.0, "ratio": 4.0, "attack_ms": 5.0, "release_ms": 100.0}),
                     Effect("delay", {"delay_s": 0.2, "feedback": 0.3, "mix": 0.3})))


def oracle(song: Song, stems: dict[str, Audio]) -> Deconstruction:
    """What a perfect pipeline returns: ``stems``, the true chains (probability 1), the true dry stems and every
    true effect's removal kept."""
    analyses = {stem: StemAnalysis(tuple(
        EffectEstimate(name, 1.0 if name in chain else 0.0, dict(chain.get(name).params) if name in chain else {})
        for name in EFFECT_NAMES)) for stem, chain in song.chains.items()}
    dry = {stem: song.dry.get(stem, audio) for stem, audio in stems.items()}
    removals = {stem: [{"name": name, "method": "oracle", "params": {}, "kept": True}
                       for name in reversed(song.chains[stem].names)] if stem in song.chains else [] for stem in stems}
    return Deconstruction(song.mixture, stems, {}, {}, None, {**analyses, "drums": analyses["other"]}, dry, removals)


@pytest.fixture(scope="module")
def song(recordings) -> Song:
    built = make_song("s", {"vocals": recordings["voice"], "other": recordings["flute"]}, [], 2.0, seed=1)
    chains = {"vocals": VOCAL_CHAIN, "other": Chain()}
    wet = {stem: Audio(render_chain(built.dry[stem].samples, 44100, chain), 44100) for stem, chain in chains.items()}
    return Song("s", Audio(sum(a.samples for a in wet.values()), 44100), wet, built.dry, chains, built.sources)


@pytest.fixture(scope="module")
def rows(song) -> dict[str, pd.DataFrame]:
    """The oracle's scores; it also gives a quiet ``drums`` stem the song lacks."""
    quiet = Audio(song.mixture.samples * 1e-3, 44100)
    return {name: pd.DataFrame(part) for name, part in score_song(song, oracle(song, {**song.wet, "drums": quiet}))
            .items()}


def test_an_oracle_scores_perfectly_and_beats_every_baseline(rows):
    separation = rows["separation"].set_index(["stem", "method"])
    assert set(separation.index) == {(s, m) for s in ("vocals", "other") for m in ("pipeline", "mixture/2")}
    assert (separation.loc[(slice(None), "pipeline"), "uSDR"] > 60).all()
    assert (separation.loc[(slice(None), "mixture/2"), "uSDR"] < 10).all()
    assert separation.loc[(slice(None), "mixture/2"), "SDR"].notna().all()  # a perfect estimate's is infinite
    effects = rows["effects"]
    assert len(effects) == 2 * len(EFFECT_NAMES) and (effects["true"] == effects["detected"]).all()
    params = rows["params"]
    assert set(params["parameter"]) == {"threshold_db", "ratio", "attack_ms", "release_ms", "delay_s", "feedback",
                                        "mix"}
    assert params["error_normalised"].max() < 1e-6 and (params["error_midrange"] > 0).any()
    dry = rows["dry"].set_index(["stem", "method"])
    assert (dry.loc[(slice(None), "pipeline dry"), "si_sdr_db"] == SI_SDR_CAP_DB).all()
    assert dry.loc[("vocals", "true wet stem"), "si_sdr_db"] < SI_SDR_CAP_DB  # its effects moved it from dry
    assert dry.loc[("other", "true wet stem"), "si_sdr_db"] == SI_SDR_CAP_DB  # no effect on it
    assert (dry.loc[(slice(None), "pipeline dry"), ["si_snr_db", "multi_mel_snr_db"]] == SI_SDR_CAP_DB).all().all()
    assert dry.loc[("vocals", "separated stem"), "multi_mel_snr_db"] < SI_SDR_CAP_DB
    levels = rows["levels"].set_index("stem")  # every separated stem, the one the song lacks too
    assert list(levels.index) == ["vocals", "other", "drums"] and not levels.loc["drums", "in_song"]
    assert levels.loc["other", "rms_change_db"] == 0 and levels.loc["drums", "loudness_change_lu"] == 0
    assert levels.loc["vocals", "rms_change_db"] != 0  # the oracle removed a compressor and a delay
    resynthesis = rows["resynthesis"].set_index("method")
    assert resynthesis.loc["resynthesis", "sdr_db"] > 50 > resynthesis.loc["dry sum", "sdr_db"]
    assert rows["leakage"].to_dict(orient="records") == [
        {"song": "s", "stem": "drums", "level_re_mixture_db": pytest.approx(-60.0)}]


def test_bsseval_sdr_of_a_noisy_estimate_is_its_noise_level(song):
    from eval.e2e_suite import _separation_rows

    generator = torch.Generator().manual_seed(0)
    noisy = {}
    for stem, audio in song.wet.items():
        noise = torch.randn(audio.samples.shape, generator=generator)
        noise *= audio.samples.norm() / noise.norm() * 10 ** (-20 / 20)  # 20 dB below the stem
        noisy[stem] = Audio(audio.samples + noise, audio.sample_rate)
    table = pd.DataFrame(_separation_rows(song, noisy, ["vocals", "other"], "museval")[0]).set_index(
        ["stem", "method"])
    assert table.loc[(slice(None), "pipeline"), "uSDR"].to_numpy() == pytest.approx([20.0, 20.0], abs=0.01)
    assert table.loc[(slice(None), "pipeline"), "SDR"].between(17.0, 26.0).all()  # frame medians
    assert (table.loc[(slice(None), "mixture/2"), "SDR"] < 10).all()


def test_summary_puts_each_number_beside_its_baseline(rows):
    from eval.e2e_suite import _detection_table

    tables = {name: rows[name] for name in ("separation", "leakage", "effects", "params", "dry", "resynthesis",
                                            "levels")}
    results = E2EResults(pd.DataFrame(), detection=_detection_table(rows["effects"]), meta={}, **tables)
    table = summarise(results)
    assert list(table.columns) == ["section", "metric", "scope", "value", "better", "baseline", "baseline_value"]
    summary = table.set_index(["section", "metric", "scope", "baseline"])
    f1 = summary.loc[("detection", "macro F1", "effects present", "all present")]
    assert f1["value"] == 1.0 and f1["baseline_value"] == pytest.approx(2 / 3)  # 1 positive of 2 stems: F1 2/3
    mae = summary.loc[("params", "MAE (normalised)", "all (7 values)", "mid-range guess")]
    assert mae["value"] < 1e-6 < mae["baseline_value"] and mae["better"] == "lower"
    assert not math.isnan(summary.loc[("dry", "SI-SDR (dB)", "vocals", "true wet stem"), "baseline_value"])
    fpr = summary.loc[("detection", "false-positive rate", "compressor", "nothing detected")]
    assert fpr["value"] == 0 and fpr["better"] == "lower"
    clean = summary.loc[("detection", "false-positive rate, effect-free stems", "delay", "nothing detected")]
    assert clean["value"] == 0  # the other stem carries nothing; the oracle detects nothing there
    mel = summary.loc[("MSR", "Multi-Mel-SNR (dB)", "all stems", "separated stem")]
    assert mel["value"] == SI_SDR_CAP_DB > mel["baseline_value"]
    assert summary.loc[("levels", "outside 3 dB / 3 LU", "of 3 dry stems", "stem itself"), "value"] >= 0


def test_missing_stages_and_stems_are_refused(song):
    with pytest.raises(InputError, match="analyze and remove"):
        score_song(song, Deconstruction(song.mixture, dict(song.wet), {}, {}))
    with pytest.raises(InputError, match="none of the song's stems"):
        score_song(song, oracle(song, {"drums": song.mixture}))
