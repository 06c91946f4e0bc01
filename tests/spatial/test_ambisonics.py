"""Ambisonics: AmbiX encoding gains are the real SN3D spherical harmonics; AllRAD decoding to loudspeakers."""

from __future__ import annotations

import numpy as np
import pytest

from deconstruct.errors import InputError
from deconstruct.spatial import AllRadDecoder, Upmixer, get_loudspeaker_layout
from deconstruct.spatial.ambisonics import AmbisonicRenderer
from deconstruct.spatial.spherical_harmonics import real_sh_sn3d
from tests.spatial.helpers import noise


def closed_form_sn3d(azimuth_deg: np.ndarray, elevation_deg: np.ndarray) -> np.ndarray:
    """AmbiX (ACN/SN3D) real spherical harmonics up to order 3, written out (Nachbar et al. 2011, Table 1)."""
    a, e = np.radians(azimuth_deg), np.radians(elevation_deg)
    x, y, z = np.cos(a) * np.cos(e), np.sin(a) * np.cos(e), np.sin(e)
    s3, s15 = np.sqrt(3), np.sqrt(15)
    return np.stack(
        [
            np.ones_like(x),
            y, z, x,
            s3 * x * y, s3 * y * z, (3 * z**2 - 1) / 2, s3 * x * z, s3 / 2 * (x**2 - y**2),
            np.sqrt(5 / 8) * y * (3 * x**2 - y**2), s15 * x * y * z, np.sqrt(3 / 8) * y * (5 * z**2 - 1),
            z * (5 * z**2 - 3) / 2, np.sqrt(3 / 8) * x * (5 * z**2 - 1), s15 / 2 * z * (x**2 - y**2),
            np.sqrt(5 / 8) * x * (x**2 - 3 * y**2),
        ],
        axis=-1,
    )


@pytest.mark.parametrize("order", [1, 2, 3])
def test_encoding_gains_equal_the_real_sn3d_spherical_harmonics(order: int) -> None:
    rng = np.random.default_rng(order)
    azimuth, elevation = rng.uniform(-180, 180, 500), rng.uniform(-90, 90, 500)
    azimuth[:4], elevation[:4] = [0, 90, 180, -90], [0, 0, 90, -90]
    channels = (order + 1) ** 2
    expected = closed_form_sn3d(azimuth, elevation)[:, :channels]
    assert np.abs(real_sh_sn3d(order, azimuth, elevation) - expected).max() <= 1e-6
    renderer = AmbisonicRenderer(order)
    for index in range(0, 500, 50):
        gains = renderer.response(azimuth[index], elevation[index])[:, 0]
        assert np.abs(gains - expected[index]).max() <= 1e-6


@pytest.mark.parametrize(("layout", "order"), [("foa", 1), ("hoa2", 2), ("hoa3", 3)])
def test_rendered_stem_is_the_signal_times_its_encoding_gains(layout: str, order: int) -> None:
    stem = noise(1, seconds=0.05)
    placement = {"stems": {"x": {"azimuth_deg": 40, "elevation_deg": 25, "width_deg": 0}}}
    out = Upmixer(layout, placement, ambience=False).render({"x": stem}).samples.double().numpy()
    gains = closed_form_sn3d(np.array(40.0), np.array(25.0))[: (order + 1) ** 2, None]
    expected = gains * stem.samples.double().numpy()
    assert np.abs(out - expected).max() <= 1e-6


@pytest.mark.parametrize("order", [1, 2, 3])
def test_decoding_a_source_at_a_loudspeaker_puts_the_most_energy_on_it(order: int) -> None:
    layout = get_loudspeaker_layout("7.1.4")
    decoder = AllRadDecoder(order, layout)
    for index in layout.main_indices:
        speaker = layout.speakers[index]
        energies = decoder.gains(real_sh_sn3d(order, speaker.azimuth_deg, speaker.elevation_deg)) ** 2
        assert int(np.argmax(energies)) == index, (order, speaker.label, np.round(energies / energies.sum(), 2))


def test_decoder_is_energy_normalised_and_left_right_symmetric() -> None:
    layout = get_loudspeaker_layout("7.1.4")
    decoder = AllRadDecoder(3, layout)
    rng = np.random.default_rng(0)
    azimuth, elevation = rng.uniform(-180, 180, 400), np.degrees(np.arcsin(rng.uniform(-1, 1, 400)))
    energies = np.sum((real_sh_sn3d(3, azimuth, elevation) @ decoder.matrix.T) ** 2, axis=1)
    assert np.mean(energies) == pytest.approx(1.0, abs=0.1)
    left = decoder.gains(real_sh_sn3d(3, 60.0, 10.0))
    right = decoder.gains(real_sh_sn3d(3, -60.0, 10.0))
    assert left[layout.index("Ls")] == pytest.approx(right[layout.index("Rs")], abs=1e-9)
    assert left[layout.index("LFE")] == 0.0


def test_decode_checks_the_channel_count() -> None:
    decoder = AllRadDecoder(1, get_loudspeaker_layout("5.1"))
    with pytest.raises(InputError, match="order-1 ambisonics has 4 channels"):
        decoder.decode(noise(2))
    assert decoder.decode(noise(4)).channels == 6
    with pytest.raises(InputError, match="order 4 is not supported"):
        AllRadDecoder(4, get_loudspeaker_layout("5.1"))
