"""One removal per catalog effect: a signal-processing inverse, a network, or a pass-through.

Every removal is called as ``removal(samples [C, T], sample_rate, params) -> (samples [C, T], Removal)``, where
``params`` are the effect's estimated parameters in physical units (possibly empty: the effect was named without
them). Which method runs is decided per call and recorded in the returned :class:`Removal`:

==========  ==============================================  ==============================================
effect      with parameters                                 without parameters
==========  ==============================================  ==============================================
eq          exact inverse (negated RBJ sections)            network if the model has one, else pass-through
compressor  exact inverse of the gain computer              network (gain curve) if any, else the inverse
                                                            from blindly estimated parameters (when the
                                                            audio looks compressed), else pass-through
distortion  ``atanh`` inverse                               the same, at a default drive (level only)
chorus      network                                         network
delay       IIR inverse, period refined around the hint     blind cepstral estimate, then IIR inverse
reverb      network                                         network
limiter     inverse of both stages and the makeup gain      network (gain curve) if any, else pass-through
==========  ==============================================  ==============================================

Level convention. EQ, delay, reverb and chorus removals keep absolute levels: their output is the dry signal at
the level the effect received it. Compressor, limiter and distortion removals are *level-preserving*
(:data:`LEVEL_PRESERVING`): a mix engineer sets the makeup or output gain after these effects freely, so the level
the effect received is not identifiable from a mix; these removals restore the effect's shape and return the dry
estimate at the level of the signal they were given. The remover (:mod:`deconstruct.removal.remover`) multiplies the
inverse's output by one scalar, :func:`level_match_gain` (the ratio of the active RMS levels of
:mod:`deconstruct.effects.level_reference`, running sums over blocks), before any check runs, and records it in the
step as ``level_match_db``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from deconstruct.audio import resample
from deconstruct.effects.catalog import EFFECT_NAMES, effect_spec
from deconstruct.effects.level_reference import active_rms_db
from deconstruct.models.loading import check_finite_output
from deconstruct.removal import dsp
from deconstruct.streaming import TensorReader, overlap_add

__all__ = [
    "LEVEL_PRESERVING",
    "EffectRemoval",
    "Removal",
    "build_removal",
    "catalog_params",
    "level_match_gain",
]

PASS_THROUGH = "pass-through"
LEVEL_PRESERVING = ("compressor", "distortion", "limiter")
"""Effects whose removal returns the dry estimate at the level of its input (see the module docstring)."""


@dataclass(frozen=True)
class Removal:
    """What one removal did.

    Attributes:
        name: catalog effect name.
        method: ``"dsp"`` (signal-processing inverse), ``"neural"`` or ``"pass-through"`` (left unchanged).
        params: the parameters the method used, physical units (given, estimated, or defaults).
        note: why a method was chosen when it is not the obvious one (missing parameters, no echo found).
        level_match_db: for a level-preserving removal (:data:`LEVEL_PRESERVING`), the gain (dB) that put the
            inverse's output at its input's active RMS level; ``None`` for the others and for a pass-through.
    """

    name: str
    method: str
    params: Mapping[str, float] = field(default_factory=dict)
    note: str = ""
    level_match_db: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (``level_match_db`` only when the removal is level-preserving)."""
        data: dict[str, Any] = {"name": self.name, "method": self.method, "params": dict(self.params)}
        if self.level_match_db is not None:
            data["level_match_db"] = round(self.level_match_db, 3)
        if self.note:
            data["note"] = self.note
        return data


def level_match_gain(reference: torch.Tensor, signal: torch.Tensor, sample_rate: int) -> float:
    """The one scalar gain that brings ``signal``'s active RMS level to ``reference``'s.

    Both levels are :func:`deconstruct.effects.level_reference.active_rms_db` (running sums over 0.4 s blocks, so a
    long stem costs no extra memory). When either signal is silent the gain is 1.

    Shape:
        reference, signal: ``[channels, samples]`` each (lengths may differ).
    """
    target, level = active_rms_db(reference, sample_rate), active_rms_db(signal, sample_rate)
    if not (math.isfinite(target) and math.isfinite(level)):
        return 1.0
    return 10.0 ** ((target - level) / 20.0)


EffectRemoval = Callable[[torch.Tensor, int, Mapping[str, float]], "tuple[torch.Tensor, Removal]"]
"""``(samples [C, T], sample_rate, params) -> (samples [C, T], Removal)``."""


def catalog_params(name: str, params: Mapping[str, float]) -> dict[str, float] | None:
    """The catalog parameters of ``name`` found in ``params``, clamped into range; ``None`` when incomplete.

    Extra entries (descriptors such as ``rt60_s``) are ignored. Optional groups (EQ sections) given in part are
    dropped; an EQ needs at least one complete section.
    """
    spec = effect_spec(name)
    values = {p.name: min(max(float(params[p.name]), p.minimum), p.maximum) for p in spec.params if p.name in params}
    variant = spec.variant_names[0]
    required = spec.required_params(variant)
    if any(n not in values for n in required):
        return None
    groups = spec.optional_groups(variant)
    complete = [g for g in groups if all(n in values for n in g)]
    if groups and not complete and not required:
        return None
    kept = set(required) | {n for g in complete for n in g}
    return {n: v for n, v in values.items() if n in kept}


class NetRunner:
    """Runs a removal network on ``[C, T]`` audio at any rate: resampled to the model's, chunked with crossfades.

    Args:
        net: a network ``[B, C, T] → [B, C, T]`` (channels processed alone).
        model_rate: the network's sample rate, Hz.
        device: where the network runs.
        chunk_s: chunk length, s (bounds memory for long inputs).
        overlap_s: crossfade between chunks, s.
        name: the model and effect, for the error raised when the network outputs NaN or infinite values.
    """

    def __init__(self, net: nn.Module, model_rate: int, device: torch.device, chunk_s: float = 30.0,
                 overlap_s: float = 1.0, name: str = "removal network") -> None:
        self.net, self.model_rate, self.device = net.eval().to(device), int(model_rate), device
        self.name = name
        self.chunk_s, self.overlap_s = float(chunk_s), float(overlap_s)

    @torch.inference_mode()
    def _block(self, block: torch.Tensor, sample_rate: int) -> torch.Tensor:
        length = block.shape[-1]
        x = resample(block, sample_rate, self.model_rate).to(self.device)
        out = check_finite_output(self.net(x[:, None])[:, 0].cpu(), self.name, "removal")
        out = resample(out.contiguous(), self.model_rate, sample_rate)
        if out.shape[-1] < length:
            out = nn.functional.pad(out, (0, length - out.shape[-1]))
        return out[..., :length]

    def __call__(self, samples: torch.Tensor, sample_rate: int) -> torch.Tensor:
        """Shape: ``[C, T]`` → ``[C, T]`` (float32, at ``sample_rate``)."""
        chunk = max(int(self.chunk_s * sample_rate), 2)
        overlap = min(int(self.overlap_s * sample_rate), chunk - 1)
        reader = TensorReader(samples, sample_rate)
        return torch.cat(list(overlap_add(reader, lambda b: self._block(b, sample_rate), chunk, overlap)), dim=-1)


class _Removal:
    """Shared plumbing: the effect's name, an optional network fallback, and the pass-through."""

    description = ""

    def __init__(self, name: str, runner: NetRunner | None = None) -> None:
        self.name, self.runner = name, runner

    def _neural(self, samples: torch.Tensor, sample_rate: int, note: str = "") -> tuple[torch.Tensor, Removal]:
        assert self.runner is not None
        return self.runner(samples, sample_rate), Removal(self.name, "neural", {}, note)

    def _fallback(self, samples: torch.Tensor, sample_rate: int, reason: str) -> tuple[torch.Tensor, Removal]:
        """The network when there is one, else the input unchanged; ``reason`` says why the inverse did not run."""
        if self.runner is not None:
            return self._neural(samples, sample_rate, reason)
        return samples, Removal(self.name, PASS_THROUGH, {}, f"{reason}; the model has no network for it")


class NeuralRemoval(_Removal):
    """A network, whatever the parameters."""

    description = "network"

    def __call__(self, samples: torch.Tensor, sample_rate: int, params: Mapping[str, float]):
        return self._neural(samples, sample_rate)


class PassThrough(_Removal):
    """Leaves the audio unchanged, saying why (``note``)."""

    description = "pass-through"

    def __init__(self, name: str, note: str) -> None:
        super().__init__(name)
        self.note = note

    def __call__(self, samples: torch.Tensor, sample_rate: int, params: Mapping[str, float]):
        return samples, Removal(self.name, PASS_THROUGH, {}, self.note)


class ParametricRemoval(_Removal):
    """An exact inverse from the effect's parameters (EQ, compressor, limiter); the network or nothing without."""

    _INVERSES = {
        "eq": lambda x, sr, p: dsp.invert_eq(x, sr, p),
        "compressor": lambda x, sr, p: dsp.invert_compressor(
            x, sr, p["threshold_db"], p["ratio"], p["attack_ms"], p["release_ms"]),
        "limiter": lambda x, sr, p: dsp.invert_limiter(x, sr, p["threshold_db"], p["release_ms"]),
    }

    def __init__(self, name: str, runner: NetRunner | None = None) -> None:
        if name not in self._INVERSES:
            raise ValueError(f"no parametric inverse for {name!r}; it has {', '.join(self._INVERSES)}")
        super().__init__(name, runner)
        fallback = "network" if runner is not None else "pass-through"
        if name == "compressor" and runner is None:
            fallback = "inverse from blindly estimated parameters (pass-through when it looks uncompressed)"
        self.description = f"exact inverse from parameters; {fallback} without them"

    def __call__(self, samples: torch.Tensor, sample_rate: int, params: Mapping[str, float]):
        chosen = catalog_params(self.name, params)
        note = ""
        if chosen is None and self.name == "compressor" and self.runner is None:
            from deconstruct.removal.blind import estimate_compressor

            chosen = estimate_compressor(samples, sample_rate)
            if chosen is None:
                return samples, Removal(self.name, PASS_THROUGH, {}, "parameters not given and the audio does not "
                                        "look compressed (blind estimate)")
            note = "parameters estimated blindly from the level distribution"
        if chosen is None:
            return self._fallback(samples, sample_rate, f"{self.name} parameters not given")
        return self._INVERSES[self.name](samples, sample_rate, chosen), Removal(self.name, "dsp", chosen, note)


class DistortionRemoval(_Removal):
    """``atanh`` inverse at the given drive, or at ``default_drive_db`` (the drive only sets the output level).

    The inverse runs only on audio that looks saturated (:func:`deconstruct.removal.dsp.saturation` at least
    ``min_saturation``, chosen on training data), so a wrong detection on clean audio with loud peaks does no harm.
    When the drive is given (an estimate with parameters) the bar is ``given_factor`` times that (1 by default: the
    removal is level-preserving, so a given drive no longer decides the output level, and a lower bar only let
    removals through on clean audio: on the `train` dry recordings with the true drive, a bar of 0.1 kept 6 of 21
    false removals and 1 kept 3, with the same 3 of 21 genuine removals kept).
    """

    description = "atanh inverse when the audio is saturated"

    def __init__(self, default_drive_db: float = 16.5, max_abs: float = 0.999, min_saturation: float = 0.003,
                 given_factor: float = 1.0) -> None:
        super().__init__("distortion")
        self.default_drive_db, self.max_abs = float(default_drive_db), float(max_abs)
        self.min_saturation, self.given_factor = float(min_saturation), float(given_factor)

    def __call__(self, samples: torch.Tensor, sample_rate: int, params: Mapping[str, float]):
        chosen = catalog_params("distortion", params)
        share = dsp.saturation(samples)
        needed = self.min_saturation * (self.given_factor if chosen else 1.0)
        if share < needed:
            return samples, Removal("distortion", PASS_THROUGH, {}, f"no saturation found ({100 * share:.2f} % of "
                                    "samples near the peak)")
        note = "" if chosen else "drive not given: default drive (sets the level only)"
        drive = chosen["drive_db"] if chosen else self.default_drive_db
        out = dsp.invert_distortion(samples, drive, self.max_abs)
        return out, Removal("distortion", "dsp", {"drive_db": drive}, note)


class DelayRemoval(_Removal):
    """IIR inverse of a feedback delay whose period, feedback and mix are estimated from the cepstrum.

    Given parameters are hints (the period is refined around them); with none the estimate is blind. When no echo
    is found the audio passes through unchanged.
    """

    description = "IIR inverse from a cepstral estimate (blind, or refined from parameters)"

    def __init__(self, **estimator: Any) -> None:
        super().__init__("delay")
        self.estimator = estimator

    def __call__(self, samples: torch.Tensor, sample_rate: int, params: Mapping[str, float]):
        hint = {k: float(params[k]) for k in ("delay_s", "feedback", "mix") if k in params}
        estimate = dsp.estimate_delay(samples, sample_rate, hint=hint or None, **self.estimator)
        if estimate is None:
            return samples, Removal("delay", PASS_THROUGH, {}, "no echo found in the signal")
        out = dsp.invert_delay_steps(samples, estimate.steps, estimate.feedback, estimate.mix)
        note = "parameters refined from the given ones" if hint else "parameters estimated blindly (cepstrum)"
        return out, Removal("delay", "dsp", estimate.params(), note)


def build_removal(name: str, entry: Mapping[str, Any], runner: NetRunner | None) -> EffectRemoval:
    """The removal for one catalog effect from its config entry.

    Args:
        name: catalog effect name.
        entry: ``{"dsp": bool | {options}, "net": {...} | None, "note": str}``: whether (and how) to use the
            signal-processing inverse; the network spec (its weights already in ``runner``); why there is none.
        runner: the loaded network, or ``None``.

    Raises:
        ValueError: unknown effect, or ``dsp`` asked for an effect that has no signal-processing inverse.
    """
    if name not in EFFECT_NAMES:
        raise ValueError(f"unknown effect {name!r}; the catalog has {', '.join(EFFECT_NAMES)}")
    use_dsp = entry.get("dsp", False)
    options = dict(use_dsp) if isinstance(use_dsp, Mapping) else {}
    if use_dsp:
        if name in ParametricRemoval._INVERSES:
            return ParametricRemoval(name, runner)
        if name == "distortion":
            return DistortionRemoval(**options)
        if name == "delay":
            return DelayRemoval(**options)
        raise ValueError(f"{name} has no signal-processing inverse; give it a network")
    if runner is not None:
        return NeuralRemoval(name, runner)
    return PassThrough(name, entry.get("note") or f"the model has no remover for {name}")
