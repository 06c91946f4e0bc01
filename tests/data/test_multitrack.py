"""SyntheticMultitracks: deterministic, exact stems, realistic variety, effect hook."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import numpy as np
import pytest
import torch

from deconstruct.data.rendering.multitrack import SyntheticMultitracks
from deconstruct.errors import InputError

SR = 44100


def _digest(stems: dict[str, torch.Tensor]) -> str:
    h = hashlib.sha256()
    for name in sorted(stems):
        h.update(name.encode() + stems[name].numpy().tobytes())
    return h.hexdigest()


def test_items_are_stereo_stems_of_the_requested_set(dataset):
    item = dataset.item(0)
    assert list(item.stems) == ["vocals", "drums", "bass", "other"]
    for audio in item.stems.values():
        assert audio.shape == (2, 2 * SR) and audio.dtype == torch.float32 and torch.isfinite(audio).all()
    assert float(item.mixture.abs().max()) <= 0.99 + 1e-6
    assert torch.equal(item.mixture, sum(item.stems.values()))


def test_same_seed_and_index_give_bit_identical_audio_in_any_order(dataset, voice_library):
    forward = [_digest(dataset[i]) for i in range(4)]
    fresh = SyntheticMultitracks(seed=11, num_items=8, duration_s=2.0, score_probability=0.0,
                                 recorded_voice_probability=0.5, voice_library=voice_library, clip_library=None)
    backward = [_digest(fresh[i]) for i in reversed(range(4))][::-1]
    assert forward == backward
    other_seed = SyntheticMultitracks(seed=12, num_items=8, duration_s=2.0, score_probability=0.0,
                                      voice_library=voice_library, clip_library=None)
    assert _digest(other_seed[0]) != forward[0]
    assert len(set(forward)) == 4


def test_another_process_renders_the_same_item():
    code = ("import hashlib;from deconstruct.data.rendering.multitrack import SyntheticMultitracks as S;"
            "d=S(5,4,1.0,score_probability=0.0,voice_library=None, clip_library=None);s=d[2];h=hashlib.sha256()\n"
            "for k in sorted(s): h.update(k.encode()+s[k].numpy().tobytes())\nprint(h.hexdigest())")
    child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    here = SyntheticMultitracks(5, 4, 1.0, score_probability=0.0, voice_library=None, clip_library=None)
    here[0]  # render something else first: the result must not depend on it
    assert child.stdout.strip() == _digest(here[2])


def test_dry_stems_and_effect_hook_keep_the_truth(voice_library):
    calls = []

    def halve(audio: torch.Tensor, sample_rate: int, rng: np.random.Generator):
        calls.append(sample_rate)
        return audio * 0.5, {"gain": 0.5}

    data = SyntheticMultitracks(3, 2, 1.0, score_probability=0.0, silence_probability=0.0,
                                effects={"drums": halve}, voice_library=voice_library, clip_library=None)
    item = data.item(0)
    assert calls == [SR]
    assert torch.allclose(item.stems["drums"], item.dry["drums"] * 0.5)
    assert torch.equal(item.stems["bass"], item.dry["bass"])
    assert item.info["effects"] == {"drums": {"gain": 0.5}}
    with pytest.raises(ValueError, match="returned shape"):
        SyntheticMultitracks(3, 1, 1.0, score_probability=0.0, silence_probability=0.0, voice_library=None,
                             clip_library=None, effects={"drums": lambda a, sr, rng: a[:, :10]}).item(0)
    with pytest.raises(InputError, match="not in the set"):
        SyntheticMultitracks(3, 1, 1.0, effects={"guitar": halve})


def test_silent_stems_are_exact_zeros_and_never_all():
    data = SyntheticMultitracks(1, 6, 1.0, score_probability=0.0, silence_probability=1.0, voice_library=None,
                                clip_library=None)
    for i in range(3):
        stems = data[i]
        sounding = [name for name, audio in stems.items() if audio.any()]
        assert len(sounding) == 1  # every stem dropped but one that plays
    varied = SyntheticMultitracks(1, 30, 0.5, score_probability=0.0, silence_probability=0.3, voice_library=None,
                                  clip_library=None)
    counts = sum(np.array([[not a.any() for a in varied.item(i).dry.values()] for i in range(12)]))
    assert counts.sum() > 0


def test_six_stem_sets_and_instrument_variety():
    data = SyntheticMultitracks(2, 10, 1.0, stems=("vocals", "drums", "bass", "guitar", "piano", "other"),
                                score_probability=0.0, silence_probability=0.0, voice_library=None, clip_library=None)
    programs, heard = set(), {name: 0 for name in data.stems}
    for i in range(10):
        item = data.item(i)
        programs |= {line["program"] for line in item.info["lines"] if line["stem"] != "drums"}
        for name, audio in item.stems.items():
            heard[name] += bool(audio.abs().max() > 1e-4)
    assert heard["guitar"] > 0 and heard["piano"] > 0 and heard["drums"] > 0
    assert len(programs) >= 8


def test_bad_arguments():
    with pytest.raises(InputError):
        SyntheticMultitracks(0, 1, 0.0)
    with pytest.raises(InputError, match="voice_library"):
        SyntheticMultitracks(0, 1, 1.0, voice_library="everything")
    with pytest.raises(IndexError):
        SyntheticMultitracks(0, 1, 1.0, voice_library=None, clip_library=None).item(1)


def test_real_recording_clips_join_as_lines_of_their_stem():
    from deconstruct.data.material.clips import Clip, ClipLibrary

    tone = (0.3 * np.sin(2 * np.pi * 196.0 * np.arange(SR) / SR)).astype(np.float32)
    library = ClipLibrary([Clip("take.wav", "guitar", tone)], SR)
    data = SyntheticMultitracks(4, 3, 1.0, stems=("vocals", "drums", "bass", "guitar", "other"), score_probability=0.0,
                                silence_probability=0.0, voice_library=None, clip_probability=1.0,
                                clip_library=library)
    item = data.item(0)
    clips = [line for line in item.info["lines"] if line["source"] == "clip"]
    assert clips == [{"role": "clip:take.wav", "stem": "guitar", "program": 0, "is_drum": False, "source": "clip"}]
    assert item.stems["guitar"].abs().max() > 0.01
    without = SyntheticMultitracks(4, 3, 1.0, stems=("vocals", "drums", "bass"), score_probability=0.0,
                                   voice_library=None, clip_probability=1.0, clip_library=library)
    assert all(line["source"] != "clip" for line in without.item(0).info["lines"])
