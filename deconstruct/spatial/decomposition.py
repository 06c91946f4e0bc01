"""Primary/ambient decomposition of a stereo signal by principal component analysis per STFT bin.

Implements the PCA decomposition of M. M. Goodwin and J.-M. Jot, "Primary-ambient signal decomposition and
vector-based localization for spatial audio coding and enhancement", Proc. IEEE ICASSP 2007, pp. I-9..12:

* per frequency bin, the 2x2 inter-channel covariance ``R = E[x x^H]`` is tracked by first-order recursive
  smoothing over frames (``R_t = lambda R_(t-1) + (1 - lambda) x_t x_t^H``, ``lambda = exp(-hop / (tau fs))``);
* its principal eigenvector ``v = (cos psi, e^(j phi) sin psi)`` is the direction of the primary (panned)
  component: ``psi = atan2(2 |r12|, r11 - r22) / 2`` in ``[0, pi/2]``, ``phi = -arg(r12)`` the inter-channel
  phase;
* the primary signal is the projection ``s = v^H x`` (primary ``P = v s``) and the ambience is the remainder
  ``A = x - P``, so ``P + A = x`` exactly and ``|P|^2 + |A|^2 = |x|^2``;
* the *vector-based localization* of the primary is its stereo panning index
  ``pan = (cos psi - sin psi) / (cos psi + sin psi)`` in ``[-1, 1]`` (+1 hard left, 0 centre, -1 hard right), the
  ratio of the tangent panning law, so re-panning ``s`` to the azimuth ``atan(pan * tan 30 deg)`` between
  loudspeakers at +-30 degrees by VBAP gives back exactly ``(cos psi, sin psi) |s|``.

Identical (coherent) channels have a rank-one covariance and leave no ambience (``A = 0``); uncorrelated content
of equal level splits evenly. Smoothing is causal and carried across calls, so a song can be decomposed block by
block.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DEFAULT_SMOOTHING_MS = 100.0


@dataclass(frozen=True)
class Decomposition:
    """Primary/ambient decomposition of a block of stereo STFT frames.

    Attributes:
        primary: ``[frames, bins]`` complex primary signal ``s = v^H x`` (its power is the primary power of both
            channels together).
        pan: ``[frames, bins]`` panning index of the primary in ``[-1, 1]`` (+1 left).
        rotation: ``[frames, bins]`` unit complex ``e^(j phi)``, the inter-channel phase of the primary (right
            relative to left).
        ambient: ``[frames, 2, bins]`` complex ambience ``x - v s``.
    """

    primary: np.ndarray
    pan: np.ndarray
    rotation: np.ndarray
    ambient: np.ndarray


class PrimaryAmbientDecomposer:
    """Streaming PCA primary/ambient decomposition (Goodwin & Jot 2007) with carried covariance state.

    Args:
        bins: STFT bins per frame.
        hop_s: frame hop in seconds.
        smoothing_ms: time constant ``tau`` of the covariance smoothing in milliseconds.
    """

    def __init__(self, bins: int, hop_s: float, smoothing_ms: float = DEFAULT_SMOOTHING_MS) -> None:
        if smoothing_ms <= 0:
            raise ValueError(f"smoothing_ms must be > 0, got {smoothing_ms}")
        self.forget = float(np.exp(-hop_s * 1000.0 / smoothing_ms))
        self._power = np.zeros((2, bins))  # smoothed r11, r22
        self._cross = np.zeros(bins, dtype=np.complex128)  # smoothed r12

    def __call__(self, spectra: np.ndarray) -> Decomposition:
        """Decompose ``[frames, 2, bins]`` complex STFT frames (in time order, continuing earlier calls)."""
        if spectra.ndim != 3 or spectra.shape[1] != 2:
            raise ValueError(f"expected stereo frames [frames, 2, bins], got shape {spectra.shape}")
        left, right = spectra[:, 0], spectra[:, 1]
        powers = (spectra.real**2 + spectra.imag**2) * (1.0 - self.forget)
        crosses = left * np.conj(right) * (1.0 - self.forget)
        for frame in range(spectra.shape[0]):  # first-order recursive smoothing, state carried across calls
            self._power = powers[frame] + self.forget * self._power
            self._cross = crosses[frame] + self.forget * self._cross
            powers[frame], crosses[frame] = self._power, self._cross
        r11, r22, r12 = powers[:, 0], powers[:, 1], crosses
        psi = 0.5 * np.arctan2(2.0 * np.abs(r12), r11 - r22)
        cos_psi, sin_psi = np.cos(psi), np.sin(psi)
        magnitude = np.abs(r12)
        rotation = np.where(magnitude > 0.0, np.conj(r12) / np.maximum(magnitude, 1e-300), 1.0)  # e^(j phi)
        primary = cos_psi * left + sin_psi * np.conj(rotation) * right
        ambient = spectra - np.stack([cos_psi * primary, sin_psi * rotation * primary], axis=1)
        pan = (cos_psi - sin_psi) / np.maximum(cos_psi + sin_psi, 1e-12)
        return Decomposition(primary, pan, rotation, ambient)


def recorded_azimuth_deg(pan: np.ndarray, width_deg: float = 60.0) -> np.ndarray:
    """Azimuth (degrees, positive left) of a panning index on a stereo stage ``width_deg`` wide.

    ``pan`` -> ``atan(pan * tan 30 deg)`` scaled from the +-30 degree stereo loudspeakers to +-``width_deg / 2``:
    the inverse of the tangent law, so on the stereo pair itself (width 60) VBAP reproduces the original gains.
    """
    return np.degrees(np.arctan(pan * np.tan(np.radians(30.0)))) * (width_deg / 60.0)
