"""The CLI and the pipeline API end to end on a trained tiny model."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from deconstruct import Deconstructor, deconstruct
from deconstruct.cli import main
from tests.conftest import REPO


@pytest.fixture()
def song(tmp_path):
    rng = np.random.default_rng(0)
    t = np.arange(3 * 44100) / 44100
    x = np.stack([0.3 * np.sin(2 * np.pi * 220 * t), 0.3 * np.sin(2 * np.pi * 330 * t)], 1)
    x += 0.05 * rng.standard_normal(x.shape)
    path = tmp_path / "song.flac"
    sf.write(path, x.astype(np.float32), 44100, subtype="PCM_24")
    return path


def test_cli_writes_stems_and_report(tmp_path, song, tiny_separation_checkpoint):
    out = tmp_path / "out"
    code = main([str(song), "-o", str(out), "--model", str(tiny_separation_checkpoint), "-q", "--chunk", "2.5",
                 "--stages", "separate"])
    assert code == 0
    report = json.loads((out / "report.json").read_text())
    assert report["schema"] == 2 and report["input"]["channels"] == 2
    assert abs(report["input"]["duration_s"] - 3.0) < 1e-3
    assert set(report["stems"]) == {"vocals", "drums", "bass", "other"}
    assert report["stages"]["separation"]["name"] == "smoke-separation"
    stems = {name: sf.read(out / entry["file"])[0] for name, entry in report["stems"].items()}
    mixture = sf.read(song)[0]
    assert np.abs(sum(stems.values()) - mixture).max() < 1e-4
    assert "analysis" not in report["stages"]  # stages that did not run are absent
    assert not list(out.rglob(".*partial*"))


def test_cli_refuses_existing_results_and_overwrites_on_request(tmp_path, song, tiny_separation_checkpoint):
    out = tmp_path / "out"
    args = [str(song), "-o", str(out), "--model", str(tiny_separation_checkpoint), "-q", "--stages", "separate"]
    assert main(args) == 0
    (out / "notes.txt").write_text("mine")
    before = (out / "report.json").read_text()
    assert main(args) == 3
    assert (out / "report.json").read_text() == before
    assert main(args + ["--overwrite", "--bit-depth", "24"]) == 0
    assert sf.info(out / "stems" / "vocals.wav").subtype == "PCM_24"
    assert (out / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize("argv_tail,code,message", [
    (["missing.wav"], 2, "no such file"),
    (["{song}", "--model", "no-such-model", "--stages", "separate"], 4, "unknown separation model"),
    (["{song}", "--stages", "separate,remove"], 2, "add analyze"),
    (["{song}", "--stages", "separate,levitate"], 2, "unknown stage"),
])
def test_cli_errors_are_one_line_with_exit_codes(tmp_path, song, capsys, argv_tail, code, message):
    argv = [part.replace("{song}", str(song)) for part in argv_tail] + ["-o", str(tmp_path / "o"), "-q"]
    assert main(argv) == code
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err


def test_cli_unwritable_output(tmp_path, song, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main([str(song), "-o", str(blocker / "sub"), "-q"]) == 3
    assert "cannot write" in capsys.readouterr().err


def test_console_script_help_and_list_models():
    help_text = subprocess.run([sys.executable, "-m", "deconstruct", "--help"], capture_output=True, text=True,
                               cwd=REPO).stdout
    for option in ("--model", "--stages", "--device", "--overwrite", "--bit-depth", "--list-models", "exit codes"):
        assert option in help_text


def test_api_round_trip(tmp_path, song, tiny_separation_checkpoint):
    result = deconstruct(song, separation_model=tiny_separation_checkpoint, device="cpu", stages=("separate",))
    assert result.timings_s["separation"] > 0
    result.save(tmp_path / "api")
    report = json.loads((tmp_path / "api" / "report.json").read_text())
    assert report["stems"]["bass"]["file"] == "stems/bass.wav"
    runner = Deconstructor(tiny_separation_checkpoint, device="cpu", stages=("separate",))
    mono = runner.run(result.stems["bass"].to_channels(1))
    assert all(stem.channels == 1 for stem in mono.stems.values())


def test_cli_all_stages_with_renders(tmp_path, song, tiny_separation_checkpoint):
    from deconstruct.spatial import read_wav_channel_mask

    out = tmp_path / "full"
    code = main([str(song), "-o", str(out), "--model", str(tiny_separation_checkpoint), "-q",
                 "--upmix", "5.1", "--upmix", "binaural"])
    assert code == 0
    report = json.loads((out / "report.json").read_text())
    assert set(report["stages"]) == {"separation", "analysis", "removal"}
    for name, entry in report["stems"].items():
        effects = entry["analysis"]["effects"]
        assert [e["name"] for e in effects] == ["eq", "compressor", "distortion", "chorus", "delay", "reverb",
                                                "limiter"]
        assert entry["dry"]["file"] == f"dry/{name}.wav" and (out / entry["dry"]["file"]).is_file()
        applied = [r["name"] for r in entry["removals"]]
        assert applied == [e["name"] for e in reversed(effects) if e["detected"]]
    assert report["renders"]["5.1"]["channels"] == ["L", "R", "C", "LFE", "Ls", "Rs"]
    assert read_wav_channel_mask(out / "render" / "5.1.wav") == 0x60F
    assert sf.info(out / "render" / "binaural.wav").channels == 2
    assert {"sdr_db", "mrstft"} <= set(report["resynthesis"])
    html = (out / "report.html").read_text()
    assert "<html" in html.lower() and "vocals" in html
