"""The real-song sanity report with tiny models on a short song file."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import soundfile as sf

from eval.cli import main
from eval.wild_suite import EXAMPLE, default_songs, run_wild_suite, unique_files


@pytest.fixture(scope="module")
def song(tmp_path_factory):
    folder = tmp_path_factory.mktemp("songs")
    t = np.arange(int(2.5 * 44100)) / 44100
    rng = np.random.default_rng(0)
    left = 0.2 * np.sin(2 * math.pi * 220 * t) * (0.6 + 0.4 * np.sin(2 * math.pi * 1.5 * t))
    right = left + 0.05 * rng.standard_normal(t.size) * (np.sin(2 * math.pi * 4 * t) > 0.5)
    path = folder / "short song.wav"
    sf.write(path, np.stack([left, right], 1).astype(np.float32), 44100)
    twin = folder / "twin.wav"
    twin.write_bytes(path.read_bytes())
    return path, twin


def test_the_report_counts_detections_spreads_parameters_and_checks_every_dry_stem(
        song, tmp_path, tiny_separation_checkpoint, tiny_analysis_checkpoint):
    out = tmp_path / "wild"
    per_effect, spread, results = run_wild_suite([song[0]], tiny_separation_checkpoint, tiny_analysis_checkpoint,
                                                 "dsp-only", out=out, device="cpu", options={"remove": "all"})
    stems = results.levels["stem"].tolist()
    assert len(stems) > 1 and len(results.effects) == 7 * len(stems)
    assert per_effect["stems"].eq(len(stems)).all() and per_effect["detected"].le(len(stems)).all()
    assert set(spread.columns) == {"effect", "parameter", "count", "min", "median", "max"}
    assert (spread["min"] <= spread["max"]).all()
    assert np.isfinite(results.levels[["rms_change_db", "loudness_change_lu", "peak_change_db"]].to_numpy()).all()
    assert results.levels["outside"].dtype == bool
    summary = json.loads((out / "summary.json").read_text())
    assert summary["songs"] == ["short song.wav"] and summary["outside_limits"] == int(results.levels["outside"].sum())
    assert (out / "songs" / "short_song" / "report.json").is_file()
    for name in ("effects", "levels", "per_effect", "params"):
        assert (out / f"{name}.csv").is_file()


def test_identical_files_count_once_and_the_example_comes_first(song):
    assert unique_files([song[0], song[1], song[0]]) == [song[0]]
    assert default_songs()[0] == EXAMPLE


def test_command_line_names_a_missing_song(capsys, tmp_path):
    assert main(["wild", str(tmp_path / "nothing.wav")]) == 2
    assert "no such song file" in capsys.readouterr().err
