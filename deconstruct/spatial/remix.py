"""The remix console: per-stem gain, pan, width, mute/solo and optional effects, mixed to stereo.

Each stem is a channel strip. Panning uses the same 2.0 VBAP renderer as the upmixer (constant power, -3 dB at
the centre for a mono stem), so a remix and a ``"2.0"`` upmix of the same placement agree sample for sample. A
multichannel stem keeps its recorded image (``width_deg`` null/absent or 60: left channel on L, right on R) and
narrows to mono at 0; a mono stem is a point unless given a width (then spread by MDAP). ``pan`` moves the whole
image (channels pushed past a loudspeaker stay on it). With every strip at
its defaults the remix is the plain sum of the stems.

Settings JSON (every key optional)::

    {
      "stems": {"vocals": {"gain_db": 2.0, "pan": 0.0, "width_deg": 30, "mute": false, "solo": false,
                           "effects": [{"name": "reverb", "params": {"wet_level": 0.2}}]}},
      "master_gain_db": 0.0
    }

``pan`` runs from -1 (hard left) to +1 (hard right), i.e. azimuth ``-30 * pan`` degrees. When any strip is
soloed only soloed, unmuted stems play. ``effects`` lists are handed unchanged to the ``effects`` hook of
:func:`remix` (for instance a renderer built on the ``deconstruct.effects`` catalog); listing effects without a
hook is an error rather than a silent no-op.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import torch

from deconstruct.audio import Audio
from deconstruct.errors import InputError
from deconstruct.spatial.placement import Placement, StemPlacement
from deconstruct.spatial.upmixer import Upmixer, check_stems
from deconstruct.spatial.validation import (
    check_keys,
    load_json_object,
    read_bool,
    read_number,
    require_object,
)

STRIP_KEYS = ("gain_db", "pan", "width_deg", "mute", "solo", "effects")
STEREO_HALF_ANGLE_DEG = 30.0

EffectsHook = Callable[[str, Audio, Sequence[Mapping[str, Any]]], Audio]
"""``effects(stem_name, audio, chain) -> audio``: renders a strip's effect chain (same rate and length)."""


@dataclass(frozen=True)
class ChannelStrip:
    """One stem's console settings.

    Attributes:
        gain_db: fader gain in dB, [-120, 24].
        pan: -1 (hard left) to +1 (hard right).
        width_deg: spread in degrees, [0, 360], or ``None`` for the recorded image (60 for a multichannel stem:
            left channel on L, right on R; a point for a mono stem). 0 narrows a stereo stem to mono.
        mute: silence the stem.
        solo: play only soloed stems.
        effects: the effect chain handed to the effects hook (catalog order is the hook's business).
    """

    gain_db: float = 0.0
    pan: float = 0.0
    width_deg: float | None = None
    mute: bool = False
    solo: bool = False
    effects: tuple[Mapping[str, Any], ...] = ()

    @property
    def azimuth_deg(self) -> float:
        """The pan position as an azimuth (positive left)."""
        return -STEREO_HALF_ANGLE_DEG * self.pan

    @classmethod
    def from_mapping(cls, data: Any, where: str) -> "ChannelStrip":
        """Parse one strip's JSON object."""
        data = require_object(data, where)
        check_keys(data, STRIP_KEYS, where)
        effects = data.get("effects", [])
        if not isinstance(effects, list) or not all(isinstance(effect, Mapping) for effect in effects):
            raise InputError(f"{where}.effects: expected a list of effect objects [{{...}}, ...]")
        return cls(
            gain_db=read_number(data, "gain_db", where, 0.0, -120.0, 24.0),
            pan=read_number(data, "pan", where, 0.0, -1.0, 1.0),
            width_deg=None if data.get("width_deg") is None else read_number(data, "width_deg", where, 0, 0, 360),
            mute=read_bool(data, "mute", where, False),
            solo=read_bool(data, "solo", where, False),
            effects=tuple(effects),
        )


@dataclass(frozen=True)
class RemixSettings:
    """Console settings for every stem.

    Attributes:
        strips: settings of named stems; stems not named use a default strip.
        master_gain_db: gain applied to the stereo mix in dB, [-120, 24].
    """

    strips: Mapping[str, ChannelStrip] = field(default_factory=dict)
    master_gain_db: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "strips", MappingProxyType(dict(self.strips)))

    def strip(self, stem: str) -> ChannelStrip:
        """The strip of ``stem`` (a default strip when the settings do not name it)."""
        return self.strips.get(stem, ChannelStrip())

    def audible(self, stems: Sequence[str]) -> list[str]:
        """The stems that play, honouring mute and solo."""
        soloing = any(self.strip(name).solo for name in stems)
        return [name for name in stems if not self.strip(name).mute and (self.strip(name).solo or not soloing)]

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> "RemixSettings":
        """Parse remix settings JSON (already decoded); see the module docstring for the format."""
        data = require_object(data, "remix settings")
        check_keys(data, ("stems", "master_gain_db"), "remix settings")
        strips_data = require_object(data.get("stems", {}), "remix settings stems")
        strips = {
            str(name): ChannelStrip.from_mapping(value, f"remix settings stems.{name}")
            for name, value in strips_data.items()
        }
        return cls(strips, read_number(data, "master_gain_db", "remix settings", 0.0, -120.0, 24.0))


def load_remix_settings(spec: RemixSettings | Mapping[str, Any] | str | os.PathLike | None) -> RemixSettings:
    """Resolve remix settings from an object, a mapping, a JSON file path or JSON text (``None``: defaults)."""
    if spec is None:
        return RemixSettings()
    if isinstance(spec, RemixSettings):
        return spec
    return RemixSettings.from_mapping(load_json_object(spec, "remix settings"))


def _apply_effects(name: str, audio: Audio, strip: ChannelStrip, effects: EffectsHook | None) -> Audio:
    if not strip.effects:
        return audio
    if effects is None:
        raise InputError(
            f"the remix settings give stem {name!r} effects but no effects renderer was passed; "
            "pass remix(..., effects=...) or remove the effects"
        )
    processed = effects(name, audio, strip.effects)
    if not isinstance(processed, Audio) or processed.sample_rate != audio.sample_rate or (
        processed.num_samples != audio.num_samples
    ):
        raise ValueError(f"the effects hook must return Audio of the same rate and length for stem {name!r}")
    return processed


def remix(
    stems: Mapping[str, Audio],
    settings: RemixSettings | Mapping[str, Any] | str | os.PathLike | None = None,
    effects: EffectsHook | None = None,
) -> Audio:
    """Mix stems to stereo through the console.

    Args:
        stems: stem name -> ``Audio`` (one sample rate and length for all).
        settings: :class:`RemixSettings`, a mapping, a JSON file path or JSON text; ``None`` for defaults.
        effects: optional hook ``(stem_name, audio, chain) -> audio`` that renders the strips' ``effects``.

    Returns:
        Stereo ``Audio`` ``[2, T]`` (L, R), float32.

    Raises:
        InputError: invalid settings, settings naming absent stems, or effects without a hook.
    """
    sample_rate, length = check_stems(stems)
    settings = load_remix_settings(settings)
    missing = sorted(set(settings.strips) - set(stems))
    if missing:
        raise InputError(
            f"the remix settings name stem(s) {', '.join(map(repr, missing))} but the stems are "
            f"{', '.join(map(repr, sorted(stems)))}"
        )
    audible = settings.audible(list(stems))
    if not audible:
        return Audio(torch.zeros(2, length), sample_rate)
    placement = Placement(
        name="remix",
        stems={
            name: StemPlacement(
                azimuth_deg=settings.strip(name).azimuth_deg,
                width_deg=settings.strip(name).width_deg,
                gain_db=settings.strip(name).gain_db,
            )
            for name in audible
        },
    )
    processed = {name: _apply_effects(name, stems[name], settings.strip(name), effects) for name in audible}
    mix = Upmixer("2.0", placement, ambience=False, levels=False).render(processed)  # a plain linear sum
    return Audio(mix.samples * 10.0 ** (settings.master_gain_db / 20.0), sample_rate)
