"""Songs of the end-to-end suite: known stems, chains and mixture."""

from __future__ import annotations

import pytest
import torch

from deconstruct.errors import InputError
from eval.e2e_suite import SAMPLE_RATE, build_songs, make_song, stem_role


@pytest.mark.parametrize("relative,role", [
    ("dry_speech/cmu_arctic_us_axb_a0004.wav", "vocals"),
    ("dry_vocals/openair_anechoic_operatic_voice.wav", "vocals"),
    ("dry_instruments/tinysol_Fl-ord-C4-mf-N-T14d.wav", "other"),
    ("dry_instruments/tinysol_Cb-ord-A2-mf-2c-N.wav", "bass"),
    ("dry_instruments/castanets_dry.wav", "drums"),
])
def test_recordings_take_the_role_their_folder_or_name_says(relative, role):
    assert stem_role(relative) == role


def test_song_is_the_sum_of_its_wet_stems_and_keeps_its_truth(recordings):
    sources = {"vocals": recordings["voice"], "other": recordings["flute"]}
    song = make_song("s", sources, [recordings["rir"]], 2.5, seed=3, reverb_stem="other",
                     root=recordings["voice"].parents[1])
    assert song.mixture.sample_rate == SAMPLE_RATE and song.mixture.samples.shape == (2, round(2.5 * SAMPLE_RATE))
    torch.testing.assert_close(song.mixture.samples, song.wet["vocals"].samples + song.wet["other"].samples)
    assert float(song.mixture.samples.abs().max()) <= 0.99 + 1e-6
    for stem in sources:
        assert song.dry[stem].samples.shape == song.mixture.samples.shape
        assert len(song.chains[stem]) <= 2
        if not len(song.chains[stem]):
            torch.testing.assert_close(song.wet[stem].samples, song.dry[stem].samples)
    reverb = song.chains["other"].get("reverb")
    assert reverb is not None and reverb.variant == "convolution" and reverb.rir == str(recordings["rir"])
    assert song.sources == {"vocals": "dry_vocals/voice.wav", "other": "dry_instruments/flute.wav"}
    # the recording repeats with gaps: silence between copies, sound in more than one place
    active = song.dry["vocals"].samples[0].abs() > 1e-4
    assert 0.3 < float(active.float().mean()) < 0.95


def test_songs_are_reproducible_from_their_seed(recordings):
    sources = {"vocals": recordings["voice"], "other": recordings["flute"]}
    first, again = (make_song("s", sources, [recordings["rir"]], 1.5, seed=7) for _ in range(2))
    other = make_song("s", sources, [recordings["rir"]], 1.5, seed=8)
    assert torch.equal(first.mixture.samples, again.mixture.samples)
    assert first.chains == again.chains
    assert not torch.equal(first.mixture.samples, other.mixture.samples)


def test_songs_take_one_recording_per_role_and_rotate_the_room(recordings):
    root = recordings["voice"].parents[1]
    songs = build_songs(root, songs=2, duration_s=1.0, seed=5, accompaniment="none")
    assert [song.name for song in songs] == ["song01", "song02"]
    assert all(song.sources == {"vocals": "dry_vocals/voice.wav", "other": "dry_instruments/flute.wav"}
               for song in songs)
    assert songs[0].chains["vocals"].get("reverb").variant == "convolution"  # song 1: the vocals get the room
    assert songs[1].chains["other"].get("reverb").variant == "convolution"  # song 2: the next stem
    with pytest.raises(InputError, match="at least one song"):
        build_songs(root, songs=0)


def test_band_songs_put_the_eval_sources_over_a_rendered_band(recordings):
    root = recordings["voice"].parents[1]
    songs = build_songs(root, songs=2, duration_s=1.5, seed=5)
    for song in songs:
        assert list(song.wet) == ["vocals", "drums", "bass", "other"]
        assert song.sources["vocals"] == "dry_vocals/voice.wav"
        assert song.sources["drums"].startswith("rendered:") and song.sources["bass"].startswith("rendered:")
        torch.testing.assert_close(song.mixture.samples, sum(a.samples for a in song.wet.values()))
        assert all(len(chain) <= 2 for chain in song.chains.values())
    assert songs[0].sources["other"].startswith("rendered:")  # every other song, the eval instrument plays instead
    assert songs[1].sources["other"] == "dry_instruments/flute.wav"
    assert songs[0].chains["vocals"].get("reverb").rir == str(recordings["rir"])  # the eval room rotates
    assert songs[1].chains["drums"].get("reverb").rir == str(recordings["rir"])
    again = build_songs(root, songs=2, duration_s=1.5, seed=5)
    assert all(torch.equal(a.mixture.samples, b.mixture.samples) for a, b in zip(songs, again))
    with pytest.raises(InputError, match="unknown accompaniment"):
        build_songs(root, songs=1, accompaniment="orchestra")
