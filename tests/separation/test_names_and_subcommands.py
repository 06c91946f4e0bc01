"""Stem names from other models, and subcommands only as the first argument."""

from __future__ import annotations

import json
import shutil

from deconstruct.cli import main
from deconstruct.separation.stem_names import normalise_stem_names


def test_stem_names_are_normalised():
    assert normalise_stem_names(["Vocals", "instrum"]) == ["vocals", "accompaniment"]
    assert normalise_stem_names(["Drums", "Bass", "Guitars", "Keys", "no_vocals", "Lead Synth"]) == \
        ["drums", "bass", "guitar", "piano", "accompaniment", "lead_synth"]
    assert normalise_stem_names(["vocal", "Vocals"]) == ["vocals", "vocals_2"]


def test_help_lists_the_subcommands(capsys):
    try:
        main(["--help"])
    except SystemExit as stop:
        assert stop.code == 0
    assert "deconstruct fetch" in capsys.readouterr().out


def test_a_song_named_like_a_subcommand_is_given_with_a_path(tmp_path, short_song, six_source_repo, monkeypatch):
    shutil.copy(short_song, tmp_path / "fetch")
    monkeypatch.chdir(tmp_path)
    assert main(["./fetch", "-o", "out", "--model", "demucs:tiny6s", "--model-repo", str(six_source_repo),
                 "--stages", "separate", "-q"]) == 0
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["input"]["file"].endswith("fetch") and len(report["stems"]) == 6


def test_fetch_rejects_other_models(capsys):
    assert main(["fetch", "htdemucs"]) == 2
    assert "demucs:NAME" in capsys.readouterr().err
