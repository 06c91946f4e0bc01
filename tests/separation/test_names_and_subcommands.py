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


def test_list_models_shows_published_scores_licences_and_cache_state(tmp_path, no_network, capsys):
    from deconstruct.separation.backends import choose

    repo = tmp_path / "models"
    repo.mkdir()
    (repo / "htdemucs_6s.yaml").write_text("models: ['5c90dfd2']\n")
    assert main(["--list-models", "--model-repo", str(repo)]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines() if line.startswith("  demucs:")}
    assert "9.0 dB SDR" in lines["demucs:htdemucs_ft"] and "not cached" in lines["demucs:htdemucs_ft"]
    assert "in the model folder" in lines["demucs:htdemucs_6s"] and "MIT" in lines["demucs:htdemucs_6s"]
    best = choose("best", model_repo=repo)
    assert best.model == "demucs:htdemucs_6s" and str(repo) in best.reason
