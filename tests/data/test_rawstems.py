"""Reading the RawStems layout (SONG/Group/Subgroup/files) into four-stem songs, on a tiny fake folder."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from deconstruct.data.material.rawstems import list_rawstems_songs, read_excerpt
from deconstruct.errors import InputError

RATE = 22050


def _tone(path, hz: float, seconds: float = 2.0, channels: int = 1) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * RATE)) / RATE
    x = 0.1 * np.sin(2 * np.pi * hz * t)
    sf.write(path, np.stack([x] * channels, 1) if channels > 1 else x, RATE)


@pytest.fixture
def rawstems(tmp_path):
    """Two songs in the RawStems layout and a third with a single group (not a mix)."""
    root = tmp_path / "RawStems"
    _tone(root / "Artist - Song A" / "Voc" / "LV" / "lead.flac", 220.0)
    _tone(root / "Artist - Song A" / "Rhy" / "DK" / "kick.wav", 60.0)
    _tone(root / "Artist - Song A" / "Gtr" / "EG" / "gtr.flac", 330.0, channels=2)
    _tone(root / "Artist - Song A" / "Kbs" / "PN" / "piano.flac", 440.0)
    _tone(root / "Artist - Song B" / "Voc" / "BV" / "backing.wav", 250.0)
    _tone(root / "Artist - Song B" / "Bass" / "SB" / "bass.wav", 80.0)
    _tone(root / "Lonely" / "Voc" / "LV" / "solo.wav", 300.0)
    (root / "Artist - Song A" / "Gtr" / "EG" / "notes.txt").write_text("not audio")
    (root / "train.txt").write_text("Artist - Song B\n\n")
    return root


def test_songs_map_groups_to_stems(rawstems):
    songs = list_rawstems_songs(rawstems)
    assert [s.folder.name for s in songs] == ["Artist - Song A", "Artist - Song B"]
    a = songs[0]
    assert sorted(a.stems) == ["drums", "other", "vocals"]
    assert [f.name for f in a.stems["other"]] == ["gtr.flac", "piano.flac"]  # guitar and keys are "other"
    assert a.sample_rate == RATE and a.frames == 2 * RATE
    assert sorted(songs[1].stems) == ["bass", "vocals"]


def test_file_list_selects_songs(rawstems):
    songs = list_rawstems_songs(rawstems, rawstems / "train.txt")
    assert [s.folder.name for s in songs] == ["Artist - Song B"]


def test_excerpt_sums_a_stem_and_resamples(rawstems):
    song = list_rawstems_songs(rawstems)[0]
    excerpt = read_excerpt(song, 0.5, 1.0, 44100)
    assert set(excerpt) == {"vocals", "drums", "other"}
    assert all(x.shape == (2, 44100) for x in excerpt.values())
    # two sines of amplitude 0.1 summed: RMS of the sum = 0.1 (two uncorrelated sines of RMS 0.0707)
    assert float(excerpt["other"].square().mean().sqrt()) == pytest.approx(0.1, rel=0.05)
    assert float(excerpt["vocals"].square().mean().sqrt()) == pytest.approx(0.0707, rel=0.05)


def test_bad_folders_are_input_errors(rawstems, tmp_path):
    with pytest.raises(InputError, match="not a RawStems folder"):
        list_rawstems_songs(tmp_path / "missing")
    (tmp_path / "bad.txt").write_text("No Such Song\n")
    with pytest.raises(InputError, match="missing"):
        list_rawstems_songs(rawstems, tmp_path / "bad.txt")
    empty = tmp_path / "empty"
    (empty / "x").mkdir(parents=True)
    with pytest.raises(InputError, match="RawStems layout"):
        list_rawstems_songs(empty)
