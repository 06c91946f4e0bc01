"""The whole suite on one short song from the eval recordings, with tiny models, and its command line."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest

from eval.cli import build_parser, main
from eval.e2e_suite import run_e2e_suite
from tests.conftest import SHARED_DATA, shared_file

TABLES = ("songs", "separation", "leakage", "effects", "detection", "params", "dry", "levels", "resynthesis",
          "summary")


def test_suite_runs_end_to_end_and_writes_its_report(tmp_path, tiny_separation_checkpoint, tiny_analysis_checkpoint):
    shared_file("splits.json")
    out = tmp_path / "report"
    summary = run_e2e_suite(tiny_separation_checkpoint, tiny_analysis_checkpoint, "dsp-only", SHARED_DATA, out,
                            songs=1, duration_s=2.0, device="cpu", backend="fast")
    assert isinstance(summary, pd.DataFrame)
    assert set(summary["section"]) == {"separation", "detection", "params", "dry", "MSR", "levels", "resynthesis"}
    separation = summary[summary["section"] == "separation"]
    assert set(separation["scope"]) == {"vocals", "drums", "bass", "other"}
    assert set(separation["baseline"]) == {"mixture/4"}
    scored = summary[~summary["section"].isin(["params", "detection"])]  # true positives / negatives: maybe none
    assert scored[["value", "baseline_value"]].notna().all().all()
    for table in TABLES:
        assert (out / f"{table}.csv").is_file()
    songs = pd.read_csv(out / "songs.csv")
    assert list(songs["stem"]) == ["vocals", "drums", "bass", "other"]
    assert songs["source"].str.contains("dry_").any() and songs["source"].str.startswith("rendered:").any()
    assert songs["chain"].str.contains('"convolution"').any()  # one stem always gets an eval room
    meta = json.loads((out / "summary.json").read_text())
    assert meta["songs"] == 1 and meta["models"]["analysis"]["name"] == "tiny-analysis"
    page = (out / "report.html").read_text(encoding="utf-8")
    assert not [s for s in re.findall(r'(?:src|href)="([^"]*)"', page) if not s.startswith("data:image/png")]
    assert "<script" not in page and "http" not in page
    song_page = (out / "songs" / "song01" / "report.html").read_text(encoding="utf-8")
    assert all(f"<h3>{stem}</h3>" in song_page for stem in ("vocals", "drums", "bass", "other"))
    assert json.loads((out / "songs" / "song01" / "report.json").read_text())["schema"] == 2


def test_command_line_knows_the_suite_and_refuses_a_used_folder(tmp_path, capsys):
    args = build_parser("e2e").parse_args(["--out", "x", "--songs", "2", "--separation-model", "m.pt"])
    assert (args.songs, args.duration, args.separation_model, args.backend) == (2, 8.0, "m.pt", "museval")
    (tmp_path / "used.txt").write_text("mine")
    assert main(["e2e", "--out", str(tmp_path), "--separation-model", "m.pt"]) == 3
    assert "already holds files" in capsys.readouterr().err
    assert (tmp_path / "used.txt").read_text() == "mine"
