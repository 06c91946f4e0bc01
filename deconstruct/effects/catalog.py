"""The effect catalog: every effect the toolkit detects, estimates, renders and removes.

Each effect is an :class:`EffectSpec` with named parameters (:class:`ParamSpec`) whose names carry their unit
(``threshold_db``, ``attack_ms``, ``center_hz``, ``delay_s``). Every parameter has a range and a map to and from
normalised ``[0, 1]`` (logarithmic for frequencies, times, Q and ratio; linear otherwise): estimators predict in
normalised units and the catalog maps back to physical ones.

The catalog's order is the order effects are applied in a chain (and undone in reverse):
``eq → compressor → distortion → chorus → delay → reverb → limiter``.

Ranges include those of RemFX (Rice et al., "General Purpose Audio Effect Removal", WASPAA 2023):

==========  =====================================================================================
effect      parameters
==========  =====================================================================================
eq          low shelf (20-200 Hz), up to 3 peaking bands (80 Hz-12 kHz, Q 0.5-4), high shelf
            (8-16 kHz); every gain -12..+12 dB. Each section is optional (an absent section is
            bypassed and its parameters are masked).
compressor  threshold -42..-20 dB, ratio 1.5-6, attack 1-20 ms, release 50-300 ms
distortion  drive 8-25 dB (``tanh`` waveshaper)
chorus      rate 0.5-3 Hz, depth 0.2-0.8, mix 0.3-0.7 (centre delay 7 ms, no feedback)
delay       delay 0.1-0.5 s, feedback 0.1-0.5, mix 0.2-0.5
reverb      algorithmic (Freeverb): room size 0.3-1 (unitless), wet level 0.2-0.6; or convolution
            with a measured room impulse response: wet level 0.2-0.6
limiter     threshold -12..-1 dB, release 50-300 ms
==========  =====================================================================================

Freeverb's ``room_size`` has no physical unit (it scales the comb-filter feedback); the analysis stage reports
physical descriptors beside it (RT60 in s, direct-to-reverberant ratio in dB).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, TypeVar

import torch

__all__ = [
    "CATALOG",
    "DECISIONS",
    "DEFAULT_THRESHOLD",
    "DEFAULT_UNSURE_MARGIN",
    "DEFAULT_VARIANT",
    "EFFECT_NAMES",
    "EffectEstimate",
    "EffectSpec",
    "MIN_EQ_GAIN_DB",
    "ParamSpec",
    "default_unsure_below",
    "denormalise_flat",
    "detected",
    "effect_spec",
    "param_layout",
    "total_params",
]

Value = TypeVar("Value", float, torch.Tensor)

DEFAULT_THRESHOLD = 0.5
"""Probability at or above which an effect counts as detected."""

DEFAULT_UNSURE_MARGIN = 0.2
"""Without a calibrated bound, probabilities in ``[max(threshold - 0.2, threshold / 2), threshold)`` are "unsure"
(see :func:`default_unsure_below`)."""

DECISIONS = ("detected", "unsure", "absent")
"""What the analysis decides about an effect: a confident detection, not sure (nothing is removed), absent."""

MIN_EQ_GAIN_DB = 1.0
"""An EQ counts as detected only when its largest estimated band gain is at least this large in magnitude, dB."""

DEFAULT_VARIANT = "default"


@dataclass(frozen=True)
class ParamSpec:
    """One effect parameter: its name (with unit suffix), range and normalisation.

    Attributes:
        name: parameter name carrying its unit (``threshold_db``, ``attack_ms``); unitless names are documented.
        minimum: smallest value of the range, in the parameter's unit.
        maximum: largest value of the range.
        scale: ``"linear"`` or ``"log"`` (normalised value proportional to the logarithm of the value).
        unit: human-readable unit (``"dB"``, ``"Hz"``, ``"ms"``, ``"s"``, ``""`` for unitless).
        description: one line on what the parameter does.
    """

    name: str
    minimum: float
    maximum: float
    scale: str = "linear"
    unit: str = ""
    description: str = ""

    def __post_init__(self) -> None:
        if self.scale not in ("linear", "log"):
            raise ValueError(f"{self.name}: scale must be 'linear' or 'log', got {self.scale!r}")
        if not self.maximum > self.minimum:
            raise ValueError(f"{self.name}: maximum must exceed minimum")
        if self.scale == "log" and self.minimum <= 0:
            raise ValueError(f"{self.name}: a log-scaled range must be positive")

    def _bounds(self) -> tuple[float, float]:
        if self.scale == "log":
            return math.log(self.minimum), math.log(self.maximum)
        return self.minimum, self.maximum

    def normalise(self, value: Value) -> Value:
        """Map a physical value to ``[0, 1]`` (values outside the range map outside ``[0, 1]``).

        Args:
            value: a float or a tensor of any shape, in the parameter's unit.

        Returns:
            The normalised value, same type and shape.
        """
        low, high = self._bounds()
        if self.scale == "log":
            value = torch.log(value) if isinstance(value, torch.Tensor) else math.log(value)
        return (value - low) / (high - low)

    def denormalise(self, unit_value: Value) -> Value:
        """Map a normalised value (clamped to ``[0, 1]``) to the parameter's physical unit.

        Args:
            unit_value: a float or a tensor of any shape; differentiable for tensors inside ``(0, 1)``.

        Returns:
            The physical value, same type and shape.
        """
        low, high = self._bounds()
        if isinstance(unit_value, torch.Tensor):
            physical = low + unit_value.clamp(0.0, 1.0) * (high - low)
            return torch.exp(physical) if self.scale == "log" else physical
        physical = low + min(max(float(unit_value), 0.0), 1.0) * (high - low)
        return math.exp(physical) if self.scale == "log" else physical

    def contains(self, value: float, tolerance: float = 1e-6) -> bool:
        """Whether ``value`` lies in the range (with a relative tolerance for float round trips)."""
        slack = tolerance * max(abs(self.minimum), abs(self.maximum), 1.0)
        return self.minimum - slack <= value <= self.maximum + slack


@dataclass(frozen=True)
class EffectSpec:
    """One catalog effect.

    Attributes:
        name: catalog name (``"compressor"``).
        params: the estimable parameters, in a fixed order.
        groups: parameter names that are present or absent together (an absent group is bypassed, e.g. an unused
            EQ band). Parameters outside every group are required.
        variants: renderer variants and the parameter names each uses (reverb: ``"algorithmic"`` uses
            ``room_size`` and ``wet_level``, ``"convolution"`` only ``wet_level`` plus a room impulse response).
        fixed: renderer settings held constant (not estimated), with units in their names.
        description: one line on what the effect is.
    """

    name: str
    params: tuple[ParamSpec, ...]
    groups: tuple[tuple[str, ...], ...] = ()
    variants: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    fixed: Mapping[str, float] = field(default_factory=dict)
    description: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "variants", dict(self.variants))
        object.__setattr__(self, "fixed", dict(self.fixed))

    @property
    def param_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params)

    @property
    def variant_names(self) -> tuple[str, ...]:
        return tuple(self.variants) or (DEFAULT_VARIANT,)

    def param(self, name: str) -> ParamSpec:
        """The :class:`ParamSpec` called ``name``; raises ``KeyError`` naming the valid ones otherwise."""
        for spec in self.params:
            if spec.name == name:
                return spec
        raise KeyError(f"{self.name} has no parameter {name!r}; it has {', '.join(self.param_names)}")

    def variant_params(self, variant: str = DEFAULT_VARIANT) -> tuple[str, ...]:
        """The parameter names a variant uses (all of them for effects without variants)."""
        if not self.variants:
            if variant != DEFAULT_VARIANT:
                raise ValueError(f"{self.name} has no variants; use {DEFAULT_VARIANT!r}, not {variant!r}")
            return self.param_names
        if variant not in self.variants:
            raise ValueError(f"{self.name} variant must be one of {', '.join(self.variants)}, got {variant!r}")
        return self.variants[variant]

    def optional_groups(self, variant: str = DEFAULT_VARIANT) -> tuple[tuple[str, ...], ...]:
        """The optional parameter groups a variant uses."""
        used = set(self.variant_params(variant))
        return tuple(group for group in self.groups if set(group) <= used)

    def required_params(self, variant: str = DEFAULT_VARIANT) -> tuple[str, ...]:
        """The parameter names a variant always needs (those in no optional group)."""
        grouped = {name for group in self.groups for name in group}
        return tuple(name for name in self.variant_params(variant) if name not in grouped)

    def validate(self, params: Mapping[str, float], variant: str = DEFAULT_VARIANT) -> None:
        """Check that ``params`` is a valid setting of this effect.

        Raises:
            ValueError: unknown or missing names, a group given in part, or a value outside its range.
        """
        allowed = set(self.variant_params(variant))
        unknown = set(params) - allowed
        if unknown:
            raise ValueError(
                f"{self.name} ({variant}) has no parameter(s) {', '.join(sorted(unknown))}; "
                f"it takes {', '.join(sorted(allowed))}"
            )
        missing = set(self.required_params(variant)) - set(params)
        if missing:
            raise ValueError(f"{self.name} ({variant}) needs {', '.join(sorted(missing))}")
        for group in self.optional_groups(variant):
            given = [name for name in group if name in params]
            if given and len(given) != len(group):
                raise ValueError(f"{self.name}: give all of {', '.join(group)} or none of them")
        for name, value in params.items():
            spec = self.param(name)
            if not spec.contains(float(value)):
                raise ValueError(
                    f"{self.name}.{name}={float(value):g} is outside [{spec.minimum:g}, {spec.maximum:g}] {spec.unit}"
                )

    def normalise(self, params: Mapping[str, float]) -> tuple[list[float], list[float]]:
        """Normalised values and a presence mask, in :attr:`params` order (absent parameters: value 0, mask 0)."""
        values, mask = [], []
        for spec in self.params:
            present = spec.name in params
            values.append(float(spec.normalise(float(params[spec.name]))) if present else 0.0)
            mask.append(1.0 if present else 0.0)
        return values, mask

    def denormalise(self, unit_values: Sequence[float], mask: Sequence[float] | None = None) -> dict[str, float]:
        """Physical parameters from normalised values in :attr:`params` order (masked-out entries are dropped)."""
        if len(unit_values) != len(self.params):
            raise ValueError(f"{self.name} has {len(self.params)} parameters, got {len(unit_values)} values")
        return {
            spec.name: float(spec.denormalise(float(value)))
            for index, (spec, value) in enumerate(zip(self.params, unit_values))
            if mask is None or mask[index] > 0.5
        }


def _eq_spec() -> EffectSpec:
    gain = dict(minimum=-12.0, maximum=12.0, unit="dB")
    params: list[ParamSpec] = [
        ParamSpec("low_shelf_gain_db", **gain, description="low-shelf gain"),
        ParamSpec("low_shelf_cutoff_hz", 20.0, 200.0, "log", "Hz", "low-shelf corner frequency"),
    ]
    groups: list[tuple[str, ...]] = [("low_shelf_gain_db", "low_shelf_cutoff_hz")]
    for band in (1, 2, 3):
        prefix = f"peak{band}_"
        params += [
            ParamSpec(prefix + "gain_db", **gain, description=f"peaking band {band} gain"),
            ParamSpec(prefix + "center_hz", 80.0, 12000.0, "log", "Hz", f"peaking band {band} centre frequency"),
            ParamSpec(prefix + "q", 0.5, 4.0, "log", "", f"peaking band {band} quality factor (unitless)"),
        ]
        groups.append((prefix + "gain_db", prefix + "center_hz", prefix + "q"))
    params += [
        ParamSpec("high_shelf_gain_db", **gain, description="high-shelf gain"),
        ParamSpec("high_shelf_cutoff_hz", 8000.0, 16000.0, "log", "Hz", "high-shelf corner frequency"),
    ]
    groups.append(("high_shelf_gain_db", "high_shelf_cutoff_hz"))
    return EffectSpec(
        "eq",
        tuple(params),
        groups=tuple(groups),
        fixed={"shelf_q": 1.0 / math.sqrt(2.0)},
        description="parametric EQ: low shelf, up to 3 peaking bands, high shelf (RBJ biquads, in that order)",
    )


_SPECS: tuple[EffectSpec, ...] = (
    _eq_spec(),
    EffectSpec(
        "compressor",
        (
            ParamSpec("threshold_db", -42.0, -20.0, "linear", "dB", "level above which gain is reduced"),
            ParamSpec("ratio", 1.5, 6.0, "log", "", "input/output level ratio above threshold (unitless, x:1)"),
            ParamSpec("attack_ms", 1.0, 20.0, "log", "ms", "envelope attack time constant"),
            ParamSpec("release_ms", 50.0, 300.0, "log", "ms", "envelope release time constant"),
        ),
        description="feed-forward peak compressor, hard knee, per-channel envelope (JUCE dsp::Compressor)",
    ),
    EffectSpec(
        "distortion",
        (ParamSpec("drive_db", 8.0, 25.0, "linear", "dB", "gain before the tanh waveshaper"),),
        description="tanh waveshaper after a drive gain: y = tanh(10^(drive_db/20) x)",
    ),
    EffectSpec(
        "chorus",
        (
            ParamSpec("rate_hz", 0.5, 3.0, "log", "Hz", "LFO rate"),
            ParamSpec("depth", 0.2, 0.8, "linear", "", "LFO depth (unitless; 1 = +/-10 ms of delay modulation)"),
            ParamSpec("mix", 0.3, 0.7, "linear", "", "wet proportion (unitless, 0 dry .. 1 wet)"),
        ),
        fixed={"centre_delay_ms": 7.0, "feedback": 0.0},
        description="sine-LFO modulated delay line mixed with the dry signal (JUCE dsp::Chorus)",
    ),
    EffectSpec(
        "delay",
        (
            ParamSpec("delay_s", 0.1, 0.5, "log", "s", "echo period"),
            ParamSpec("feedback", 0.1, 0.5, "linear", "", "gain of each further echo (unitless)"),
            ParamSpec("mix", 0.2, 0.5, "linear", "", "wet proportion (unitless, 0 dry .. 1 wet)"),
        ),
        description="feedback delay: y = (1-mix) x + mix d, d[n] = x[n-D] + feedback d[n-D]",
    ),
    EffectSpec(
        "reverb",
        (
            ParamSpec("room_size", 0.3, 1.0, "linear", "", "Freeverb room size (unitless comb-filter feedback)"),
            ParamSpec("wet_level", 0.2, 0.6, "linear", "", "wet gain (unitless); the dry gain is 1 - wet_level"),
        ),
        variants={"algorithmic": ("room_size", "wet_level"), "convolution": ("wet_level",)},
        fixed={"damping": 0.5, "width": 1.0},
        description="algorithmic (Freeverb) or convolution with a measured room impulse response",
    ),
    EffectSpec(
        "limiter",
        (
            ParamSpec("threshold_db", -12.0, -1.0, "linear", "dB", "level where limiting engages (makeup follows)"),
            ParamSpec("release_ms", 50.0, 300.0, "log", "ms", "release time constant"),
        ),
        description="two-stage compressor with makeup gain and a hard clip at 0 dBFS (JUCE dsp::Limiter)",
    ),
)

CATALOG: Mapping[str, EffectSpec] = MappingProxyType({spec.name: spec for spec in _SPECS})
"""Every catalog effect by name, in chain order."""

EFFECT_NAMES: tuple[str, ...] = tuple(CATALOG)
"""Catalog names in chain order: eq, compressor, distortion, chorus, delay, reverb, limiter."""


def effect_spec(name: str) -> EffectSpec:
    """The catalog entry for ``name``; raises ``ValueError`` listing the catalog otherwise."""
    try:
        return CATALOG[name]
    except KeyError:
        raise ValueError(f"unknown effect {name!r}; the catalog has {', '.join(EFFECT_NAMES)}") from None


def param_layout() -> dict[str, slice]:
    """Where each effect's parameters sit in the flat normalised vector (catalog order, then parameter order)."""
    layout, start = {}, 0
    for spec in CATALOG.values():
        layout[spec.name] = slice(start, start + len(spec.params))
        start += len(spec.params)
    return layout


def total_params() -> int:
    """Length of the flat normalised parameter vector over the whole catalog."""
    return sum(len(spec.params) for spec in CATALOG.values())


def denormalise_flat(
    values: Sequence[float], mask: Sequence[float] | None = None, effects: Sequence[str] = EFFECT_NAMES
) -> dict[str, dict[str, float]]:
    """Physical parameters per effect from a flat normalised vector laid out by :func:`param_layout`.

    Args:
        values: ``total_params()`` normalised values (an estimator's output, say).
        mask: optional presence mask of the same length; masked-out parameters are dropped.
        effects: the effects to read out (all by default).

    Returns:
        ``{effect: {param_name: physical value}}``.
    """
    values = [float(v) for v in values]
    if len(values) != total_params():
        raise ValueError(f"a flat parameter vector has {total_params()} values, got {len(values)}")
    layout = param_layout()
    return {
        name: effect_spec(name).denormalise(values[layout[name]], None if mask is None else list(mask)[layout[name]])
        for name in effects
    }


def default_unsure_below(threshold: float) -> float:
    """The unsure bound without a calibrated one: ``threshold - 0.2``, but at least half the threshold.

    A low threshold (0.2, say) would otherwise make every probability "unsure".
    """
    return max(float(threshold) - DEFAULT_UNSURE_MARGIN, float(threshold) / 2.0)


@dataclass(frozen=True)
class EffectEstimate:
    """What the analysis says about one catalog effect on one stem.

    Attributes:
        name: catalog effect name.
        probability: estimated probability that the effect is present, in ``[0, 1]``.
        params: estimated parameters in physical units, names carrying units (``{"threshold_db": -30.0}``);
            empty when not estimated. May hold descriptors beyond the catalog's (reverb: ``rt60_s``, ``drr_db``).
        threshold: probability at or above which the effect counts as :attr:`detected`.
        unsure_below: probabilities in ``[unsure_below, threshold)`` are "unsure"; ``None``: ``threshold -``
            :data:`DEFAULT_UNSURE_MARGIN` (at least half the threshold, :func:`default_unsure_below`).
        veto: why the effect counts as absent whatever its probability (an EQ whose largest band gain is under
            :data:`MIN_EQ_GAIN_DB`), or ``None``.
    """

    name: str
    probability: float
    params: Mapping[str, float] = field(default_factory=dict)
    threshold: float = DEFAULT_THRESHOLD
    unsure_below: float | None = None
    veto: str | None = None

    def __post_init__(self) -> None:
        effect_spec(self.name)
        if not 0.0 <= float(self.probability) <= 1.0:
            raise ValueError(f"{self.name}: probability must lie in [0, 1], got {self.probability}")
        if not 0.0 <= float(self.threshold) <= 1.0:
            raise ValueError(f"{self.name}: threshold must lie in [0, 1], got {self.threshold}")
        if self.unsure_below is not None and not 0.0 <= float(self.unsure_below) <= float(self.threshold):
            raise ValueError(f"{self.name}: unsure_below must lie in [0, threshold], got {self.unsure_below}")
        object.__setattr__(self, "probability", float(self.probability))
        object.__setattr__(self, "params", {k: float(v) for k, v in self.params.items()})
        if self.unsure_below is None:
            object.__setattr__(self, "unsure_below", default_unsure_below(self.threshold))
        object.__setattr__(self, "unsure_below", float(self.unsure_below))

    @property
    def unsure_bound(self) -> float:
        """The probability from which (up to :attr:`threshold`) the decision is "unsure"."""
        return float(self.unsure_below)

    @property
    def decision(self) -> str:
        """``"detected"`` (at or above the threshold, no veto), ``"unsure"`` (between the bounds) or ``"absent"``."""
        if self.veto is not None:
            return "absent"
        if self.probability >= self.threshold:
            return "detected"
        return "unsure" if self.probability >= self.unsure_bound else "absent"

    @property
    def detected(self) -> bool:
        """Whether the effect is confidently detected (:attr:`decision` is ``"detected"``)."""
        return self.decision == "detected"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: name, probability, decision, detected, threshold, unsure_below, params (and reason)."""
        data = {
            "name": self.name,
            "probability": self.probability,
            "decision": self.decision,
            "detected": self.detected,
            "threshold": self.threshold,
            "unsure_below": self.unsure_bound,
            "params": dict(self.params),
        }
        if self.veto is not None:
            data["reason"] = self.veto
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "EffectEstimate":
        """Inverse of :meth:`to_dict` (``decision`` and ``detected`` are recomputed, not read)."""
        return cls(
            name=data["name"],
            probability=data["probability"],
            params=data.get("params", {}),
            threshold=data.get("threshold", DEFAULT_THRESHOLD),
            unsure_below=data.get("unsure_below"),
            veto=data.get("reason"),
        )


def detected(
    estimates: Sequence[EffectEstimate], threshold: float | Mapping[str, float] | None = None
) -> list[EffectEstimate]:
    """The detected estimates, in catalog order.

    Args:
        estimates: one estimate per effect (any order).
        threshold: ``None`` to use each estimate's own threshold, a float for all effects, or a per-effect
            mapping (effects it does not name keep their own threshold).

    Returns:
        The estimates whose probability is at or above their threshold, sorted in catalog order (a vetoed
        estimate is never detected).
    """
    chosen = []
    for estimate in estimates:
        if estimate.veto is not None:
            continue
        if threshold is None:
            limit = estimate.threshold
        elif isinstance(threshold, Mapping):
            limit = threshold.get(estimate.name, estimate.threshold)
        else:
            limit = float(threshold)
        if estimate.probability >= limit:
            chosen.append(estimate)
    return sorted(chosen, key=lambda e: EFFECT_NAMES.index(e.name))
