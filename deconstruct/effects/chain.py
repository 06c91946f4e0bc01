"""Effect chains: their description (kept as ground truth) and a seeded random sampler.

A :class:`Chain` is an ordered tuple of :class:`Effect` settings in catalog order, each effect at most once. It
converts to multi-hot labels, to the flat normalised parameter vector with its presence mask, and to/from JSON.
:func:`sample_chain` draws 0..K effects with parameters uniform in normalised units (log-uniform for log-scaled
parameters), deterministically from a seed.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from deconstruct.effects.catalog import (
    DEFAULT_VARIANT,
    EFFECT_NAMES,
    EffectEstimate,
    detected,
    effect_spec,
    param_layout,
    total_params,
)

__all__ = ["Chain", "Effect", "chain_from_estimates", "sample_chain"]


@dataclass(frozen=True)
class Effect:
    """One effect setting in a chain.

    Attributes:
        name: catalog effect name.
        params: physical parameter values, names carrying units (only the parameters in use: an absent EQ
            section is bypassed).
        variant: renderer variant (reverb: ``"algorithmic"`` or ``"convolution"``; others ``"default"``).
        rir: path of the room impulse response file (convolution reverb only).
    """

    name: str
    params: Mapping[str, float]
    variant: str = DEFAULT_VARIANT
    rir: str | None = None

    def __post_init__(self) -> None:
        spec = effect_spec(self.name)
        variant = self.variant
        if variant == DEFAULT_VARIANT and spec.variants:
            variant = next(iter(spec.variants))
            object.__setattr__(self, "variant", variant)
        spec.validate(self.params, variant)
        if (variant == "convolution") != (self.rir is not None):
            raise ValueError(f"{self.name}: a room impulse response file is given with, and only with, convolution")
        object.__setattr__(self, "params", {k: float(v) for k, v in self.params.items()})
        if self.rir is not None:
            object.__setattr__(self, "rir", str(self.rir))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (``rir`` only when set)."""
        data: dict[str, Any] = {"name": self.name, "variant": self.variant, "params": dict(self.params)}
        if self.rir is not None:
            data["rir"] = self.rir
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Effect":
        """Inverse of :meth:`to_dict`."""
        return cls(data["name"], data["params"], data.get("variant", DEFAULT_VARIANT), data.get("rir"))


@dataclass(frozen=True)
class Chain:
    """Effects in catalog order, each at most once.

    Attributes:
        effects: the effect settings; construction raises ``ValueError`` when out of order or repeated.
    """

    effects: tuple[Effect, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        effects = tuple(self.effects)
        positions = [EFFECT_NAMES.index(e.name) for e in effects]
        if positions != sorted(set(positions)):
            raise ValueError(
                f"a chain holds each effect at most once, in catalog order ({' → '.join(EFFECT_NAMES)}); "
                f"got {' → '.join(e.name for e in effects)}"
            )
        object.__setattr__(self, "effects", effects)

    def __len__(self) -> int:
        return len(self.effects)

    def __iter__(self) -> Iterator[Effect]:
        return iter(self.effects)

    def __contains__(self, name: object) -> bool:
        return any(e.name == name for e in self.effects)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(e.name for e in self.effects)

    def get(self, name: str) -> Effect | None:
        """The setting of effect ``name``, or ``None`` when the chain lacks it."""
        return next((e for e in self.effects if e.name == name), None)

    def without(self, *names: str) -> "Chain":
        """This chain with the named effects removed (names it lacks are ignored)."""
        return Chain(tuple(e for e in self.effects if e.name not in names))

    def labels(self) -> np.ndarray:
        """Multi-hot presence, float32 ``[len(EFFECT_NAMES)]`` in catalog order."""
        labels = np.zeros(len(EFFECT_NAMES), dtype=np.float32)
        for effect in self.effects:
            labels[EFFECT_NAMES.index(effect.name)] = 1.0
        return labels

    def normalised(self) -> tuple[np.ndarray, np.ndarray]:
        """The flat normalised parameter vector and its mask, float32 ``[total_params()]`` each.

        Parameters of absent effects (and unused EQ sections, and ``room_size`` of a convolution reverb) are 0 with
        mask 0; see :func:`deconstruct.effects.catalog.param_layout` for where each effect sits.
        """
        values = np.zeros(total_params(), dtype=np.float32)
        mask = np.zeros(total_params(), dtype=np.float32)
        layout = param_layout()
        for effect in self.effects:
            effect_values, effect_mask = effect_spec(effect.name).normalise(effect.params)
            values[layout[effect.name]] = effect_values
            mask[layout[effect.name]] = effect_mask
        return values, mask

    def to_dict(self) -> list[dict[str, Any]]:
        """A JSON-ready list of effect dicts."""
        return [e.to_dict() for e in self.effects]

    @classmethod
    def from_dict(cls, data: Iterable[Mapping[str, Any]]) -> "Chain":
        """Inverse of :meth:`to_dict`."""
        return cls(tuple(Effect.from_dict(d) for d in data))


def _sample_effect(
    name: str, rng: np.random.Generator, rir_files: Sequence[str], convolution_probability: float
) -> Effect:
    spec = effect_spec(name)
    variant, rir = DEFAULT_VARIANT, None
    if spec.variants:
        variant = "algorithmic"
        if rir_files and rng.random() < convolution_probability:
            variant = "convolution"
            rir = str(rir_files[int(rng.integers(len(rir_files)))])
    names = list(spec.required_params(variant))
    groups = spec.optional_groups(variant)
    if groups:
        active = rng.random(len(groups)) < 0.5
        if not active.any():
            active[int(rng.integers(len(groups)))] = True
        names += [n for group, on in zip(groups, active) if on for n in group]
    ordered = [p for p in spec.params if p.name in names]
    unit_values = rng.random(len(ordered))
    return Effect(name, {p.name: p.denormalise(float(u)) for p, u in zip(ordered, unit_values)}, variant, rir)


def sample_chain(
    seed: int | np.random.Generator,
    max_effects: int = 3,
    min_effects: int = 0,
    effects: Sequence[str] = EFFECT_NAMES,
    require: Sequence[str] = (),
    rir_files: Sequence[str | Path] = (),
    convolution_probability: float = 0.5,
) -> Chain:
    """Draw a random chain: ``min_effects..max_effects`` distinct effects in catalog order.

    The count is uniform over ``[min_effects, max_effects]``, the effects are a uniform random subset of
    ``effects`` (always including ``require``), and every parameter is uniform in normalised units (log-uniform
    for log-scaled ones). Each optional EQ section is active with probability 1/2 (at least one is). Reverb is
    convolution with one of ``rir_files`` with probability ``convolution_probability`` (algorithmic otherwise,
    and always when no files are given).

    Args:
        seed: an integer seed or a numpy ``Generator`` (consumed).
        max_effects: largest number of effects (K).
        min_effects: smallest number of effects.
        effects: the catalog names to draw from.
        require: names that must be in the chain (they count towards the number of effects).
        rir_files: room impulse responses to draw from for convolution reverb (data synthesis: the ``train`` RIRs).
        convolution_probability: probability that a reverb is convolution when ``rir_files`` is not empty.

    Returns:
        The sampled :class:`Chain`; the same seed and arguments always give the same chain.

    Raises:
        ValueError: unknown names, or counts that cannot be met.
    """
    for name in (*effects, *require):
        effect_spec(name)
    pool = [n for n in EFFECT_NAMES if n in effects and n not in require]
    low = max(min_effects, len(require))
    high = min(max_effects, len(require) + len(pool))
    if low > high:
        raise ValueError(
            f"cannot draw {min_effects}..{max_effects} effects with {len(require)} required from {len(pool)} others"
        )
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    count = int(rng.integers(low, high + 1))
    extra = rng.choice(len(pool), size=count - len(require), replace=False) if count > len(require) else []
    chosen = set(require) | {pool[int(i)] for i in extra}
    files = [str(f) for f in rir_files]
    return Chain(
        tuple(_sample_effect(n, rng, files, convolution_probability) for n in EFFECT_NAMES if n in chosen)
    )


def chain_from_estimates(
    estimates: Sequence[EffectEstimate], threshold: float | Mapping[str, float] | None = None
) -> Chain:
    """The chain of detected effects with their estimated parameters, for re-rendering (resynthesis).

    Estimated values are clamped into the catalog ranges; parameters outside the catalog (descriptors such as
    ``rt60_s``) are dropped. Reverb is rendered algorithmically.

    Args:
        estimates: analysis results, one per effect.
        threshold: as in :func:`deconstruct.effects.catalog.detected`.

    Raises:
        ValueError: a detected effect lacks required parameters.
    """
    settings = []
    for estimate in detected(estimates, threshold):
        spec = effect_spec(estimate.name)
        variant = spec.variant_names[0]
        allowed = set(spec.variant_params(variant))
        params = {
            name: min(max(value, spec.param(name).minimum), spec.param(name).maximum)
            for name, value in estimate.params.items()
            if name in allowed
        }
        settings.append(Effect(estimate.name, params, variant))
    return Chain(tuple(settings))
