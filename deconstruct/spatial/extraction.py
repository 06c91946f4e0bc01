"""Settings of the ambience-extracting upmix (the ``"extraction"`` object of a placement).

With extraction, every stereo stem is split into its primary and ambient parts
(:mod:`deconstruct.spatial.decomposition`). The primary part of each time-frequency bin is panned to the
direction the stereo mix gives it (re-mapped onto the stem's azimuth and width), so the front image is kept and
a centred part reaches the centre loudspeaker. The ambience, together with the reverberation the pipeline
removed from a stem (the stem minus its dry estimate), is extracted, never invented: a share ``front_share`` of
its power stays where the stereo stem had it, the rest goes to the surround (and, with ``height_share``, height)
loudspeakers through mutually decorrelated filters. On a layout with no surround or height loudspeakers (2.0)
all of it stays in front.

JSON (every key optional)::

    "extraction": {"front_share": 0.25, "height_share": 0.3, "smoothing_ms": 100, "reverb": true}

* ``front_share``: share of the ambience power kept in front, [0, 1].
* ``height_share``: share of the remaining ambience power sent to height loudspeakers where the layout has them,
  [0, 1].
* ``smoothing_ms``: time constant of the covariance smoothing of the decomposition, [5, 2000] ms.
* ``reverb``: the reverberation removed from a stem feeds the ambience (``false``: only the decomposition's).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from deconstruct.errors import InputError
from deconstruct.spatial.decomposition import DEFAULT_SMOOTHING_MS
from deconstruct.spatial.validation import check_keys, read_bool, read_number, require_object

KEYS = ("front_share", "height_share", "smoothing_ms", "reverb")


@dataclass(frozen=True)
class ExtractionSettings:
    """How the extracted ambience is shared out (see the module docstring).

    Attributes:
        front_share: share of the ambience power kept in the front loudspeakers, [0, 1].
        height_share: share of the surround ambience power sent to the height loudspeakers, [0, 1].
        smoothing_ms: covariance smoothing time constant of the decomposition in milliseconds.
        reverb: whether the reverberation removed from a stem (stem minus dry) feeds the ambience.
    """

    front_share: float = 0.25
    height_share: float = 0.3
    smoothing_ms: float = DEFAULT_SMOOTHING_MS
    reverb: bool = True

    def __post_init__(self) -> None:
        for key, low, high in (("front_share", 0.0, 1.0), ("height_share", 0.0, 1.0), ("smoothing_ms", 5.0, 2000.0)):
            value = getattr(self, key)
            if not low <= value <= high:
                raise InputError(f"extraction {key} {value:g} is outside [{low:g}, {high:g}]")

    @classmethod
    def from_mapping(cls, data: Any, where: str) -> "ExtractionSettings":
        """Parse the JSON object (missing keys take the defaults)."""
        data = require_object(data, where)
        check_keys(data, KEYS, where)
        return cls(
            front_share=read_number(data, "front_share", where, cls.front_share, 0.0, 1.0),
            height_share=read_number(data, "height_share", where, cls.height_share, 0.0, 1.0),
            smoothing_ms=read_number(data, "smoothing_ms", where, cls.smoothing_ms, 5.0, 2000.0),
            reverb=read_bool(data, "reverb", where, cls.reverb),
        )
