"""Binaural rendering through the shipped SOFA HRTF, and the SOFA reader."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from deconstruct.audio import Audio
from deconstruct.errors import InputError
from deconstruct.spatial import DEFAULT_SOFA, Upmixer, load_sofa
from tests.spatial.helpers import RATE, noise


def _nearest_measured_pair(azimuth_deg: float, elevation_deg: float) -> np.ndarray:
    """Brute-force nearest direction read straight from the file (independent of the library's reader)."""
    with h5py.File(DEFAULT_SOFA, "r") as sofa:
        positions = sofa["SourcePosition"][()]
        irs = sofa["Data.IR"][()]
    az, el = np.radians(positions[:, 0]), np.radians(positions[:, 1])
    a, e = np.radians(azimuth_deg), np.radians(elevation_deg)
    cos_angle = np.sin(el) * np.sin(e) + np.cos(el) * np.cos(e) * np.cos(az - a)
    return irs[int(np.argmax(cos_angle))]


def _render(stem: Audio, azimuth_deg: float, elevation_deg: float = 0.0, **kwargs) -> np.ndarray:
    placement = {"stems": {"x": {"azimuth_deg": azimuth_deg, "elevation_deg": elevation_deg, "width_deg": 0}}}
    upmixer = Upmixer("binaural", placement, ambience=False, levels=False, diffuse_field=False, **kwargs)
    return upmixer.render({"x": stem}).samples.double().numpy()


@pytest.mark.parametrize(("azimuth", "elevation"), [(0, 0), (33, 7), (-120, 25), (90, 0), (-90, 0), (170, -35)])
def test_static_source_equals_convolution_with_the_nearest_measured_pair(azimuth: float, elevation: float) -> None:
    stem = noise(1, seconds=0.1)
    out = _render(stem, azimuth, elevation)
    pair = _nearest_measured_pair(azimuth, elevation)
    signal = stem.samples[0].double().numpy()
    reference = np.stack([np.convolve(signal, pair[ear])[: signal.size] for ear in range(2)])
    relative_error = np.linalg.norm(out - reference) / np.linalg.norm(reference)
    assert relative_error <= 1e-4


def _itd_samples(left: np.ndarray, right: np.ndarray) -> int:
    """How many samples the right ear lags the left (positive: left ear first)."""
    correlation = np.correlate(right, left, mode="full")
    return int(np.argmax(correlation)) - (left.size - 1)


@pytest.mark.parametrize("rate", [RATE, 48000])
def test_source_at_plus_90_is_louder_and_earlier_in_the_left_ear(rate: int) -> None:
    stem = noise(1, seconds=0.1)
    if rate != RATE:
        stem = stem.resampled(rate)
    left_side = _render(stem, 90.0)
    right_side = _render(stem, -90.0)
    assert np.sum(left_side[0] ** 2) > 4 * np.sum(left_side[1] ** 2)  # ILD above 6 dB
    assert np.sum(right_side[1] ** 2) > 4 * np.sum(right_side[0] ** 2)
    assert _itd_samples(left_side[0], left_side[1]) > 0.0002 * rate  # ITD above 0.2 ms
    assert _itd_samples(right_side[0], right_side[1]) < -0.0002 * rate


def test_default_sofa_convention() -> None:
    hrtf = load_sofa()
    assert hrtf.num_directions == 710 and hrtf.num_taps == 512 and hrtf.sample_rate == 44100
    assert hrtf.azimuth_deg.min() > -180 and hrtf.azimuth_deg.max() <= 180  # 0..355 wrapped
    left = hrtf.nearest(90, 0)
    assert hrtf.azimuth_deg[left] == pytest.approx(90) and hrtf.elevation_deg[left] == pytest.approx(0)
    assert hrtf.nearest(-90, 0) == hrtf.nearest(270, 0)


def _write_sofa(path: Path, positions: np.ndarray, position_type: str, irs: np.ndarray, receivers_y: tuple,
                delay: np.ndarray | None = None) -> Path:
    with h5py.File(path, "w") as sofa:
        sofa.attrs["Conventions"] = "SOFA"
        sofa.attrs["SOFAConventions"] = "SimpleFreeFieldHRIR"
        sofa.attrs["DataType"] = "FIR"
        sofa["Data.IR"] = irs
        sofa["Data.SamplingRate"] = np.array([44100.0])
        sofa["SourcePosition"] = positions
        sofa["SourcePosition"].attrs["Type"] = position_type
        receivers = np.zeros((2, 3, 1))
        receivers[:, 1, 0] = receivers_y
        sofa["ReceiverPosition"] = receivers
        if delay is not None:
            sofa["Data.Delay"] = delay
    return path


def test_user_sofa_with_cartesian_positions_swapped_ears_and_delays(tmp_path: Path) -> None:
    irs = np.zeros((3, 2, 8))
    irs[:, 0, 0] = 1.0  # receiver 0 ...
    irs[:, 1, 0] = 0.5  # ... and receiver 1, which this file puts on the left (y > 0)
    positions = np.array([[1.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 1.5]])  # front, left, top
    delay = np.array([[0.0, 3.0]])
    path = _write_sofa(tmp_path / "user.sofa", positions, "cartesian", irs, (-0.09, 0.09), delay)
    hrtf = load_sofa(path)
    assert np.allclose(hrtf.azimuth_deg, [0, 90, 0]) and np.allclose(hrtf.elevation_deg, [0, 0, 90])
    left, right = hrtf.pair(85, 5)
    assert left[3] == 0.5 and left[:3].sum() == 0  # the y > 0 receiver, delayed by 3 samples
    assert right[0] == 1.0
    stem = Audio(torch.zeros(1, 64), 44100)
    stem.samples[0, 0] = 1.0
    out = Upmixer("binaural", {"stems": {"x": {"azimuth_deg": 90}}}, hrtf=path, ambience=False, levels=False,
                  diffuse_field=False).render({"x": stem})
    assert out.samples[0, 3] == pytest.approx(0.5) and out.samples[1, 0] == pytest.approx(1.0)


def test_bad_sofa_files_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such SOFA file"):
        load_sofa(tmp_path / "missing.sofa")
    not_hdf5 = tmp_path / "text.sofa"
    not_hdf5.write_text("hello")
    with pytest.raises(InputError, match="not a SOFA"):
        load_sofa(not_hdf5)
    mono = _write_sofa(tmp_path / "mono.sofa", np.zeros((2, 3)), "spherical", np.zeros((2, 1, 4)), (0.09, -0.09))
    with pytest.raises(InputError, match="Data.IR is shaped"):
        load_sofa(mono)
