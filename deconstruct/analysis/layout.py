"""The analysis network's output layout: which normalised value is which parameter, and the training targets.

The parameter head predicts, in ``[0, 1]``, every catalog parameter in :func:`~deconstruct.effects.catalog.
param_layout` order followed by the reverb descriptors ``rt60_s`` (log scale over :data:`RT60_RANGE_S`) and
``drr_db`` (linear over :data:`DRR_RANGE_DB`). Targets come from the rendered chain:

- catalog parameters of the effects present, normalised (mask 1); absent effects are masked out;
- an EQ section that the chain leaves out is a section with 0 dB gain: its gain target is the normalised 0 dB
  (mask 1), its frequency and Q stay masked. So the network learns to report flat sections as flat;
- for a reverb, its measured RT60 and DRR (:func:`deconstruct.analysis.reverb.reverb_descriptors`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from deconstruct.analysis.reverb import DRR_RANGE_DB, RT60_RANGE_S, reverb_descriptors
from deconstruct.effects.catalog import CATALOG, ParamSpec, effect_spec, param_layout, total_params
from deconstruct.effects.chain import Chain

__all__ = [
    "DESCRIPTORS",
    "EQ_SECTIONS",
    "MIN_SECTION_GAIN_DB",
    "output_names",
    "output_specs",
    "physical_params",
    "targets_from_chain",
]

DESCRIPTORS: tuple[ParamSpec, ...] = (
    ParamSpec("rt60_s", *RT60_RANGE_S, "log", "s", "reverberation time (Schroeder, T20)"),
    ParamSpec("drr_db", *DRR_RANGE_DB, "linear", "dB", "direct-to-reverberant energy ratio"),
)
"""Reverb descriptors estimated beside the catalog parameters."""

EQ_SECTIONS: tuple[tuple[str, ...], ...] = CATALOG["eq"].groups
"""The EQ's optional sections (gain, then frequency and Q)."""

MIN_SECTION_GAIN_DB = 1.0
"""An estimated EQ section with a smaller gain magnitude is reported as absent (flat)."""


def output_specs() -> list[tuple[str, ParamSpec]]:
    """``(effect, spec)`` for every output of the parameter head, in order."""
    specs = [(spec.name, param) for spec in CATALOG.values() for param in spec.params]
    return specs + [("reverb", descriptor) for descriptor in DESCRIPTORS]


def output_names() -> list[str]:
    """``effect.parameter`` names of the parameter head's outputs, in order."""
    return [f"{effect}.{spec.name}" for effect, spec in output_specs()]


def targets_from_chain(chain: Chain, sample_rate: int = 44100) -> tuple[np.ndarray, np.ndarray]:
    """Normalised targets and their mask for the parameter head (see the module docstring).

    Args:
        chain: the chain that was rendered.
        sample_rate: rate at which convolution responses are measured for the reverb descriptors.

    Returns:
        float32 ``values`` and ``mask``, each ``[len(output_names())]``.
    """
    values, mask = chain.normalised()
    extra = np.zeros(len(DESCRIPTORS), dtype=np.float32)
    extra_mask = np.zeros(len(DESCRIPTORS), dtype=np.float32)
    eq = chain.get("eq")
    if eq is not None:
        start = param_layout()["eq"].start
        names = effect_spec("eq").param_names
        for section in EQ_SECTIONS:
            gain = names.index(section[0])
            if section[0] not in eq.params:
                values[start + gain] = float(effect_spec("eq").param(section[0]).normalise(0.0))
                mask[start + gain] = 1.0
    reverb = chain.get("reverb")
    if reverb is not None:
        truth = reverb_descriptors(reverb, sample_rate)
        for index, descriptor in enumerate(DESCRIPTORS):
            value = truth[descriptor.name]
            if np.isfinite(value):
                extra[index] = min(max(float(descriptor.normalise(value)), 0.0), 1.0)
                extra_mask[index] = 1.0
    return np.concatenate([values, extra]), np.concatenate([mask, extra_mask])


def physical_params(effect: str, normalised: Sequence[float]) -> dict[str, float]:
    """Physical parameters of ``effect`` from the head's normalised outputs (the whole output vector).

    EQ sections whose estimated gain is below :data:`MIN_SECTION_GAIN_DB` in magnitude are left out (flat), except
    the strongest one; the reverb also reports ``rt60_s`` and ``drr_db``.

    Args:
        effect: a catalog name.
        normalised: ``len(output_names())`` values in ``[0, 1]``.

    Returns:
        ``{param_name: value}`` in physical units.
    """
    if len(normalised) != len(output_names()):
        raise ValueError(f"the parameter head has {len(output_names())} outputs, got {len(normalised)}")
    spec = effect_spec(effect)
    params = spec.denormalise([float(v) for v in normalised[param_layout()[effect]]])
    if effect == "eq":
        strongest = max(EQ_SECTIONS, key=lambda section: abs(params[section[0]]))
        for section in EQ_SECTIONS:
            if section is not strongest and abs(params[section[0]]) < MIN_SECTION_GAIN_DB:
                for name in section:
                    params.pop(name)
    if effect == "reverb":
        for index, descriptor in enumerate(DESCRIPTORS):
            params[descriptor.name] = float(descriptor.denormalise(float(normalised[total_params() + index])))
    return params
