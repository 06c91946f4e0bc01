"""Point rendering to a loudspeaker layout by VBAP."""

from __future__ import annotations

import numpy as np

from deconstruct.spatial.layouts import LoudspeakerLayout
from deconstruct.spatial.vbap import VbapPanner


class LoudspeakerRenderer:
    """VBAP gains for every channel of a layout (the LFE channel always gets 0).

    Args:
        layout: the loudspeaker layout; 3-D VBAP is used when it has height loudspeakers, 2-D otherwise.
    """

    def __init__(self, layout: LoudspeakerLayout) -> None:
        self.layout = layout
        self._main = np.asarray(layout.main_indices, dtype=np.int64)
        speakers = [layout.speakers[i] for i in layout.main_indices]
        self.panner = VbapPanner([s.azimuth_deg for s in speakers], [s.elevation_deg for s in speakers])

    @property
    def labels(self) -> tuple[str, ...]:
        return self.layout.labels

    def gains(self, azimuth_deg: float, elevation_deg: float = 0.0) -> np.ndarray:
        """Power-normalised gains ``[channels]`` in file order (LFE 0)."""
        gains = np.zeros(self.layout.num_channels)
        gains[self._main] = self.panner.gains(azimuth_deg, elevation_deg)
        return gains

    def response(self, azimuth_deg: float, elevation_deg: float) -> np.ndarray:
        """Gains as a ``[channels, 1]`` response."""
        return self.gains(azimuth_deg, elevation_deg)[:, None]

    def energy(self, response: np.ndarray) -> float:
        """Sum of squared gains."""
        return float(np.sum(response**2))
