"""The rendering core shared by every output format.

A stem becomes a few *virtual sources* (see :mod:`deconstruct.spatial.spread`), each fed by one of the stem's
channels. A *point renderer* turns a direction into a response for its output channels: VBAP gains for
loudspeakers, an HRIR pair for binaural, spherical-harmonic gains for ambisonics. The responses of a stem's
virtual sources are summed per input channel and scaled once, so that the summed response carries ``C`` times
the mean energy of its members (``C`` = the stem's channel count). This is the normalisation of multiple-direction
amplitude panning (MDAP; V. Pulkki, "Uniform spreading of amplitude panned virtual sources", WASPAA 1999): a
single point source is rendered unscaled, and a stem whose channels carry the same signal keeps its power however
its virtual sources overlap.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence

import numpy as np
from scipy.signal import oaconvolve


class PointRenderer(Protocol):
    """Renders a point source at a direction to a set of output channels."""

    @property
    def labels(self) -> tuple[str, ...]:
        """Output channel labels."""
        ...

    def response(self, azimuth_deg: float, elevation_deg: float) -> np.ndarray:
        """Response to a source at this direction, ``[outputs, taps]`` (``taps`` = 1 for plain gains)."""
        ...

    def energy(self, response: np.ndarray) -> float:
        """The energy measure of a response that spread normalisation preserves (1 for a point source's gains)."""
        ...


@dataclass(frozen=True)
class VirtualSource:
    """A point source fed by one channel of a stem.

    Attributes:
        channel: index of the stem channel that feeds it.
        azimuth_deg: direction in degrees, positive to the left.
        elevation_deg: direction in degrees, positive upward.
    """

    channel: int
    azimuth_deg: float
    elevation_deg: float


def stem_responses(renderer: PointRenderer, sources: Sequence[VirtualSource], channels: int) -> np.ndarray:
    """Summed, MDAP-normalised responses of a stem's virtual sources, per stem channel.

    Args:
        renderer: the output format's point renderer.
        sources: the stem's virtual sources; every stem channel must feed at least one.
        channels: the stem's channel count ``C``.

    Returns:
        float64 ``[C, outputs, taps]``.
    """
    if not sources:
        raise ValueError("a stem needs at least one virtual source")
    fed = {source.channel for source in sources}
    if fed != set(range(channels)):
        raise ValueError(f"virtual sources feed channels {sorted(fed)}, expected every one of 0..{channels - 1}")
    responses = [renderer.response(source.azimuth_deg, source.elevation_deg) for source in sources]
    summed = np.zeros((channels,) + responses[0].shape)
    for source, response in zip(sources, responses):
        summed[source.channel] += response
    member_energy = float(np.mean([renderer.energy(response) for response in responses]))
    total_energy = renderer.energy(summed.sum(axis=0))
    if total_energy <= 0.0:
        return summed
    return summed * np.sqrt(channels * member_energy / total_energy)


def apply_responses(signals: np.ndarray, responses: np.ndarray) -> np.ndarray:
    """Feed each input channel through its response and sum.

    Gains (``taps`` = 1) are applied by multiplication, filters by overlap-add FFT convolution; the output keeps
    the input length (filter tails past the end are dropped).

    Shape:
        signals: ``[C, T]``; responses: ``[C, outputs, taps]`` -> ``[outputs, T]`` (float64).
    """
    if signals.ndim != 2 or responses.ndim != 3 or responses.shape[0] != signals.shape[0]:
        raise ValueError(
            f"signals must be [C, T] and responses [C, outputs, taps] with the same C; "
            f"got {signals.shape} and {responses.shape}"
        )
    if responses.shape[2] == 1:
        return np.einsum("co,ct->ot", responses[:, :, 0], signals)
    length = signals.shape[1]
    out = np.zeros((responses.shape[1], length))
    for channel in range(signals.shape[0]):
        out += oaconvolve(signals[channel][None, :], responses[channel], axes=-1)[:, :length]
    return out
