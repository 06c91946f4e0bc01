"""A run into a folder leaves it clean: failures, interruptions, a full disk, overwrites, PCM output, timings."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile as sf

from deconstruct.cli import main
from tests.conftest import REPO

EXAMPLE = REPO / "deconstruct" / "examples" / "slow_motion_dream_excerpt.mp3"
SEPARATE = ["-q", "--device", "cpu", "--stages", "separate"]


def files_in(folder) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def write_song(path, seconds: float, nan_at_s: float | None = None, subtype: str = "PCM_24"):
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * 44100)) / 44100
    x = np.stack([0.3 * np.sin(2 * np.pi * 220 * t), 0.3 * np.sin(2 * np.pi * 330 * t)], 1)
    x += 0.05 * rng.standard_normal(x.shape)
    if nan_at_s is not None:
        x[int(nan_at_s * 44100)] = np.nan
    sf.write(path, x.astype(np.float32), 44100, subtype=subtype)
    return path


@pytest.fixture()
def song(tmp_path):
    return write_song(tmp_path / "song.flac", 3.0)


def test_failed_run_leaves_the_folder_as_found(tmp_path, song, capsys):
    nan_song = write_song(tmp_path / "nan.wav", 3.0, nan_at_s=2.0, subtype="FLOAT")
    out = tmp_path / "x"
    assert main([str(nan_song), "-o", str(out), *SEPARATE]) == 2
    assert not out.exists()  # the run created it, the failure removed it
    out.mkdir()
    (out / "mine.txt").write_text("keep")
    assert main([str(nan_song), "-o", str(out), *SEPARATE]) == 2
    assert files_in(out) == ["mine.txt"] and [p.name for p in out.iterdir()] == ["mine.txt"]
    err = capsys.readouterr().err.strip().splitlines()
    assert all("NaN" in line for line in err) and len(err) == 2
    assert main([str(song), "-o", str(out), *SEPARATE]) == 0  # no --overwrite needed
    assert (out / "report.json").is_file() and (out / "mine.txt").read_text() == "keep"


def test_stale_temporaries_of_a_killed_run_are_removed_and_permissions_agree(tmp_path, song):
    out = tmp_path / "x"
    (out / "stems").mkdir(parents=True)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = [out / "stems" / f".deconstruct-partial.{dead.pid}.0a1b2c3d.vocals.wav",
             out / f".deconstruct-partial.{dead.pid}.0a1b2c3d.report.json", out / "stems" / ".bass.k2j3.partial.wav",
             out / "stems" / f"..deconstruct-partial.{dead.pid}.0a1b2c3d.drums.x1y2.float32"]
    for path in stale:
        path.write_bytes(b"\0" * 1000)
    assert main([str(song), "-o", str(out), *SEPARATE, "--upmix", "2.0"]) == 0
    assert not any(path.exists() for path in stale)
    assert not [name for name in files_in(out) if "/." in name or name.startswith(".")]
    modes = {oct(os.stat(out / name).st_mode & 0o777) for name in files_in(out)}
    assert len(modes) == 1


def test_disk_full_is_one_line_exit_3_and_leaves_nothing(tmp_path, song, capsys, monkeypatch):
    from deconstruct import streaming

    calls = []
    original = streaming.WavWriter.write

    def full_after_a_few(self, block):
        calls.append(1)
        if len(calls) > 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        original(self, block)

    monkeypatch.setattr(streaming.WavWriter, "write", full_after_a_few)
    out = tmp_path / "full"
    assert main([str(song), "-o", str(out), *SEPARATE]) == 3
    err = capsys.readouterr().err.strip()
    assert "disk is full" in err and len(err.splitlines()) == 1 and "Traceback" not in err
    assert not out.exists()


def test_sigterm_while_writing_leaves_no_partial_file(tmp_path, song):
    long_song = write_song(tmp_path / "long.wav", 240.0, subtype="PCM_16")
    out = tmp_path / "x"
    child = subprocess.Popen([sys.executable, "-m", "deconstruct", str(long_song), "-o", str(out), *SEPARATE,
                              "--chunk", "3"], cwd=REPO, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and child.poll() is None:
        if out.exists() and any(p.is_file() for p in out.rglob("*.wav")):
            break
        time.sleep(0.05)
    assert child.poll() is None, child.stderr.read()
    child.send_signal(signal.SIGTERM)
    _, err = child.communicate(timeout=120)
    assert child.returncode == 143, err
    assert "interrupted" in err
    assert not out.exists() or not list(out.rglob("*"))
    assert main([str(song), "-o", str(out), *SEPARATE]) == 0


def test_overwrite_removes_exactly_the_previous_outputs(tmp_path):
    song = write_song(tmp_path / "short.flac", 1.5)
    out = tmp_path / "x"
    full = [str(song), "-o", str(out), "-q", "--device", "cpu", "--removal-model", "dsp-only", "--upmix", "5.1"]
    assert main(full) == 0
    first = json.loads((out / "report.json").read_text())
    assert first["outputs"] == files_in(out)
    assert {"dry/vocals.wav", "render/5.1.wav", "report.html", "report.json"} <= set(first["outputs"])
    (out / "notes.txt").write_text("mine")
    (out / "render" / "mine.txt").write_text("mine too")
    assert main([str(song), "-o", str(out), *SEPARATE]) == 3  # results there: refused without --overwrite
    assert main([str(song), "-o", str(out), *SEPARATE, "--overwrite"]) == 0
    second = json.loads((out / "report.json").read_text())
    left = files_in(out)
    assert not [name for name in left if name.startswith("dry/") or name.endswith(".wav") and "render/" in name]
    assert not (out / "dry").exists()
    assert set(left) == set(second["outputs"]) | {"notes.txt", "render/mine.txt"}


def test_pcm_output_on_the_shipped_example_uses_one_common_gain(tmp_path):
    out = tmp_path / "pcm"
    assert main([str(EXAMPLE), "-o", str(out), *SEPARATE, "--bit-depth", "16", "--upmix", "5.1"]) == 0
    report = json.loads((out / "report.json").read_text())
    wavs = [name for name in files_in(out) if name.endswith(".wav")]
    assert "render/5.1.wav" in wavs and len(wavs) == 5
    assert {sf.info(out / name).subtype for name in wavs} == {"PCM_16"}
    gain = report["pcm_gain_db"]
    assert -3.0 < gain < 0.0  # a stem peaks above full scale: all stems lowered together
    mixture = sf.read(EXAMPLE, dtype="float64")[0]
    total = sum(sf.read(out / "stems" / f"{name}.wav", dtype="float64")[0] for name in report["stems"])
    assert np.abs(total - mixture * 10 ** (gain / 20)).max() < 2e-3  # stems still sum to the (gained) mixture
    assert max(entry["peak_dbfs"] for entry in report["stems"].values()) <= 0.0


def test_headroom_by_hand(tmp_path, capsys):
    loud = tmp_path / "loud.wav"
    sf.write(loud, 8.0 * sf.read(write_song(tmp_path / "s.wav", 1.0, subtype="FLOAT"))[0], 44100, subtype="FLOAT")
    out = tmp_path / "pcm"
    assert main([str(loud), "-o", str(out), *SEPARATE, "--bit-depth", "24", "--headroom-db", "0.1"]) == 3
    err = capsys.readouterr().err.strip()
    assert "--headroom-db" in err and len(err.splitlines()) == 1 and not out.exists()  # a clip leaves no mess
    assert main([str(loud), "-o", str(out), *SEPARATE, "--bit-depth", "24", "--headroom-db", "30"]) == 0
    assert json.loads((out / "report.json").read_text())["pcm_gain_db"] == -30.0


@pytest.mark.parametrize("settings,message", [
    ({"stems": {"guitar": {"gain_db": 1}}}, "guitar"),
    ({"stems": {"vocals": {"gain_db": 99}}}, "gain_db"),
    ({"stems": {"vocals": {"loudness": 1}}}, "loudness"),
])
def test_remix_settings_are_checked_before_any_stage(tmp_path, song, capsys, settings, message):
    path = tmp_path / "mix.json"
    path.write_text(json.dumps(settings))
    out = tmp_path / "x"
    assert main([str(song), "-o", str(out), *SEPARATE, "--remix", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1 and not out.exists()


def test_stage_times_add_up_to_the_wall_time_and_progress_bars(tmp_path, song):
    out = tmp_path / "x"
    started = time.monotonic()
    run = subprocess.run([sys.executable, "-m", "deconstruct", str(song), "-o", str(out), "--device", "cpu",
                          "--stages", "separate", "--remix", str(write_remix(tmp_path))], cwd=REPO,
                         capture_output=True, text=True)
    wall = time.monotonic() - started
    assert run.returncode == 0, run.stderr
    assert "separating" in run.stderr and "rendering remix" in run.stderr
    timings = json.loads((out / "report.json").read_text())["timings_s"]
    assert {"startup", "separation", "render", "report", "total"} <= set(timings)
    parts = sum(value for key, value in timings.items() if key != "total")
    assert abs(parts - timings["total"]) < 0.01
    assert abs(timings["total"] - wall) <= 0.05 * wall + 0.3


def write_remix(folder):
    path = folder / "mix.json"
    path.write_text(json.dumps({"stems": {"vocals": {"gain_db": -3, "pan": 0.5}}, "master_gain_db": -1}))
    return path


def test_version(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0 and capsys.readouterr().out.startswith("deconstruct ")
