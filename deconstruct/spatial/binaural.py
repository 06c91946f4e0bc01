"""Point rendering to two ears through measured HRIRs."""

from __future__ import annotations

import numpy as np

from deconstruct.spatial.hrtf import Hrtf
from deconstruct.spatial.layouts import BINAURAL_LABELS


class BinauralRenderer:
    """Renders a static point source with the HRIR pair of the nearest measured direction.

    No interpolation between measured directions: the output is exactly the source convolved with one measured
    pair (FFT convolution in :func:`deconstruct.spatial.rendering.apply_responses`).

    Args:
        hrtf: the HRIR set, already at the rate of the audio to render.
    """

    def __init__(self, hrtf: Hrtf) -> None:
        self.hrtf = hrtf

    @property
    def labels(self) -> tuple[str, ...]:
        return BINAURAL_LABELS

    def response(self, azimuth_deg: float, elevation_deg: float) -> np.ndarray:
        """The nearest measured HRIR pair, ``[2, taps]`` (left, right)."""
        return self.hrtf.pair(azimuth_deg, elevation_deg)

    def energy(self, response: np.ndarray) -> float:
        """Energy of the filter pair (both ears)."""
        return float(np.sum(response**2))
