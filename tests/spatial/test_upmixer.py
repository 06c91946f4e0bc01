"""The Upmixer API, stem validation, width (virtual sources) and the rendering core."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deconstruct.audio import Audio
from deconstruct.errors import InputError
from deconstruct.spatial import OUTPUT_FORMATS, Upmixer, channel_labels, upmix
from deconstruct.spatial.rendering import apply_responses
from deconstruct.spatial.spread import virtual_sources
from tests.spatial.helpers import energy, noise


@pytest.mark.parametrize("layout", OUTPUT_FORMATS)
def test_every_format_renders_its_channels(layout: str, stems) -> None:
    upmixer = Upmixer(layout, "immersive")
    out = upmixer.render(stems)
    assert upmixer.labels == channel_labels(layout)
    assert out.samples.shape == (len(upmixer.labels), stems["vocals"].num_samples)
    assert out.samples.dtype == torch.float32 and out.sample_rate == 44100
    assert torch.isfinite(out.samples).all() and energy(out.samples) > 0


def test_upmix_one_shot_equals_the_object(stems) -> None:
    estimates = {"vocals": {"rt60_s": 0.8}}
    one_shot = upmix(stems, "7.1", "immersive", estimates=estimates, seed=2)
    built = Upmixer("7.1", "immersive", seed=2).render(stems, estimates=estimates)
    assert torch.equal(one_shot.samples, built.samples)


def test_stems_must_share_rate_and_length() -> None:
    with pytest.raises(InputError, match="different sample rates"):
        upmix({"a": noise(1), "b": noise(1).resampled(48000)}, "5.1")
    with pytest.raises(InputError, match="different lengths"):
        upmix({"a": noise(1, seconds=0.1), "b": noise(1, seconds=0.2)}, "5.1")
    with pytest.raises(InputError, match="no stems"):
        upmix({}, "5.1")
    bad = Audio(torch.tensor([[0.0, float("nan")]]), 44100)
    with pytest.raises(InputError, match="NaN"):
        upmix({"a": bad}, "5.1")
    with pytest.raises(InputError, match="is empty"):
        upmix({"a": Audio(torch.zeros(0, 8), 44100)}, "5.1")
    with pytest.raises(InputError, match="not an Audio"):
        upmix({"a": torch.zeros(1, 4)}, "5.1")


def test_virtual_sources_for_stereo_and_mono_widths() -> None:
    stereo = virtual_sources(10.0, 5.0, None, 2)
    assert [(s.channel, s.azimuth_deg, s.elevation_deg) for s in stereo] == [(0, 40.0, 5.0), (1, -20.0, 5.0)]
    assert len(virtual_sources(0.0, 0.0, None, 1)) == 1
    spread = virtual_sources(0.0, 0.0, 60.0, 1)
    assert len(spread) == 7 and spread[0].azimuth_deg == 30.0 and spread[-1].azimuth_deg == -30.0


def test_collapsed_stereo_stem_keeps_the_power_of_its_common_content() -> None:
    mono_content = noise(1)
    stem = Audio(mono_content.samples.repeat(2, 1), mono_content.sample_rate)  # identical channels
    for layout in ("2.0", "5.1", "7.1.4"):
        render = Upmixer(layout, {"stems": {"x": {"width_deg": 0, "azimuth_deg": 12}}}).render_dry({"x": stem})["x"]
        assert energy(render.samples) == pytest.approx(energy(stem.samples), rel=1e-5)


def test_mdap_spread_of_a_mono_stem_covers_more_loudspeakers(stems) -> None:
    piano = {"piano": stems["piano"]}
    point = Upmixer("7.1", {"stems": {"piano": {"width_deg": 0}}}).render_dry(piano)["piano"].samples
    wide = Upmixer("7.1", {"stems": {"piano": {"width_deg": 180}}}).render_dry(piano)["piano"].samples
    def active(samples: torch.Tensor) -> int:
        return int(((samples.double() ** 2).sum(dim=1) > 1e-6 * energy(samples)).sum())

    assert active(point) == 1 and active(wide) == 5  # C, L, R, Ls, Rs
    assert energy(wide) == pytest.approx(energy(point), rel=1e-5)


def test_apply_responses_checks_ranks() -> None:
    with pytest.raises(ValueError, match=r"signals must be \[C, T\]"):
        apply_responses(np.zeros(10), np.zeros((1, 2, 1)))
    with pytest.raises(ValueError, match="same C"):
        apply_responses(np.zeros((2, 10)), np.zeros((1, 2, 1)))
    filtered = apply_responses(np.eye(1, 10), np.array([[[1.0, 0.5, 0.25]]]))
    assert np.allclose(filtered[0, :4], [1.0, 0.5, 0.25, 0.0])


def test_render_can_be_saved_only_with_matching_channels(stems, tmp_path) -> None:
    upmixer = Upmixer("5.1")
    with pytest.raises(InputError, match="a 5.1 render has 6 channels"):
        upmixer.save(noise(2), tmp_path / "x.wav")


def test_dry_stems_must_match_their_stems(stems) -> None:
    upmixer = Upmixer("5.1")
    with pytest.raises(InputError, match="no stem of the same name"):
        upmixer.render(stems, {"voice": stems["vocals"]})
    with pytest.raises(InputError, match="give a dry stem of the same format"):
        upmixer.render(stems, {"vocals": stems["piano"]})
    with pytest.raises(InputError, match="unknown stem"):
        upmixer.render(stems, estimates={"voice": {"reverb_removed": True}})
