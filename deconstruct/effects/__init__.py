"""The effect catalog, chain descriptions and sampler, pedalboard renderers and differentiable torch effects.

``deconstruct.effects.catalog`` names every effect with its parameters (units in the names), ranges and maps to
normalised ``[0, 1]``; ``chain`` describes and samples chains in catalog order; ``render`` renders them with
pedalboard for data synthesis; ``functional`` and ``modules`` are differentiable torch versions.
"""

from deconstruct.effects.catalog import (
    CATALOG,
    DEFAULT_THRESHOLD,
    EFFECT_NAMES,
    EffectEstimate,
    EffectSpec,
    ParamSpec,
    denormalise_flat,
    detected,
    effect_spec,
    param_layout,
    total_params,
)
from deconstruct.effects.chain import Chain, Effect, chain_from_estimates, sample_chain
from deconstruct.effects.render import apply_rir, render_chain, render_effect

__all__ = [
    "CATALOG",
    "DEFAULT_THRESHOLD",
    "EFFECT_NAMES",
    "Chain",
    "Effect",
    "EffectEstimate",
    "EffectSpec",
    "ParamSpec",
    "apply_rir",
    "chain_from_estimates",
    "denormalise_flat",
    "detected",
    "effect_spec",
    "param_layout",
    "render_chain",
    "render_effect",
    "sample_chain",
    "total_params",
]
