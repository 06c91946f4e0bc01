"""VBAP: a source at a loudspeaker's direction plays from that loudspeaker alone; gains are power-normalised."""

from __future__ import annotations

import numpy as np
import pytest

from deconstruct.spatial import Upmixer, get_loudspeaker_layout
from deconstruct.spatial.loudspeaker import LoudspeakerRenderer
from tests.spatial.helpers import energy, noise

LAYOUTS = ("2.0", "5.1", "7.1", "7.1.4")


@pytest.mark.parametrize("name", LAYOUTS)
def test_stem_at_a_loudspeaker_direction_lands_on_that_loudspeaker_alone(name: str) -> None:
    layout = get_loudspeaker_layout(name)
    stem = noise(1, seconds=0.05)
    for index in layout.main_indices:
        speaker = layout.speakers[index]
        placement = {"stems": {"x": {"azimuth_deg": speaker.azimuth_deg, "elevation_deg": speaker.elevation_deg,
                                     "width_deg": 0}}}
        out = Upmixer(name, placement, ambience=False, lfe=False).render({"x": stem}).samples
        others = [i for i in range(layout.num_channels) if i != index]
        assert energy(out[others]) < 1e-12 * energy(out[index]), (name, speaker.label)
        assert np.allclose(out[index].numpy(), stem.samples[0].numpy(), atol=1e-6)


@pytest.mark.parametrize("name", LAYOUTS)
def test_gains_are_power_normalised_and_non_negative(name: str) -> None:
    renderer = LoudspeakerRenderer(get_loudspeaker_layout(name))
    rng = np.random.default_rng(0)
    for azimuth, elevation in zip(rng.uniform(-180, 180, 200), rng.uniform(-90, 90, 200)):
        gains = renderer.gains(azimuth, elevation)
        assert np.sum(gains**2) == pytest.approx(1.0, abs=1e-12)
        assert gains.min() >= 0.0
        lfe = get_loudspeaker_layout(name).lfe_index
        assert lfe is None or gains[lfe] == 0.0


def test_7_1_4_panning_is_left_right_symmetric() -> None:
    layout = get_loudspeaker_layout("7.1.4")
    renderer = LoudspeakerRenderer(layout)
    mirrored_labels = ("R", "L", "C", "LFE", "Rb", "Lb", "Rs", "Ls", "TFR", "TFL", "TBR", "TBL")
    mirror = [layout.index(label) for label in mirrored_labels]
    rng = np.random.default_rng(1)
    for azimuth, elevation in zip(rng.uniform(-180, 180, 200), rng.uniform(-90, 90, 200)):
        assert np.allclose(renderer.gains(azimuth, elevation), renderer.gains(-azimuth, elevation)[mirror], atol=1e-9)


def test_sources_between_loudspeakers_use_the_enclosing_pair_or_triangle() -> None:
    five = LoudspeakerRenderer(get_loudspeaker_layout("5.1"))
    gains = five.gains(15.0)
    assert set(np.flatnonzero(gains > 1e-9)) == {0, 2}  # L and C
    assert gains[0] == pytest.approx(gains[2])
    top = LoudspeakerRenderer(get_loudspeaker_layout("7.1.4"))
    overhead = top.gains(0.0, 90.0)
    assert np.allclose(overhead[8:], 0.5) and np.allclose(overhead[:8], 0.0)  # the four tops share the zenith
    below = top.gains(10.0, -60.0)
    assert np.allclose(below[8:], 0.0)  # nothing below the horizon: the horizontal ring plays it


def test_stereo_sends_sources_outside_the_front_arc_to_the_nearer_side() -> None:
    stereo = LoudspeakerRenderer(get_loudspeaker_layout("2.0"))
    assert np.allclose(stereo.gains(110.0), [1.0, 0.0])
    assert np.allclose(stereo.gains(-100.0), [0.0, 1.0])
    assert np.allclose(stereo.gains(180.0), [np.sqrt(0.5), np.sqrt(0.5)])
