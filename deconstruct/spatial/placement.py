"""Where each stem goes: placement presets and user placement JSON.

Presets (JSON files in ``deconstruct/spatial/assets/placement_<name>.json``, in the user format below):

* ``"surround"`` (the default): a real upmix. Every stem sits where the stereo mix puts it: each stereo stem is
  split per time-frequency bin into a primary and an ambient part, the primary part is panned to the direction
  the mix gives it (a centred part to the centre loudspeaker), and the ambience plus the reverberation removed
  from the stem go to the surround and height loudspeakers, decorrelated (see :mod:`~.extraction`). A dry,
  coherent stem leaves the surrounds silent.
* ``"stage"``: a frontal stage inside +-30 degrees, no ambience. Vocals and bass sit at the centre (width 0);
  every other stem keeps its recorded image (width ``None``: a stereo stem's left channel at +30 and its right at
  -30, a mono stem at the centre). Everything lands on the L, C and R directions, so the 5.1/7.1/7.1.4 renders
  fold down to the stereo remix exactly.
* ``"immersive"``: vocals and bass at the centre, drums spread over +-60 degrees, other stems over +-110 degrees
  (into the sides), with most of the extracted ambience in the surround and height loudspeakers.

User JSON (every key optional; angles in degrees, azimuth positive to the left)::

    {
      "about": "free text",
      "stems": {"vocals": {"azimuth_deg": 0, "elevation_deg": 0, "width_deg": 0, "gain_db": 0},
                "guitar": {"azimuth_deg": 25, "width_deg": 20}},
      "default": {"width_deg": 90},
      "extraction": {"front_share": 0.25, "height_share": 0.3},
      "ambience": {"wet_level": 0.3, "rt60_s": 1.2}
    }

``default`` applies to stems not listed and fills the keys a listed stem leaves out. ``"width_deg": null`` (the
default) means the stem's recorded image (see :mod:`deconstruct.spatial.spread`). ``extraction`` (see
:mod:`~.extraction`) turns on the primary/ambient upmix; absent or ``null``, each stem channel is placed as it is.
``ambience`` adds *synthetic* reverberation (decorrelated noise tails, :mod:`~.ambience`) to the surround and
height loudspeakers; no preset uses it, since it invents ambience the song does not have. Ranges: azimuth
[-180, 180], elevation [-90, 90], width [0, 360], gain [-120, +24] dB.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from deconstruct.errors import InputError
from deconstruct.spatial.ambience import AmbienceSettings
from deconstruct.spatial.extraction import ExtractionSettings
from deconstruct.spatial.validation import check_keys, load_json_object, read_number, require_object

TOP_KEYS = ("about", "stems", "default", "extraction", "ambience")
PRESET_FOLDER = Path(__file__).parent / "assets"
PRESET_NAMES = ("surround", "stage", "immersive")
DEFAULT_PRESET = "surround"
STEM_RANGES: dict[str, tuple[float, float]] = {
    "azimuth_deg": (-180.0, 180.0),
    "elevation_deg": (-90.0, 90.0),
    "width_deg": (0.0, 360.0),
    "gain_db": (-120.0, 24.0),
}


@dataclass(frozen=True)
class StemPlacement:
    """Direction, spread and gain of one stem.

    Attributes:
        azimuth_deg: centre azimuth in degrees, positive to the left, [-180, 180].
        elevation_deg: elevation in degrees, positive upward, [-90, 90].
        width_deg: horizontal spread in degrees, [0, 360], or ``None`` for the recorded image
            (see :mod:`deconstruct.spatial.spread`).
        gain_db: gain applied to the stem in dB, [-120, 24].
    """

    azimuth_deg: float = 0.0
    elevation_deg: float = 0.0
    width_deg: float | None = None
    gain_db: float = 0.0

    def __post_init__(self) -> None:
        for key, (low, high) in STEM_RANGES.items():  # the same checks for code and JSON
            value = getattr(self, key)
            if not (key == "width_deg" and value is None):
                read_number({key: value}, key, "placement", 0.0, low, high)

    @classmethod
    def from_mapping(cls, data: Any, where: str, base: "StemPlacement | None" = None) -> "StemPlacement":
        """Parse a stem's JSON object; missing keys come from ``base`` (or the defaults)."""
        data = require_object(data, where)
        check_keys(data, tuple(STEM_RANGES), where)
        base = base if base is not None else cls()
        values: dict[str, float | None] = {}
        for key, (low, high) in STEM_RANGES.items():
            recorded = key == "width_deg" and key in data and data[key] is None
            values[key] = None if recorded else read_number(data, key, where, getattr(base, key), low, high)
        return cls(**values)


@dataclass(frozen=True)
class Placement:
    """Placement of every stem plus the ambience.

    Attributes:
        name: preset name or ``"user"``.
        stems: placements of named stems.
        default: placement of stems not named in ``stems``.
        ambience: synthetic-reverb ambience settings, or ``None`` for none.
        extraction: primary/ambient upmix settings, or ``None`` to place each stem channel as it is.
        is_preset: presets may name stems that are absent; user placements may not (catches typos).
    """

    name: str
    stems: Mapping[str, StemPlacement] = field(default_factory=dict)
    default: StemPlacement = StemPlacement()
    ambience: AmbienceSettings | None = None
    is_preset: bool = False
    extraction: ExtractionSettings | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "stems", MappingProxyType(dict(self.stems)))  # shared presets stay unchanged

    def for_stem(self, stem: str) -> StemPlacement:
        """The placement of ``stem`` (the default when it is not named)."""
        return self.stems.get(stem, self.default)

    def check_stems(self, names: Iterable[str]) -> None:
        """Raise :class:`InputError` when a user placement names stems that are not there."""
        if self.is_preset:
            return
        missing = sorted(set(self.stems) - set(names))
        if missing:
            raise InputError(
                f"the placement names stem(s) {', '.join(map(repr, missing))} but the stems are "
                f"{', '.join(map(repr, sorted(names)))}; fix the names in the placement JSON"
            )

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], name: str = "user", is_preset: bool = False) -> "Placement":
        """Parse placement JSON (already decoded); see the module docstring for the format."""
        data = require_object(data, "placement")
        check_keys(data, TOP_KEYS, "placement")
        default = StemPlacement.from_mapping(data.get("default", {}), "placement default")
        stems_data = require_object(data.get("stems", {}), "placement stems")
        stems = {
            str(stem): StemPlacement.from_mapping(value, f"placement stems.{stem}", base=default)
            for stem, value in stems_data.items()
        }
        ambience_data = data.get("ambience")
        ambience = None if ambience_data is None else AmbienceSettings.from_mapping(ambience_data, "placement ambience")
        extraction_data = data.get("extraction")
        extraction = (None if extraction_data is None
                      else ExtractionSettings.from_mapping(extraction_data, "placement extraction"))
        return cls(name=name, stems=stems, default=default, ambience=ambience, is_preset=is_preset,
                   extraction=extraction)


def _load_preset(name: str) -> Placement:
    return Placement.from_mapping(load_json_object(PRESET_FOLDER / f"placement_{name}.json", "placement preset"),
                                  name=name, is_preset=True)


PRESETS: dict[str, Placement] = {name: _load_preset(name) for name in PRESET_NAMES}


def load_placement(spec: str | os.PathLike | Mapping[str, Any] | Placement) -> Placement:
    """Resolve a placement: a :class:`Placement`, a preset name, a JSON file path, JSON text or a mapping.

    Raises:
        InputError: unknown preset, unreadable or invalid JSON, unknown keys, or values out of range.
    """
    if isinstance(spec, Placement):
        return spec
    if isinstance(spec, str) and spec in PRESETS:
        return PRESETS[spec]
    if isinstance(spec, str) and not spec.lstrip().startswith("{") and not spec.lower().endswith(".json"):
        if not os.path.exists(spec):
            raise InputError(
                f"unknown placement {spec!r}; use a preset ({', '.join(PRESETS)}) or a path to a placement JSON file"
            )
    return Placement.from_mapping(load_json_object(spec, "placement"))
