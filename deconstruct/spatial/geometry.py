"""Directions on the sphere.

The project's convention (ITU-R BS.2051, ADM): azimuth in degrees, 0 straight ahead, positive to the left
(counter-clockwise seen from above); elevation in degrees, positive upward. Cartesian unit vectors use x to the
front, y to the left and z up.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def unit_vectors(azimuth_deg: ArrayLike, elevation_deg: ArrayLike) -> np.ndarray:
    """Unit vectors pointing to the given directions.

    Args:
        azimuth_deg: azimuth in degrees, positive to the left.
        elevation_deg: elevation in degrees, positive upward (broadcast against ``azimuth_deg``).

    Returns:
        float64 array shaped ``[..., 3]`` holding ``(x, y, z)``.
    """
    azimuth = np.radians(np.asarray(azimuth_deg, dtype=np.float64))
    elevation = np.radians(np.asarray(elevation_deg, dtype=np.float64))
    azimuth, elevation = np.broadcast_arrays(azimuth, elevation)
    return np.stack(
        [np.cos(azimuth) * np.cos(elevation), np.sin(azimuth) * np.cos(elevation), np.sin(elevation)], axis=-1
    )


def directions(vectors: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Azimuth and elevation (degrees) of vectors; the inverse of :func:`unit_vectors`.

    Shape:
        vectors: ``[..., 3]`` (any non-zero length) -> two arrays shaped ``[...]``; azimuth in (-180, 180].
    """
    vectors = np.asarray(vectors, dtype=np.float64)
    if vectors.shape[-1] != 3:
        raise ValueError(f"vectors must end in an axis of 3 (x, y, z), got shape {vectors.shape}")
    x, y, z = vectors[..., 0], vectors[..., 1], vectors[..., 2]
    azimuth = np.degrees(np.arctan2(y, x))
    elevation = np.degrees(np.arctan2(z, np.hypot(x, y)))
    return azimuth, elevation


def fibonacci_sphere(points: int) -> np.ndarray:
    """Nearly uniform points on the unit sphere (golden-angle spiral).

    Args:
        points: how many points.

    Returns:
        ``[points, 3]`` unit vectors.
    """
    if points < 1:
        raise ValueError(f"points must be at least 1, got {points}")
    index = np.arange(points, dtype=np.float64) + 0.5
    z = 1.0 - 2.0 * index / points
    radius = np.sqrt(1.0 - z * z)
    angle = np.pi * (3.0 - np.sqrt(5.0)) * index
    return np.stack([radius * np.cos(angle), radius * np.sin(angle), z], axis=-1)
