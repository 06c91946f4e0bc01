"""Vector base amplitude panning (VBAP).

V. Pulkki, "Virtual sound source positioning using vector base amplitude panning", JAES 45(6), 1997.

* 2-D (all loudspeakers in the horizontal plane): the source's azimuth is panned between the two adjacent
  loudspeakers that enclose it; its elevation is ignored. Where adjacent loudspeakers are 180 degrees or more
  apart (only 2.0) the gap has no pair: a source there is mirrored front/back (azimuth ``a -> 180 - a``) and, if
  still outside, goes to the nearest loudspeaker. So on 2.0 anything left of +30 degrees plays from L alone.
* 3-D (loudspeakers above or below the horizon): the loudspeaker directions are triangulated by their convex
  hull. An imaginary loudspeaker is added at the zenith and at the nadir unless a real one lies within 30
  degrees of it; an imaginary loudspeaker's gain is shared equally among its hull neighbours before
  normalisation. Hull faces with more than three corners (coplanar loudspeakers) get an imaginary loudspeaker
  at their centre too, so they are split symmetrically rather than along an arbitrary diagonal. On 7.1.4 this
  keeps panning over the top and the back left/right symmetric and sends sources below the horizon to the
  horizontal ring.

Gains are power-normalised (sum of squares 1). A source at a loudspeaker's direction gets gain 1 on that
loudspeaker and 0 elsewhere.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy.spatial import ConvexHull

from deconstruct.spatial.geometry import unit_vectors

_TOLERANCE = 1e-9
_POLE_COVERAGE_DEG = 30.0  # a real loudspeaker this close to a pole makes the imaginary one unnecessary


class VbapPanner:
    """Amplitude panner for a set of loudspeaker directions.

    Args:
        azimuth_deg: loudspeaker azimuths in degrees (positive left), one per loudspeaker.
        elevation_deg: loudspeaker elevations in degrees (positive up).
    """

    def __init__(self, azimuth_deg: ArrayLike, elevation_deg: ArrayLike) -> None:
        self.azimuth_deg = np.asarray(azimuth_deg, dtype=np.float64).reshape(-1)
        self.elevation_deg = np.asarray(elevation_deg, dtype=np.float64).reshape(-1)
        if self.azimuth_deg.shape != self.elevation_deg.shape:
            raise ValueError("azimuth_deg and elevation_deg need one value per loudspeaker")
        if self.azimuth_deg.size < 2:
            raise ValueError("VBAP needs at least two loudspeakers")
        self.num_speakers = int(self.azimuth_deg.size)
        self.vectors = unit_vectors(self.azimuth_deg, self.elevation_deg)
        self.dimensions = 3 if np.any(np.abs(self.elevation_deg) > _TOLERANCE) else 2
        if self.dimensions == 2:
            self._bases, self._members = self._pairs()
        else:
            self._bases, self._members, self._neighbours = self._triangles()

    # -- setup ---------------------------------------------------------------------------------------------------
    def _pairs(self) -> tuple[np.ndarray, np.ndarray]:
        order = np.argsort(self.azimuth_deg)
        inverses, members = [], []
        for position, first in enumerate(order):
            second = order[(position + 1) % len(order)]
            arc = (self.azimuth_deg[second] - self.azimuth_deg[first]) % 360.0
            if arc <= _TOLERANCE or arc >= 180.0 - _TOLERANCE:
                continue
            base = self.vectors[[first, second], :2]
            inverses.append(np.linalg.inv(base))
            members.append((first, second))
        return np.asarray(inverses), np.asarray(members, dtype=np.int64)

    def _triangles(self) -> tuple[np.ndarray, np.ndarray, dict[int, np.ndarray]]:
        points = [self.vectors]
        if self.elevation_deg.max() < 90.0 - _POLE_COVERAGE_DEG:
            points.append(np.array([[0.0, 0.0, 1.0]]))
        if self.elevation_deg.min() > _POLE_COVERAGE_DEG - 90.0:
            points.append(np.array([[0.0, 0.0, -1.0]]))
        all_points = np.concatenate(points)
        hull = ConvexHull(all_points)
        centres = _polygon_centres(hull, all_points)
        if len(centres):
            all_points = np.concatenate([all_points, centres])
            hull = ConvexHull(all_points)
        inverses, members = [], []
        for simplex in hull.simplices:
            base = all_points[simplex]
            if abs(np.linalg.det(base)) < 1e-6:
                continue
            inverses.append(np.linalg.inv(base))
            members.append(simplex)
        neighbours: dict[int, np.ndarray] = {}
        for imaginary in range(self.num_speakers, len(all_points)):
            touching = {int(i) for simplex in hull.simplices if imaginary in simplex for i in simplex}
            neighbours[imaginary] = np.array(sorted(i for i in touching if i < self.num_speakers), dtype=np.int64)
        return np.asarray(inverses), np.asarray(members, dtype=np.int64), neighbours

    # -- panning -------------------------------------------------------------------------------------------------
    def gains(self, azimuth_deg: float, elevation_deg: float = 0.0) -> np.ndarray:
        """Power-normalised gains for one source direction.

        Args:
            azimuth_deg: source azimuth in degrees, positive to the left.
            elevation_deg: source elevation in degrees, positive up (ignored by 2-D panning).

        Returns:
            float64 ``[num_speakers]``, non-negative, sum of squares 1.
        """
        if self.dimensions == 2:
            gains = self._gains_2d(float(azimuth_deg))
        else:
            gains = self._gains_3d(unit_vectors(azimuth_deg, elevation_deg))
        return gains / np.linalg.norm(gains)

    def _solve(self, target: np.ndarray) -> tuple[int, np.ndarray] | None:
        if len(self._bases) == 0:
            return None
        weights = np.einsum("d,kde->ke", target, self._bases)
        best = int(np.argmax(weights.min(axis=1)))
        if weights[best].min() < -_TOLERANCE:
            return None
        return best, np.clip(weights[best], 0.0, None)

    def _gains_2d(self, azimuth_deg: float) -> np.ndarray:
        gains = np.zeros(self.num_speakers)
        for candidate in (azimuth_deg, 180.0 - azimuth_deg):
            solved = self._solve(unit_vectors(candidate, 0.0)[:2])
            if solved is not None:
                index, weights = solved
                gains[self._members[index]] = weights
                return gains
        target = unit_vectors(azimuth_deg, 0.0)
        gains[int(np.argmax(self.vectors @ target))] = 1.0
        return gains

    def _gains_3d(self, target: np.ndarray) -> np.ndarray:
        solved = self._solve(target)
        if solved is None:  # numerically outside every triangle: fall back to the nearest loudspeaker
            gains = np.zeros(self.num_speakers)
            gains[int(np.argmax(self.vectors @ target))] = 1.0
            return gains
        index, weights = solved
        gains = np.zeros(self.num_speakers + len(self._neighbours))
        gains[self._members[index]] = weights
        for imaginary, neighbours in self._neighbours.items():
            gains[neighbours] += gains[imaginary] / len(neighbours)
        return gains[: self.num_speakers]


def _polygon_centres(hull: ConvexHull, points: np.ndarray) -> np.ndarray:
    """Unit vectors to the centres of hull faces with more than three corners (coplanar triangles merged).

    Qhull splits such a face (the back quad of 7.1.4: Lb, Rb, TBL, TBR) along an arbitrary diagonal, which would
    make panning left/right asymmetric; an imaginary loudspeaker at the face's centre splits it symmetrically.
    """
    groups: list[tuple[np.ndarray, set[int]]] = []
    for equation, simplex in zip(hull.equations, hull.simplices):
        for plane, corners in groups:
            if np.allclose(plane, equation, atol=1e-9):
                corners.update(int(i) for i in simplex)
                break
        else:
            groups.append((equation, {int(i) for i in simplex}))
    centres = [points[sorted(corners)].mean(axis=0) for _, corners in groups if len(corners) > 3]
    if not centres:
        return np.zeros((0, 3))
    centres_array = np.asarray(centres)
    return centres_array / np.linalg.norm(centres_array, axis=1, keepdims=True)
