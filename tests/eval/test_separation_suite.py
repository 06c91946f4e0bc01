"""The separation suite: known scores, baselines in the same table, report files, command line."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch

from deconstruct.audio import Audio
from deconstruct.metrics import global_sdr
from eval.cli import main
from eval.separation_suite import evaluate_separation, score_estimates, write_report
from eval.tracks import find_tracks
from tests.conftest import shared_file
from tests.eval.helpers import memory_track, write_wav_track


def scaled_oracle(tracks, gain: float):
    """A separate_fn returning ``gain`` times the true stems of the track whose mixture it is given."""
    by_mixture = {id(track.mixture): track for track in tracks}

    def separate(mixture: Audio) -> dict[str, Audio]:
        track = by_mixture[id(mixture)]
        return {name: Audio(gain * stem.samples, stem.sample_rate) for name, stem in track.stems.items()}

    return separate


def test_scaled_oracle_scores_its_known_sdr_beside_the_baselines():
    tracks = [memory_track("a", seed=0), memory_track("b", seed=1)]
    results = evaluate_separation(scaled_oracle(tracks, 0.9), tracks, method="oracle", progress=False)
    table = results.table()
    assert set(table["method"]) == {"oracle", "mixture/4", "mixture", "zeros"}
    assert len(table) == 2 * 4 * 4
    oracle = table[table["method"] == "oracle"]
    np.testing.assert_allclose(oracle["uSDR"], 20.0, atol=1e-4)  # 10 log10(1 / 0.1^2)
    np.testing.assert_allclose(oracle["SDR"], 20.0, atol=1e-4)
    zeros = table[table["method"] == "zeros"]
    assert (zeros["uSDR"] == 0.0).all() and zeros[["SDR", "SIR", "ISR", "SAR"]].isna().all().all()
    assert (zeros["frames"] == 0).all() and (oracle["frames"] == 2).all()
    track = tracks[0]
    for index, name in enumerate(track.stems):
        expected = global_sdr(track.stems[name].samples, track.mixture.samples / 4).item()
        row = table[(table["track"] == "a") & (table["method"] == "mixture/4") & (table["stem"] == name)]
        assert row["uSDR"].item() == pytest.approx(expected)
    summary = results.summary()
    assert len(summary) == 4 * 4 and (summary["tracks"] == 2).all()


def test_estimates_are_matched_by_name_and_padded_to_the_reference():
    track = memory_track()

    def vocals_only(mixture: Audio) -> dict[str, Audio]:
        return {"vocals": Audio(track.stems["vocals"].samples[:, :-500], mixture.sample_rate), "piano": mixture}

    results = evaluate_separation(vocals_only, [track], baselines=False, progress=False)
    table = results.table()
    assert table["stem"].tolist() == ["vocals"] and table["method"].tolist() == ["model"]
    assert table["uSDR"].item() > 20.0  # all but the last 500 samples are exact


def test_fast_and_museval_backends_agree():
    pytest.importorskip("museval")
    generator = torch.Generator().manual_seed(0)
    references = torch.randn(2, 2, 50000, generator=generator)
    estimates = {"noisy": references + 0.3 * torch.randn(2, 2, 50000, generator=generator)}
    fast = score_estimates(references, estimates, 20000, backend="fast")["noisy"]
    reference = score_estimates(references, estimates, 20000, backend="museval")["noisy"]
    for metric in ("SDR", "SIR", "ISR", "SAR", "uSDR"):
        np.testing.assert_allclose(fast[metric], reference[metric], rtol=0, atol=0.01)


def test_report_folder_has_tables_json_and_self_contained_html(tmp_path):
    tracks = [memory_track("first song", seed=0), memory_track("second/song", seed=1)]
    results = evaluate_separation(scaled_oracle(tracks, 0.5), tracks, method="half", progress=False)
    html_path = write_report(results, tmp_path, data="memory")
    items = sorted(p.name for p in (tmp_path / "items").iterdir())
    assert items == ["first song.csv", "first song.json", "second_song.csv", "second_song.json"]
    record = json.loads((tmp_path / "items" / "first song.json").read_text())  # strict JSON: NaN became null
    assert record["scores"]["zeros"]["vocals"]["SDR"] is None
    assert record["scores"]["half"]["vocals"]["uSDR"] == pytest.approx(20 * math.log10(2), abs=1e-4)
    assert len(record["frames"]["half"]["bass"]["SAR"]) == 2
    scores = pd.read_csv(tmp_path / "scores.csv")
    assert list(scores.columns) == ["track", "method", "stem", "SDR", "SIR", "ISR", "SAR", "uSDR", "frames"]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["tracks"] == 2 and len(summary["summary"]) == 16
    page = html_path.read_text()
    assert page.count('src="data:image/png;base64,') == 2  # metric bars + spectrograms of one example
    assert "second/song" in page and "<script" not in page and 'src="http' not in page


def test_command_line_writes_a_report_and_refuses_to_overwrite(tmp_path, capsys):
    write_wav_track(tmp_path / "data" / "song")
    out = tmp_path / "report"
    assert main(["separation", "--data", str(tmp_path / "data"), "--out", str(out)]) == 0
    assert (out / "report.html").exists() and (out / "summary.csv").exists()
    before = (out / "scores.csv").read_text()
    assert main(["separation", "--data", str(tmp_path / "data"), "--out", str(out)]) == 3
    assert "already holds files" in capsys.readouterr().err
    assert (out / "scores.csv").read_text() == before
    assert main(["separation", "--data", str(tmp_path / "absent"), "--out", str(tmp_path / "r2")]) == 2


def test_command_line_with_a_trained_tiny_model(tmp_path, tiny_separation_checkpoint):
    write_wav_track(tmp_path / "data" / "song", seconds=1.5)
    out = tmp_path / "report"
    argv = ["separation", "--data", str(tmp_path / "data"), "--model", str(tiny_separation_checkpoint),
            "--out", str(out), "--device", "cpu"]
    assert main(argv) == 0
    scores = pd.read_csv(out / "scores.csv")
    assert len(set(scores["method"])) == 4 and scores.groupby("method").size().eq(4).all()


def test_real_preview_baselines():
    folder = shared_file("musdb18_music_delta_80s_rock/mixture.wav").parent
    results = evaluate_separation(None, find_tracks(folder), progress=False)
    table = results.table().set_index(["method", "stem"])
    assert results.method is None and len(results.tracks) == 1
    assert np.isfinite(table.loc["mixture/4", ["SDR", "SIR", "ISR", "SAR", "uSDR"]].to_numpy()).all()
    # the mixture is the stems' sum up to AAC coding noise, so mixture/4 beats mixture on every stem
    assert (table.loc["mixture/4", "uSDR"] > table.loc["mixture", "uSDR"]).all()
    assert (table.loc["zeros", "uSDR"] == 0.0).all()
