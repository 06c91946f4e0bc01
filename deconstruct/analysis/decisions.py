"""From network outputs to decisions: "detected", "unsure" or "absent", and level-relative thresholds.

Each effect's probability is compared with two bounds:

- ``probability >= threshold``: **detected** (``EffectEstimate.detected`` is true), unless a veto applies;
- ``unsure_below <= probability < threshold``: **unsure**: reported with its parameters, never removed by the
  safe removal policy;
- below ``unsure_below``: **absent**.

The threshold comes from the checkpoint (``config["thresholds"]``, tuned or calibrated for precision), the unsure
bound from ``config["unsure_below"]`` when the checkpoint has one, else ``threshold - 0.2`` but at least half
the threshold (:func:`~deconstruct.effects.catalog.default_unsure_below`).

Vetoes: an EQ whose largest estimated band gain is below
:data:`~deconstruct.effects.catalog.MIN_EQ_GAIN_DB` (1 dB) in magnitude is no EQ; it is "absent" whatever its
probability, with the reason recorded.

Level-dependent parameters (the compressor's and the limiter's ``threshold_db``) are also reported relative to
the stem's own level as ``threshold_rel_db``: the threshold minus the stem's *active RMS level*
(:func:`~deconstruct.effects.level_reference.active_rms_db`: RMS in dBFS over all channels of the 400 ms blocks
that are not silent). A separated stem can sit 20 dB below the levels the network saw in training; the relative
threshold still says where the threshold sits within the stem's dynamics, and the removal places it on the signal
it actually processes. The compressor's relative threshold is raised to at least the lower end of
:data:`RELATIVE_THRESHOLD_RANGE_DB`, the range training could show (catalog threshold range minus the data
engine's range of dry-source levels), and ``threshold_db`` is then reported as the stem level plus that relative
threshold. It is never lowered: a lower threshold makes the inverse expand more, and a compressed stem sits below
its dry level, so relative thresholds above the range's upper end are plausible.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from deconstruct.effects.catalog import CATALOG, EFFECT_NAMES, MIN_EQ_GAIN_DB, default_unsure_below
from deconstruct.effects.level_reference import LEVEL_RELATIVE, ActiveLevel, active_rms_db
from deconstruct.errors import InputError

__all__ = [
    "LEVEL_RELATIVE",
    "RELATIVE_THRESHOLD_RANGE_DB",
    "TRAINING_DRY_LEVEL_DB",
    "ActiveLevel",
    "active_rms_db",
    "eq_veto",
    "relative_thresholds",
    "unsure_bounds",
]

TRAINING_DRY_LEVEL_DB = (-24.0, -12.0)
"""RMS range (dBFS) at which the data engine levels dry sources before their effect chain."""

RELATIVE_THRESHOLD_RANGE_DB: Mapping[str, tuple[float, float]] = {
    "compressor": (CATALOG["compressor"].param("threshold_db").minimum - TRAINING_DRY_LEVEL_DB[1],
                   CATALOG["compressor"].param("threshold_db").maximum - TRAINING_DRY_LEVEL_DB[0]),
}
"""Relative thresholds (dB re the dry source's RMS) training could show: [-30, +4] dB for the compressor."""


def unsure_bounds(thresholds: Mapping[str, float], calibrated: Mapping[str, float] | None = None
                  ) -> dict[str, float]:
    """Per effect, the probability at and above which (up to its threshold) a decision is "unsure".

    Args:
        thresholds: per-effect detection thresholds.
        calibrated: ``config["unsure_below"]`` of the checkpoint (effects it leaves out get the default).

    Returns:
        ``{effect: bound}`` with ``0 <= bound <= threshold``.

    Raises:
        InputError: a calibrated bound outside ``[0, 1]`` or for an unknown effect.
    """
    calibrated = dict(calibrated or {})
    unknown = set(calibrated) - set(EFFECT_NAMES)
    if unknown:
        raise InputError(f"unsure bounds for unknown effects {', '.join(sorted(unknown))}; "
                         f"the catalog has {', '.join(EFFECT_NAMES)}")
    bounds = {}
    for name in EFFECT_NAMES:
        threshold = float(thresholds[name])
        bound = float(calibrated.get(name, default_unsure_below(threshold)))
        if not 0.0 <= bound <= 1.0 and name in calibrated:
            raise InputError(f"unsure bound of {name} must lie in [0, 1], got {bound}")
        bounds[name] = min(max(bound, 0.0), threshold)
    return bounds


def eq_veto(params: Mapping[str, float]) -> str | None:
    """Why an estimated EQ is no EQ (its largest band gain is below 1 dB in magnitude), or ``None``.

    Args:
        params: the EQ's estimated parameters (section gains end in ``_gain_db``).
    """
    gains = [abs(float(value)) for key, value in params.items() if key.endswith("_gain_db")]
    largest = max(gains, default=0.0)
    if largest < MIN_EQ_GAIN_DB:
        return f"largest estimated band gain {largest:.2f} dB is below {MIN_EQ_GAIN_DB:g} dB: not an EQ"
    return None


def relative_thresholds(name: str, params: Mapping[str, float], level_db: float) -> dict[str, float]:
    """``params`` with ``threshold_rel_db`` added (compressor, limiter; see the module docstring).

    Args:
        name: catalog effect name.
        params: estimated parameters, physical units.
        level_db: the stem's active RMS level, dBFS (:func:`active_rms_db`).

    Returns:
        A new dict; unchanged for other effects, for parameters without ``threshold_db`` or a silent stem.
    """
    out = dict(params)
    if name not in LEVEL_RELATIVE or "threshold_db" not in out or not math.isfinite(level_db):
        return out
    relative = float(out["threshold_db"]) - level_db
    if name in RELATIVE_THRESHOLD_RANGE_DB:
        relative = max(relative, RELATIVE_THRESHOLD_RANGE_DB[name][0])  # raised, never lowered (see above)
    out["threshold_rel_db"] = relative
    out["threshold_db"] = level_db + relative
    return out
