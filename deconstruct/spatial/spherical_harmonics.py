"""Real spherical harmonics in the AmbiX convention: ACN channel order, SN3D normalisation.

For order ``n`` and degree ``m`` (``-n <= m <= n``) the channel index is ``ACN = n * (n + 1) + m`` and

    Y_nm(azimuth, elevation) = N_nm * P_n^|m|(sin(elevation)) * (cos(m * azimuth) if m >= 0 else sin(|m| * azimuth))
    N_nm = sqrt((2 - delta_m0) * (n - |m|)! / (n + |m|)!)                          (SN3D, Schmidt semi-normalised)

with ``P_n^m`` the associated Legendre function *without* the Condon-Shortley phase (C. Nachbar et al.,
"AmbiX - a suggested ambisonics format", Ambisonics Symposium 2011). ``Y_00 = 1`` and the first-order channels
are ``(Y, Z, X) = (sin az cos el, sin el, cos az cos el)``.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike


def num_channels(order: int) -> int:
    """Number of ambisonic channels of ``order``: ``(order + 1) ** 2``."""
    return (check_order(order) + 1) ** 2


def check_order(order: int) -> int:
    """Return ``order`` when it is a non-negative integer, else raise ``ValueError``."""
    if int(order) != order or order < 0:
        raise ValueError(f"ambisonic order must be a non-negative integer, got {order!r}")
    return int(order)


def acn(order: int, degree: int) -> int:
    """ACN channel index of order ``n`` and degree ``m``."""
    if abs(degree) > order:
        raise ValueError(f"degree {degree} out of range for order {order}")
    return order * (order + 1) + degree


def channel_orders(order: int) -> np.ndarray:
    """The order ``n`` of every ACN channel up to ``order``, shaped ``[(order + 1) ** 2]``."""
    return np.concatenate([np.full(2 * n + 1, n) for n in range(check_order(order) + 1)])


def _legendre_table(order: int, x: np.ndarray) -> dict[tuple[int, int], np.ndarray]:
    """Associated Legendre functions ``P_n^m(x)`` (no Condon-Shortley phase) for ``0 <= m <= n <= order``."""
    table: dict[tuple[int, int], np.ndarray] = {}
    root = np.sqrt(np.clip(1.0 - x * x, 0.0, None))
    diagonal = np.ones_like(x)
    for m in range(order + 1):
        if m > 0:
            diagonal = diagonal * (2 * m - 1) * root
        table[(m, m)] = diagonal
        if m + 1 <= order:
            table[(m + 1, m)] = (2 * m + 1) * x * diagonal
        for n in range(m + 2, order + 1):
            table[(n, m)] = ((2 * n - 1) * x * table[(n - 1, m)] - (n + m - 1) * table[(n - 2, m)]) / (n - m)
    return table


def real_sh_sn3d(order: int, azimuth_deg: ArrayLike, elevation_deg: ArrayLike) -> np.ndarray:
    """Real SN3D spherical harmonics in ACN order.

    Args:
        order: maximum ambisonic order ``N``.
        azimuth_deg: azimuth in degrees, positive to the left.
        elevation_deg: elevation in degrees, positive upward (broadcast against ``azimuth_deg``).

    Returns:
        float64 array shaped ``[..., (N + 1) ** 2]``.
    """
    order = check_order(order)
    azimuth = np.radians(np.asarray(azimuth_deg, dtype=np.float64))
    elevation = np.radians(np.asarray(elevation_deg, dtype=np.float64))
    azimuth, elevation = np.broadcast_arrays(azimuth, elevation)
    legendre = _legendre_table(order, np.sin(elevation))
    out = np.empty(azimuth.shape + ((order + 1) ** 2,))
    for n in range(order + 1):
        for m in range(-n, n + 1):
            a = abs(m)
            norm = math.sqrt((1.0 if m == 0 else 2.0) * math.factorial(n - a) / math.factorial(n + a))
            angular = np.cos(a * azimuth) if m >= 0 else np.sin(a * azimuth)
            out[..., acn(n, m)] = norm * legendre[(n, a)] * angular
    return out


def sn3d_to_n3d(order: int) -> np.ndarray:
    """Per-channel factors ``sqrt(2n + 1)`` converting SN3D to N3D, shaped ``[(order + 1) ** 2]``."""
    return np.sqrt(2.0 * channel_orders(order) + 1.0)
