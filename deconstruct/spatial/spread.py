"""Width: how a stem placed at a direction with a spread becomes virtual point sources.

The spread is horizontal, centred on the stem's azimuth, at the stem's elevation. A width of ``None`` means *as
recorded*: ``RECORDED_WIDTH_DEG`` (the stereo loudspeakers' +-30 degrees) for a multichannel stem, a point for a
mono one.

* A multichannel stem (stereo) keeps its own image: channel ``c`` of ``C`` sits at
  ``azimuth + width / 2 - c * width / (C - 1)``, so a stereo stem's left channel is at the left edge and its right
  channel at the right edge. Width 60 at azimuth 0 puts them at +-30 degrees (the stereo loudspeakers: the stem
  plays as recorded); width 0 sums them at one point.
* A mono stem with a width is spread by MDAP: virtual sources every ``MDAP_STEP_DEG`` degrees or closer across the
  width, edges included, all fed by the stem.

:func:`deconstruct.spatial.rendering.stem_responses` then normalises the summed responses (MDAP normalisation).
"""

from __future__ import annotations

import math

import numpy as np

from deconstruct.spatial.rendering import VirtualSource

MDAP_STEP_DEG = 10.0
RECORDED_WIDTH_DEG = 60.0


def virtual_sources(
    azimuth_deg: float, elevation_deg: float, width_deg: float | None, channels: int
) -> list[VirtualSource]:
    """Virtual point sources of a stem.

    Args:
        azimuth_deg: centre direction, positive to the left.
        elevation_deg: elevation of every virtual source, positive upward.
        width_deg: horizontal spread in degrees, ``>= 0``; ``None`` for the recorded image.
        channels: the stem's channel count, ``>= 1``.

    Returns:
        The virtual sources, left to right.
    """
    if channels < 1:
        raise ValueError(f"a stem needs at least one channel, got {channels}")
    if width_deg is None:
        width_deg = RECORDED_WIDTH_DEG if channels > 1 else 0.0
    if width_deg < 0:
        raise ValueError(f"width_deg must be >= 0, got {width_deg}")
    if channels > 1:
        offsets = np.linspace(width_deg / 2.0, -width_deg / 2.0, channels)
        return [VirtualSource(c, azimuth_deg + float(o), elevation_deg) for c, o in enumerate(offsets)]
    if width_deg == 0:
        return [VirtualSource(0, azimuth_deg, elevation_deg)]
    count = int(math.ceil(width_deg / MDAP_STEP_DEG)) + 1
    offsets = np.linspace(width_deg / 2.0, -width_deg / 2.0, count)
    return [VirtualSource(0, azimuth_deg + float(o), elevation_deg) for o in offsets]
