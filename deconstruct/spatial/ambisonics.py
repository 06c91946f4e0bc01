"""Ambisonics: AmbiX encoding (ACN, SN3D) of point sources and AllRAD decoding to loudspeaker layouts.

Encoding a source at a direction multiplies it by the real spherical harmonics of that direction
(:func:`deconstruct.spatial.spherical_harmonics.real_sh_sn3d`), orders 1 to 3.

Decoding uses AllRAD (F. Zotter and M. Frank, "All-round ambisonic panning and decoding", JAES 60(10), 2012):
the signals are first decoded by sampling to a dense, nearly uniform virtual layout (a 1000-point golden-angle
spiral plus its left/right mirror image, so the decoder is exactly symmetric; ample for order 3), then every
virtual loudspeaker is panned onto the real layout by VBAP (:mod:`deconstruct.spatial.vbap`, with its imaginary
loudspeakers). The decoder is scaled so that the decoded
power, averaged over all source directions, is 1 (that of a VBAP-panned source).

Order weighting: ``"basic"`` (default, the plain sampling decoder) or ``"max_re"`` (Zotter & Frank's max-rE
weights: smaller side lobes, a wider main lobe). With basic weighting a source decoded to 7.1.4 at a
loudspeaker's direction puts the most energy on that loudspeaker at every order 1-3; with max-rE at order 1 the
lobe is so wide that L and R lose to their neighbours (Ls, TFL).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from numpy.polynomial import legendre

from deconstruct.audio import Audio
from deconstruct.errors import InputError
from deconstruct.spatial.geometry import directions, fibonacci_sphere
from deconstruct.spatial.layouts import LoudspeakerLayout
from deconstruct.spatial.loudspeaker import LoudspeakerRenderer
from deconstruct.spatial.spherical_harmonics import channel_orders, check_order, num_channels, real_sh_sn3d

MAX_ORDER = 3
VIRTUAL_LOUDSPEAKERS = 1000
WEIGHTINGS = ("basic", "max_re")


def _checked_order(order: int) -> int:
    order = check_order(order)
    if not 1 <= order <= MAX_ORDER:
        raise InputError(f"ambisonic order {order} is not supported; use 1, 2 or 3")
    return order


class AmbisonicRenderer:
    """Encodes point sources to AmbiX (ACN channel order, SN3D normalisation).

    Args:
        order: ambisonic order, 1 to 3.
    """

    def __init__(self, order: int) -> None:
        self.order = _checked_order(order)
        self._energy_weights = (2.0 * channel_orders(self.order) + 1.0) / (self.order + 1) ** 2

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(f"ACN{i}" for i in range(num_channels(self.order)))

    def response(self, azimuth_deg: float, elevation_deg: float) -> np.ndarray:
        """Encoding gains, ``[(order + 1) ** 2, 1]``."""
        return real_sh_sn3d(self.order, azimuth_deg, elevation_deg)[:, None]

    def energy(self, response: np.ndarray) -> float:
        """N3D energy over ``(order + 1) ** 2``: 1 for any single direction (spherical-harmonic addition theorem).

        This is the power a sampling decoder on a uniform layout would produce, so a widely spread stem keeps the
        loudspeaker power of a point source; its omni channel (ACN0) then exceeds 1 (up to ``order + 1`` for a
        360-degree spread).
        """
        return float(np.sum(self._energy_weights[:, None] * response**2))


def max_re_weights(order: int) -> np.ndarray:
    """Per-order max-rE weights ``a_n = P_n(cos(137.9 deg / (N + 1.51)))`` (Zotter & Frank 2012), ``[N + 1]``."""
    x = math.cos(math.radians(137.9 / (order + 1.51)))
    return np.array([legendre.legval(x, np.eye(order + 1)[n]) for n in range(order + 1)])


class AllRadDecoder:
    """AllRAD decoder from AmbiX signals to a loudspeaker layout.

    Args:
        order: ambisonic order of the input, 1 to 3.
        layout: the loudspeaker layout to decode to (the LFE channel stays silent).
        weighting: ``"basic"`` (plain sampling decoder) or ``"max_re"`` (max-rE order weights).
    """

    def __init__(self, order: int, layout: LoudspeakerLayout, weighting: str = "basic") -> None:
        if weighting not in WEIGHTINGS:
            raise InputError(f"unknown decoder weighting {weighting!r}; use one of {', '.join(WEIGHTINGS)}")
        self.order = _checked_order(order)
        self.layout = layout
        self.weighting = weighting
        self.matrix = self._design(weighting == "max_re")

    def _design(self, max_re: bool) -> np.ndarray:
        spiral = fibonacci_sphere(VIRTUAL_LOUDSPEAKERS)
        azimuth, elevation = directions(np.concatenate([spiral, spiral * [1.0, -1.0, 1.0]]))
        harmonics = real_sh_sn3d(self.order, azimuth, elevation)  # [virtual, K]
        orders = channel_orders(self.order)
        weights = max_re_weights(self.order)[orders] if max_re else np.ones(orders.size)
        virtual_decoder = harmonics * ((2.0 * orders + 1.0) * weights) / len(azimuth)  # [virtual, K]
        panner = LoudspeakerRenderer(self.layout)
        panning = np.stack([panner.gains(a, e) for a, e in zip(azimuth, elevation)])  # [virtual, channels]
        matrix = panning.T @ virtual_decoder  # [channels, K]
        decoded = harmonics @ matrix.T  # every virtual direction as a test source: [virtual, channels]
        return matrix / math.sqrt(float(np.mean(np.sum(decoded**2, axis=1))))

    @property
    def labels(self) -> tuple[str, ...]:
        return self.layout.labels

    def gains(self, encoded: np.ndarray) -> np.ndarray:
        """Loudspeaker gains ``[channels]`` for an encoded gain vector ``[(order + 1) ** 2]``."""
        return self.matrix @ encoded

    def decode(self, audio: Audio) -> Audio:
        """Decode AmbiX audio.

        Shape:
            ``audio.samples``: ``[(order + 1) ** 2, T]`` -> ``[layout channels, T]``.
        """
        expected = num_channels(self.order)
        if audio.channels != expected:
            raise InputError(
                f"order-{self.order} ambisonics has {expected} channels, got {audio.channels}; "
                "give AmbiX (ACN/SN3D) audio of the decoder's order"
            )
        matrix = torch.from_numpy(self.matrix).to(audio.samples.dtype)
        return Audio(matrix @ audio.samples, audio.sample_rate)
