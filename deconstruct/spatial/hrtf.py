"""Head-related impulse responses read from SOFA files (AES69, ``SimpleFreeFieldHRIR``).

A SOFA file is netCDF-4, i.e. HDF5, and is read with h5py. ``SourcePosition`` may be ``spherical`` (azimuth
counter-clockwise from the front, i.e. positive to the left, elevation up, in degrees; this is the project's own
convention) or ``cartesian`` (x front, y left, z up). Ears are told apart by ``ReceiverPosition``: the receiver
with the larger y is the left ear (receiver 0 in SOFA files that follow the convention). Integer
``Data.Delay`` values are applied by prepending zeros.

The default HRTF is the MIT KEMAR normal-pinna set shipped in ``deconstruct/spatial/assets`` (see the README
there for its origin, licence and coordinate check).

:meth:`Hrtf.diffuse_field_equalized` removes the response common to all directions (the measurement chain's and
the ear canal's), so that a sound coming equally from everywhere reaches each ear with a flat spectrum at half
its power: both ears together then carry the power of the source, as a loudspeaker render does, and the
binaural render's loudness agrees with the input's.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
from scipy.signal import resample_poly

from deconstruct.errors import DependencyError, InputError
from deconstruct.spatial.geometry import directions, unit_vectors

DEFAULT_SOFA = Path(__file__).parent / "assets" / "MIT_KEMAR_normal_pinna.sofa"
DIFFUSE_FIELD_MAX_DB = 12.0


def _third_octave_smoothed(power: np.ndarray, frequencies: np.ndarray) -> np.ndarray:
    """Mean of ``power`` over a third octave around each frequency (DC kept as is)."""
    cumulative = np.concatenate([[0.0], np.cumsum(power)])
    low = np.searchsorted(frequencies, frequencies * 2.0 ** (-1.0 / 6.0), side="left")
    high = np.searchsorted(frequencies, frequencies * 2.0 ** (1.0 / 6.0), side="right")
    high = np.maximum(high, low + 1)
    return (cumulative[high] - cumulative[low]) / (high - low)


def _minimum_phase(magnitude: np.ndarray, n_fft: int) -> np.ndarray:
    """Minimum-phase impulse response ``[n_fft]`` with the given magnitude ``[n_fft // 2 + 1]`` (real cepstrum)."""
    cepstrum = np.fft.irfft(np.log(magnitude), n_fft)
    fold = np.zeros(n_fft)
    fold[0] = 1.0
    fold[1 : n_fft // 2] = 2.0
    fold[n_fft // 2] = 1.0
    return np.fft.irfft(np.exp(np.fft.rfft(cepstrum * fold)), n_fft)


@dataclass(frozen=True, eq=False)
class Hrtf:
    """A set of measured HRIR pairs.

    Attributes:
        impulse_responses: float64 ``[directions, 2, taps]``, ear 0 = left, ear 1 = right.
        azimuth_deg: ``[directions]`` measurement azimuths, positive to the left, in (-180, 180].
        elevation_deg: ``[directions]`` measurement elevations, positive upward.
        sample_rate: sampling rate of the impulse responses in Hz.
        source: where the set came from (a file path), for reports.
    """

    impulse_responses: np.ndarray
    azimuth_deg: np.ndarray
    elevation_deg: np.ndarray
    sample_rate: int
    source: str

    def __post_init__(self) -> None:
        shape = self.impulse_responses.shape
        if self.impulse_responses.ndim != 3 or shape[1] != 2:
            raise ValueError(f"impulse_responses must be [directions, 2, taps], got {shape}")
        if self.azimuth_deg.shape != (shape[0],) or self.elevation_deg.shape != (shape[0],):
            raise ValueError("azimuth_deg and elevation_deg need one value per measured direction")

    @property
    def num_directions(self) -> int:
        return int(self.impulse_responses.shape[0])

    @property
    def num_taps(self) -> int:
        return int(self.impulse_responses.shape[2])

    def nearest(self, azimuth_deg: float, elevation_deg: float) -> int:
        """Index of the measured direction closest (great-circle) to the given direction."""
        measured = unit_vectors(self.azimuth_deg, self.elevation_deg)
        return int(np.argmax(measured @ unit_vectors(azimuth_deg, elevation_deg)))

    def pair(self, azimuth_deg: float, elevation_deg: float) -> np.ndarray:
        """The HRIR pair of the nearest measured direction, ``[2, taps]`` (left, right)."""
        return self.impulse_responses[self.nearest(azimuth_deg, elevation_deg)]

    def diffuse_field_equalized(self, max_boost_db: float = DIFFUSE_FIELD_MAX_DB) -> "Hrtf":
        """This set with its diffuse-field response removed (one minimum-phase filter for every pair).

        The diffuse-field power response is the mean over directions and both ears of ``|H(f)|^2``, each direction
        weighted by the solid angle it stands for (``cos(elevation)`` shared among the measurements of its
        elevation ring), smoothed over third octaves. The filter's magnitude is ``sqrt(0.5 / response)``, held
        within ``max_boost_db`` of its median over 200 Hz - 8 kHz (measured sets lack the lowest and highest
        octaves; they are not boosted without limit); its phase is minimum phase (real cepstrum).
        """
        n_fft = max(1024, 2 ** int(np.ceil(np.log2(2 * self.num_taps))))
        spectra = np.fft.rfft(self.impulse_responses, n_fft, axis=-1)
        rings = np.round(self.elevation_deg).astype(int)
        _, ring_index, ring_count = np.unique(rings, return_inverse=True, return_counts=True)
        weights = np.cos(np.radians(self.elevation_deg)).clip(min=1e-3) / ring_count[ring_index]
        weights /= weights.sum()
        response = np.einsum("d,def->f", weights, np.abs(spectra) ** 2) / 2.0
        frequencies = np.fft.rfftfreq(n_fft, 1.0 / self.sample_rate)
        response = _third_octave_smoothed(response, frequencies)
        magnitude = np.sqrt(0.5 / np.maximum(response, 1e-12))
        band = (frequencies >= 200.0) & (frequencies <= 8000.0)
        reference = float(np.median(magnitude[band]))
        limit = 10.0 ** (max_boost_db / 20.0)
        magnitude = np.clip(magnitude, reference / limit, reference * limit)
        equalizer = _minimum_phase(magnitude, n_fft)[: n_fft // 2]
        irs = np.stack([np.stack([np.convolve(pair[ear], equalizer) for ear in range(2)]) for pair in
                        self.impulse_responses])
        return Hrtf(irs, self.azimuth_deg, self.elevation_deg, self.sample_rate, self.source)

    def resampled(self, sample_rate: int) -> "Hrtf":
        """This set at another sampling rate (polyphase resampling; the same set when the rate matches)."""
        if int(sample_rate) == self.sample_rate:
            return self
        ratio = Fraction(int(sample_rate), self.sample_rate)
        irs = resample_poly(self.impulse_responses, ratio.numerator, ratio.denominator, axis=-1)
        return Hrtf(irs, self.azimuth_deg, self.elevation_deg, int(sample_rate), self.source)


def load_sofa(path: str | os.PathLike | None = None) -> Hrtf:
    """Read HRIRs from a SOFA ``SimpleFreeFieldHRIR`` file.

    Args:
        path: the ``.sofa`` file; ``None`` reads the shipped MIT KEMAR set.

    Returns:
        The measured HRIR pairs with their directions.

    Raises:
        InputError: the file is missing, not HDF5/SOFA, or not a usable free-field HRIR set.
        DependencyError: the shipped default file is missing from the installation.
    """
    import h5py

    if path is None:
        if not DEFAULT_SOFA.exists():
            raise DependencyError(f"the default HRTF {DEFAULT_SOFA} is missing; reinstall deconstruct or pass hrtf=")
        path = DEFAULT_SOFA
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such SOFA file; check the HRTF path")
    try:
        with h5py.File(path, "r") as sofa:
            return _read(sofa, path)
    except OSError as error:
        raise InputError(
            f"{path}: not a SOFA (netCDF-4/HDF5) file ({error}); give a SimpleFreeFieldHRIR .sofa"
        ) from None
    except KeyError as error:
        raise InputError(f"{path}: SOFA variable {error} is missing; give a SimpleFreeFieldHRIR .sofa") from None


def _text(value: object) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def _read(sofa, path: Path) -> Hrtf:
    if _text(sofa.attrs.get("DataType", b"FIR")) != "FIR":
        raise InputError(f"{path}: DataType is {_text(sofa.attrs['DataType'])!r}; only FIR HRIR sets are supported")
    irs = np.asarray(sofa["Data.IR"][()], dtype=np.float64)
    if irs.ndim != 3 or irs.shape[1] != 2:
        raise InputError(f"{path}: Data.IR is shaped {irs.shape}; a binaural set needs [directions, 2, taps]")
    sample_rate = float(np.asarray(sofa["Data.SamplingRate"][()]).reshape(-1)[0])
    if sample_rate <= 0 or sample_rate != int(sample_rate):
        raise InputError(f"{path}: Data.SamplingRate {sample_rate} is not a positive whole number of Hz")
    azimuth, elevation = _source_directions(sofa, path, irs.shape[0])
    irs = _apply_delays(irs, sofa, path)
    if _left_is_second(sofa):
        irs = irs[:, ::-1, :]
    return Hrtf(np.ascontiguousarray(irs), azimuth, elevation, int(sample_rate), str(path))


def _source_directions(sofa, path: Path, count: int) -> tuple[np.ndarray, np.ndarray]:
    dataset = sofa["SourcePosition"]
    positions = np.asarray(dataset[()], dtype=np.float64).reshape(-1, 3)
    if positions.shape[0] == 1:
        positions = np.repeat(positions, count, axis=0)
    if positions.shape[0] != count:
        raise InputError(f"{path}: {positions.shape[0]} source positions for {count} measurements")
    kind = _text(dataset.attrs.get("Type", b"spherical")).lower()
    if kind == "cartesian":
        return directions(positions)
    if kind != "spherical":
        raise InputError(f"{path}: SourcePosition type {kind!r} is neither spherical nor cartesian")
    # Round-trip through vectors: wraps azimuth into (-180, 180] and folds elevations beyond +-90.
    return directions(unit_vectors(positions[:, 0], positions[:, 1]))


def _apply_delays(irs: np.ndarray, sofa, path: Path) -> np.ndarray:
    if "Data.Delay" not in sofa:
        return irs
    delays = np.asarray(sofa["Data.Delay"][()], dtype=np.float64)
    delays = np.broadcast_to(delays.reshape(-1, 2) if delays.size % 2 == 0 else delays, (irs.shape[0], 2))
    if not np.any(delays):
        return irs
    if np.any(delays < 0) or np.any(delays != np.round(delays)):
        raise InputError(f"{path}: Data.Delay holds negative or fractional delays, which are not supported")
    longest = int(delays.max())
    out = np.zeros((irs.shape[0], 2, irs.shape[2] + longest))
    for index in range(irs.shape[0]):
        for ear in range(2):
            start = int(delays[index, ear])
            out[index, ear, start : start + irs.shape[2]] = irs[index, ear]
    return out


def _left_is_second(sofa) -> bool:
    if "ReceiverPosition" not in sofa:
        return False
    receivers = np.asarray(sofa["ReceiverPosition"][()], dtype=np.float64)
    if receivers.shape[0] != 2:
        return False
    y = receivers.reshape(2, -1)[:, 1]
    return bool(y[1] > y[0])
