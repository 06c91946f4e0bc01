"""demucs models through the demucs package: local folders, safe loading, caches, downloads and no network."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest
import soundfile as sf
import torch

from deconstruct.cli import main
from deconstruct.errors import ModelError
from deconstruct.separation import Separator
from deconstruct.separation.backends import demucs_hub
from tests.separation.fakes import SIX, malicious_repo, tiny_htdemucs, write_safetensors, write_th, th_package


def test_six_source_model_from_local_folder_through_every_stage(tmp_path, short_song, six_source_repo):
    audio, rate = sf.read(short_song)
    song = tmp_path / "one_second.wav"  # every stage on six stems: keep it short
    sf.write(song, audio[:rate].astype("float32"), rate)
    out = tmp_path / "out"
    code = main([str(song), "-o", str(out), "--model", "demucs:tiny6s", "--model-repo", str(six_source_repo),
                 "--upmix", "5.1", "-q"])
    assert code == 0
    report = json.loads((out / "report.json").read_text())
    assert list(report["stems"]) == SIX
    for name, entry in report["stems"].items():
        assert entry["file"] == f"stems/{name}.wav" and (out / entry["file"]).is_file()
        assert entry["dry"]["file"] == f"dry/{name}.wav" and (out / entry["dry"]["file"]).is_file()
    assert sf.info(out / "render" / "5.1.wav").channels == 6
    separator = report["separator"]
    assert separator["name"] == "demucs:tiny6s" and separator["backend"] == "demucs"
    assert separator["stems"] == SIX and str(six_source_repo) in separator["source"]
    assert separator["chunk_s"] <= 1.5  # never longer than the HTDemucs training segment
    mixture = sf.read(song)[0]
    total = sum(sf.read(out / entry["file"])[0] for entry in report["stems"].values())
    html = (out / "report.html").read_text()
    assert total.shape == mixture.shape and "guitar" in html and "Separator: demucs:tiny6s" in html


def test_first_line_names_the_separator(tmp_path, short_song, six_source_repo, capsys, monkeypatch):
    monkeypatch.setenv("DECONSTRUCT_MODEL_REPO", str(six_source_repo))  # the variable stands for --model-repo
    assert main([str(short_song), "-o", str(tmp_path / "o"), "--model", "demucs:tiny6s", "--stages", "separate"]) == 0
    first = capsys.readouterr().err.strip().splitlines()[0]
    assert first.startswith("deconstruct: separator demucs:tiny6s")


def test_malicious_pickle_is_refused(tmp_path, short_song, capsys):
    marker = tmp_path / "was_run"
    repo = malicious_repo(tmp_path / "evil_repo", marker)
    code = main([str(short_song), "-o", str(tmp_path / "out"), "--model", "demucs:evil", "--model-repo", str(repo),
                 "-q"])
    err = capsys.readouterr().err.strip()
    assert code == 4 and not marker.exists() and not (tmp_path / "out").exists()
    assert len(err.splitlines()) == 1 and "refused" in err


def test_checksum_is_checked(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    path = write_th(repo, "abcd1234", th_package(tiny_htdemucs()))
    path.rename(repo / "abcd1234-00000000.th")  # the name's checksum no longer matches the bytes
    with pytest.raises(ModelError, match="checksum"):
        Separator("demucs:abcd1234", model_repo=repo)


def test_uncached_model_without_network_fails_fast_in_one_line(tmp_path, short_song, no_network, capsys):
    started = time.perf_counter()
    code = main([str(short_song), "-o", str(tmp_path / "out"), "--model", "demucs:htdemucs_ft", "-q"])
    err = capsys.readouterr().err.strip()
    assert code == 4 and time.perf_counter() - started < 60
    assert len(err.splitlines()) == 1
    assert "not cached" in err and "download" in err and "--model-repo" in err


def test_dropped_packets_end_at_the_connect_timeout(monkeypatch, no_network):
    import socket

    def hang(address, timeout=None, **kwargs):  # a firewall that drops packets: no answer until the timeout
        time.sleep(timeout)
        raise socket.timeout("timed out")

    monkeypatch.setattr(socket, "create_connection", hang)
    monkeypatch.setattr(demucs_hub, "CONNECT_TIMEOUT_S", 0.3)
    started = time.perf_counter()
    with pytest.raises(ModelError, match="--model-repo"):
        Separator("demucs:htdemucs")
    assert time.perf_counter() - started < 5


def _fake_hf_download(hub: Path, calls: list):
    """``hf_hub_download`` over a local folder: files land in the cache layout the real one uses."""

    def download(repo_id, filename, cache_dir=None, **kwargs):
        calls.append((repo_id, filename))
        source = hub / repo_id / filename
        if not source.is_file():
            raise FileNotFoundError(source)
        folder = Path(cache_dir) / f"models--{repo_id.replace('/', '--')}"
        (folder / "refs").mkdir(parents=True, exist_ok=True)
        (folder / "refs" / "main").write_text("fakecommit")
        target = folder / "snapshots" / "fakecommit" / filename
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, target)
        return str(target)

    return download


def test_fetch_downloads_from_the_hub_then_runs_from_the_cache(tmp_path, no_network, monkeypatch, capsys):
    import huggingface_hub

    hub = tmp_path / "hub" / "adefossez" / "HTDemucs-6s"
    hub.mkdir(parents=True)
    (hub / "htdemucs_6s.yaml").write_text("models: ['5c90dfd2']\n")
    write_safetensors(hub / "5c90dfd2.safetensors", tiny_htdemucs())
    calls: list = []
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", _fake_hf_download(tmp_path / "hub", calls))
    monkeypatch.setattr(demucs_hub, "reachable", lambda timeout_s=None: True)
    assert main(["fetch", "demucs:htdemucs_6s"]) == 0
    assert "downloaded in the huggingface cache" in capsys.readouterr().out
    assert calls == [("adefossez/HTDemucs-6s", "htdemucs_6s.yaml"), ("adefossez/HTDemucs-6s", "5c90dfd2.safetensors")]
    separator = Separator("demucs:htdemucs_6s")  # from the cache: no further download
    assert len(calls) == 2 and separator.stems == SIX and "huggingface" in separator.resolved.source


def test_legacy_download_site_and_best_choice(tmp_path, no_network, monkeypatch):
    from demucs import pretrained

    from deconstruct.separation.backends import choose

    site, remote = tmp_path / "site", tmp_path / "remote"
    (site / "hybrid_transformer").mkdir(parents=True)
    remote.mkdir()
    file = write_th(site / "hybrid_transformer", "955717e8", th_package(tiny_htdemucs(["drums", "bass", "other",
                                                                                        "vocals"])))
    (remote / "files.txt").write_text(f"root: hybrid_transformer/\n{file.name}\n")
    (remote / "htdemucs.yaml").write_text("models: ['955717e8']\n")
    monkeypatch.setattr(pretrained, "ROOT_URL", site.as_uri() + "/")
    monkeypatch.setattr(pretrained, "REMOTE_ROOT", remote)
    assert choose("best").model is None  # nothing cached yet: the shipped default, and it says why
    separator = Separator("demucs:htdemucs")  # the hub fails (no network), the legacy site (a file URL) serves
    assert separator.stems == ["drums", "bass", "other", "vocals"] and "torch-hub" in separator.resolved.source
    assert (Path(torch.hub.get_dir()) / "checkpoints" / file.name).is_file()
    best = choose("best")
    assert best.model == "demucs:htdemucs" and "cached" in best.reason


def test_api_with_shifts_mono_input_and_another_rate(six_source_repo):
    from deconstruct.audio import Audio

    separator = Separator("demucs:tiny6s", model_repo=six_source_repo, shifts=1)
    assert separator.chunk_s + 0.5 <= 1.5  # a shifted chunk still fits the segment
    stems = separator.separate(Audio(torch.randn(1, 22050) * 0.1, 22050))
    assert list(stems) == SIX and all(audio.samples.shape == (1, 22050) for audio in stems.values())


def test_fetch_without_network_fails_in_one_line(no_network, capsys):
    assert main(["fetch", "demucs:htdemucs_ft"]) == 4
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("deconstruct fetch: error:") and "--model-repo" in err
