"""The stereo remix console."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pytest

from deconstruct.audio import Audio
from deconstruct.errors import InputError
from deconstruct.spatial import remix
from tests.spatial.helpers import energy


def test_default_console_is_the_plain_sum_of_stereo_stems(stems) -> None:
    stereo_stems = {name: audio for name, audio in stems.items() if audio.channels == 2}
    mix = remix(stereo_stems).samples
    assert np.allclose(mix.numpy(), sum(a.samples for a in stereo_stems.values()).numpy(), atol=1e-6)


def test_mono_stem_pans_with_constant_power(stems) -> None:
    piano = {"piano": stems["piano"]}
    centre = remix(piano).samples
    assert np.allclose(centre[0].numpy(), centre[1].numpy()) and energy(centre) == pytest.approx(
        energy(stems["piano"].samples), rel=1e-5
    )
    left = remix(piano, {"stems": {"piano": {"pan": -1}}}).samples
    assert energy(left[1]) == 0.0 and np.allclose(left[0].numpy(), stems["piano"].samples[0].numpy())
    half_right = remix(piano, {"stems": {"piano": {"pan": 0.5}}}).samples
    assert energy(half_right[1]) > energy(half_right[0]) > 0


def test_gain_mute_solo_and_master(stems) -> None:
    two = {"vocals": stems["vocals"], "drums": stems["drums"]}
    muted = remix(two, {"stems": {"drums": {"mute": True}}}).samples
    assert np.allclose(muted.numpy(), stems["vocals"].samples.numpy(), atol=1e-6)
    soloed = remix(two, {"stems": {"drums": {"solo": True}}}).samples
    assert np.allclose(soloed.numpy(), stems["drums"].samples.numpy(), atol=1e-6)
    silent = remix(two, {"stems": {"drums": {"solo": True, "mute": True}, "vocals": {"mute": True}}})
    assert silent.samples.shape == stems["vocals"].samples.shape and energy(silent.samples) == 0.0
    quieter = remix(two, {"stems": {"vocals": {"gain_db": -6}}, "master_gain_db": -6}).samples
    expected = (stems["vocals"].samples * 10 ** (-12 / 20) + stems["drums"].samples * 10 ** (-6 / 20)).numpy()
    assert np.allclose(quieter.numpy(), expected, atol=1e-6)


def test_width_zero_narrows_a_stereo_stem_to_mono(stems) -> None:
    narrow = remix({"other": stems["other"]}, {"stems": {"other": {"width_deg": 0}}}).samples
    assert np.allclose(narrow[0].numpy(), narrow[1].numpy())


def test_effects_hook_processes_the_listed_chain(stems) -> None:
    calls: list[tuple[str, Sequence[Mapping[str, Any]]]] = []

    def halve(name: str, audio: Audio, chain: Sequence[Mapping[str, Any]]) -> Audio:
        calls.append((name, chain))
        return Audio(audio.samples * 0.5, audio.sample_rate)

    settings = {"stems": {"drums": {"effects": [{"name": "compressor", "params": {"threshold_db": -20}}]}}}
    mix = remix({"drums": stems["drums"]}, settings, effects=halve).samples
    assert calls == [("drums", ({"name": "compressor", "params": {"threshold_db": -20}},))]
    assert np.allclose(mix.numpy(), 0.5 * stems["drums"].samples.numpy(), atol=1e-6)
    with pytest.raises(InputError, match="no effects renderer was passed"):
        remix({"drums": stems["drums"]}, settings)


def test_bad_settings_are_input_errors(stems) -> None:
    with pytest.raises(InputError, match="pan: 2 is outside"):
        remix(stems, {"stems": {"vocals": {"pan": 2}}})
    with pytest.raises(InputError, match="mute: expected true or false"):
        remix(stems, {"stems": {"vocals": {"mute": "yes"}}})
    with pytest.raises(InputError, match="name stem\\(s\\) 'voice'"):
        remix(stems, {"stems": {"voice": {"gain_db": 1}}})
    with pytest.raises(InputError, match="effects: expected a list"):
        remix(stems, {"stems": {"vocals": {"effects": "reverb"}}})
    with pytest.raises(InputError, match="not valid JSON"):
        remix(stems, '{"stems": ')
