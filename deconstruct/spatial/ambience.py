"""Synthetic ambience (decorrelated reverb for the surround and height channels) and the decorrelation filters.

:func:`reverb_tails` gives mutually decorrelated unit-energy noise tails; with a short decay they are the
decorrelation filters of the extracted ambience (:mod:`~.engine`). A user placement with ``"ambience"`` also adds
*synthetic* reverberation: each stem's mono sum is convolved with one reverb tail per ambience direction. The tails are
independent Gaussian noise under an exponential decay that falls 60 dB in ``rt60_s`` (after a 20 ms pre-delay),
so they are mutually decorrelated and spread the reverb around the listener without colouring each other. Each
tail has unit energy and the set is scaled by ``wet_level / sqrt(directions)``, so the ambience of a stem carries
about ``wet_level ** 2`` times the power of its dry mono sum.

``rt60_s`` and ``wet_level`` come from the placement and, per stem, from the analysis stage's reverb estimates
when given (``{"rt60_s": 1.4, "wet_level": 0.3}``; a ``drr_db`` direct-to-reverberant ratio is accepted instead
of ``wet_level``: ``wet_level = 10 ** (-drr_db / 20)``; other keys of an estimate are not used here).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from deconstruct.errors import InputError
from deconstruct.spatial.validation import check_keys, read_number, require_object

PRE_DELAY_S = 0.02
MAX_RT60_S = 20.0


@dataclass(frozen=True)
class AmbienceSettings:
    """How much reverb a stem sends to the ambience directions.

    Attributes:
        wet_level: RMS of the ambience relative to the stem's dry mono sum (linear, 0 to 1).
        rt60_s: reverberation time in seconds (decay by 60 dB).
    """

    wet_level: float = 0.3
    rt60_s: float = 1.2

    def __post_init__(self) -> None:
        if not 0.0 <= self.wet_level <= 1.0:
            raise InputError(f"ambience wet_level {self.wet_level:g} is outside [0, 1]")
        if not 0.0 < self.rt60_s <= MAX_RT60_S:
            raise InputError(f"ambience rt60_s {self.rt60_s:g} is outside (0, {MAX_RT60_S:g}] seconds")

    @classmethod
    def from_mapping(cls, data: Any, where: str) -> "AmbienceSettings":
        """Parse ``{"wet_level": ..., "rt60_s": ...}`` (both optional) from placement JSON."""
        data = require_object(data, where)
        check_keys(data, ("wet_level", "rt60_s"), where)
        return cls(
            wet_level=read_number(data, "wet_level", where, cls.wet_level, 0.0, 1.0),
            rt60_s=read_number(data, "rt60_s", where, cls.rt60_s, 1e-3, MAX_RT60_S),
        )

    def with_estimate(self, estimate: Mapping[str, Any] | None, where: str) -> "AmbienceSettings":
        """These settings overridden by a stem's reverb estimate (``rt60_s``, ``wet_level`` or ``drr_db``)."""
        if estimate is None:
            return self
        estimate = require_object(estimate, where)
        rt60_s = read_number(estimate, "rt60_s", where, self.rt60_s, 1e-3, MAX_RT60_S)
        if "wet_level" in estimate:
            wet_level = read_number(estimate, "wet_level", where, self.wet_level, 0.0, 1.0)
        elif "drr_db" in estimate:
            wet_level = min(1.0, 10.0 ** (-read_number(estimate, "drr_db", where, 0.0, -60.0, 120.0) / 20.0))
        else:
            wet_level = self.wet_level
        return replace(self, wet_level=wet_level, rt60_s=rt60_s)


def reverb_tails(count: int, rt60_s: float, sample_rate: int, seed: int = 0) -> np.ndarray:
    """Mutually decorrelated unit-energy reverb tails.

    Args:
        count: how many tails (one per ambience direction).
        rt60_s: decay time to -60 dB in seconds; the tails last ``PRE_DELAY_S + rt60_s``.
        sample_rate: in Hz.
        seed: seed of the noise (the same seed gives the same tails).

    Returns:
        float64 ``[count, taps]``.
    """
    rng = np.random.default_rng(seed)
    delay = int(round(PRE_DELAY_S * sample_rate))
    decay_taps = max(1, int(round(rt60_s * sample_rate)))
    envelope = 10.0 ** (-3.0 * np.arange(decay_taps) / decay_taps)  # -60 dB at rt60_s
    tails = np.zeros((count, delay + decay_taps))
    tails[:, delay:] = rng.standard_normal((count, decay_taps)) * envelope
    return tails / np.linalg.norm(tails, axis=1, keepdims=True)
