"""Folder-of-stems and MUSDB18 stem-file readers, and the on-disk cache."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest
import soundfile as sf
import torch

from deconstruct.data.datasets.cache import write_cache
from deconstruct.data.datasets.stems_dataset import FolderOfStems, MUSDBStems
from deconstruct.errors import InputError, OutputError

SR = 44100
FREQS = {"mixture": 220.0, "drums": 330.0, "bass": 110.0, "other": 550.0, "vocals": 880.0}


def _tone(freq: float, seconds: float, channels: int = 2, rate: int = SR) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return np.stack([0.3 * np.sin(2 * np.pi * freq * t)] * channels, axis=1).astype(np.float32)


def _dominant(audio: torch.Tensor) -> float:
    spectrum = np.abs(np.fft.rfft(audio[0].numpy()))
    return float(np.argmax(spectrum) * SR / audio.shape[-1])


@pytest.fixture
def folder(tmp_path):
    """Two tracks: 3 s stereo and 2 s with a mono, 22.05 kHz bass and no 'other' file."""
    root = tmp_path / "stems"
    for track, seconds in (("a", 3.0), ("b", 2.0)):
        (root / track).mkdir(parents=True)
        for stem in ("vocals", "drums", "bass", "other", "mixture"):
            if track == "b" and stem == "other":
                continue
            if track == "b" and stem == "bass":
                sf.write(root / track / "bass.wav", _tone(FREQS["bass"], seconds, 1, 22050), 22050)
                continue
            sf.write(root / track / f"{stem}.wav", _tone(FREQS[stem], seconds), SR, subtype="FLOAT")
    return root


def test_tiling_reads_every_segment_with_the_right_stems(folder):
    data = FolderOfStems(folder, segment_s=1.0, random_segments=False)
    assert data.stems == ("bass", "drums", "other", "vocals")  # inferred, mixture excluded
    assert len(data) == 3 + 2
    for index in range(len(data)):
        item = data[index]
        assert set(item) == set(data.stems)
        assert all(audio.shape == (2, SR) for audio in item.values())
    first = data[0]
    for stem in ("vocals", "drums", "bass"):
        assert _dominant(first[stem]) == pytest.approx(FREQS[stem], abs=2.0)
    last = data[4]  # track b: resampled mono bass, missing 'other' is silence
    assert _dominant(last["bass"]) == pytest.approx(110.0, abs=2.0)
    assert torch.equal(last["bass"][0], last["bass"][1])
    assert not last["other"].any()


def test_random_segments_are_reproducible_and_augmented(folder):
    flip = lambda stems, rng: {k: -v for k, v in stems.items()}  # noqa: E731
    data = FolderOfStems(folder, stems=["vocals", "bass"], segment_s=0.5, items_per_epoch=7, seed=3)
    flipped = FolderOfStems(folder, stems=["vocals", "bass"], segment_s=0.5, items_per_epoch=7, seed=3, augment=flip)
    assert len(data) == 7
    assert all(torch.equal(data[i]["vocals"], data[i]["vocals"]) for i in range(7))
    assert torch.equal(flipped[2]["bass"], -data[2]["bass"])
    whole = FolderOfStems(folder, stems=["drums"], segment_s=None)
    assert len(whole) == 2 and whole[0]["drums"].shape == (2, 3 * SR)


def test_folder_errors(tmp_path):
    with pytest.raises(InputError, match="no such folder"):
        FolderOfStems(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError):
        FolderOfStems(tmp_path / "empty")


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg not installed")
def test_musdb_stem_files_decode_in_stream_order(tmp_path):
    inputs, maps = [], []
    for k, stem in enumerate(("mixture", "drums", "bass", "other", "vocals")):
        path = tmp_path / f"{stem}.wav"
        sf.write(path, _tone(FREQS[stem], 2.0), SR)
        inputs += ["-i", str(path)]
        maps += ["-map", f"{k}:a"]
    (tmp_path / "train").mkdir()
    target = tmp_path / "train" / "Song - Title.stem.mp4"
    subprocess.run(["ffmpeg", "-v", "error", *inputs, *maps, "-c:a", "aac", "-b:a", "128k", str(target)], check=True)
    data = MUSDBStems(tmp_path, subset="train", segment_s=0.5, random_segments=False)
    assert len(data) == 4
    item = data[1]
    assert list(item) == ["vocals", "drums", "bass", "other"]
    for stem, audio in item.items():
        assert audio.shape == (2, SR // 2)
        assert _dominant(audio) == pytest.approx(FREQS[stem], abs=3.0)
    with pytest.raises(InputError, match="no stem"):
        MUSDBStems(tmp_path, stems=("mixture",))


class _Counting(torch.utils.data.Dataset):
    sample_rate, stems = SR, ("vocals", "bass")

    def __len__(self) -> int:
        return 3

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        g = torch.Generator().manual_seed(index)
        return {stem: torch.randn(2, 4410, generator=g) * 0.1 for stem in self.stems}


def test_cache_round_trips_through_folder_of_stems(tmp_path):
    root = write_cache(_Counting(), tmp_path / "cache")
    assert sorted(p.name for p in (root / "000001").iterdir()) == ["bass.wav", "mixture.wav", "vocals.wav"]
    read = FolderOfStems(root, segment_s=None)
    assert read.stems == ("bass", "vocals")
    for index in range(3):
        original = _Counting()[index]
        assert all(torch.equal(read[index][stem], original[stem]) for stem in read.stems)
    mixture, _ = sf.read(root / "000002" / "mixture.wav", dtype="float32")
    expected = _Counting()[2]
    assert np.allclose(mixture.T, (expected["vocals"] + expected["bass"]).numpy(), atol=1e-7)


def test_cache_refuses_to_overwrite_and_resumes(tmp_path):
    root = write_cache(_Counting(), tmp_path / "cache", num_items=2)
    with pytest.raises(OutputError, match="already holds a cache"):
        write_cache(_Counting(), root)
    (root / "000001" / "mixture.wav").unlink()  # an interrupted item
    stamp = (root / "000000" / "vocals.wav").stat().st_mtime_ns
    write_cache(_Counting(), root, resume=True)
    assert (root / "000001" / "mixture.wav").is_file() and (root / "000002" / "mixture.wav").is_file()
    assert (root / "000000" / "vocals.wav").stat().st_mtime_ns == stamp  # complete items are left alone
    other = _Counting()
    other.sample_rate = 22050
    with pytest.raises(OutputError, match="another dataset"):
        write_cache(other, root, resume=True)
