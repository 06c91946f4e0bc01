"""The removal stage: a load-once :class:`EffectRemover` and the one-shot :func:`remove`.

A removal model holds one remover per catalog effect (see :mod:`deconstruct.removal.effect_removers`) and undoes the
chosen effects in reverse catalog order (``limiter → reverb → delay → chorus → distortion → compressor → eq``),
since a chain applies them in catalog order. It takes the analysis stage's
:class:`~deconstruct.effects.catalog.EffectEstimate` objects (whose parameters the signal-processing inverses use)
or plain effect names.

A removal checkpoint's config::

    {"stage": "removal", "sample_rate": 44100,
     "effects": {"eq": {"dsp": true}, "reverb": {"net": {"architecture": "mask_tcn", "arch_kwargs": {...}}}, ...}}

with the networks' weights in the state dict under ``"<effect>.<parameter>"``. The built-in model ``"dsp-only"``
needs no file: signal-processing inverses only (chorus and reverb pass through).

Checks (:mod:`deconstruct.removal.checks`): with ``checks="enforce"`` (what the pipeline's safe policy uses) each
removal step is kept only when re-applying the estimated effect explains the step's input better than the
identity, and the dry estimate's loudness, RMS and peak stay within their limits of the original stem's; a
rejected step leaves its input as it was, with a note; given the analyzer (``reanalyze``), a kept removal must
also leave an effect that the analysis no longer detects on the dry estimate (re-analysis: an exact inverse always
resynthesises its input, so this is what catches a false detection). ``"record"`` measures the same checks and
keeps every step; ``"off"`` (the default of this low-level stage, which evaluation uses to measure the removers themselves) runs no
check.

Levels: compressor, limiter and distortion removals are level-preserving (a mix sets the gain after these effects
freely, so the level they were applied at is not identifiable): the inverse's output is multiplied by one scalar,
:func:`~deconstruct.removal.effect_removers.level_match_gain`, so it sits at the active RMS level of the step's
input; the gain is part of the removal, fixed before any check runs, and recorded as the step's ``level_match_db``.
A later level-preserving inverse runs on the signal with that gain divided out again (the inverses of a chain stay
exact), and the resynthesis check re-applies each effect at the level its inverse ran on
(:mod:`deconstruct.removal.checks`). EQ, delay, reverb and chorus removals keep absolute levels.

Compressor and limiter thresholds given relative to the level (``threshold_rel_db``, from the analysis) are
placed on the signal each inverse runs on: its active RMS level plus the relative threshold.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import torch

from deconstruct.audio import Audio
from deconstruct.devices import pick_device
from deconstruct.effects.level_reference import LEVEL_RELATIVE, active_rms_db
from deconstruct.effects.catalog import EFFECT_NAMES, EffectEstimate, effect_spec
from deconstruct.effects.chain import Effect
from deconstruct.errors import InputError, ModelError
from deconstruct.models.loading import load_network
from deconstruct.models.registry import ResolvedModel, default_model, resolve
from deconstruct.models.removal_nets import build_removal_net
from deconstruct.removal.checks import CheckResult, StemLevels, check_removal, measure_levels
from deconstruct.removal.effect_removers import (
    LEVEL_PRESERVING,
    PASS_THROUGH,
    EffectRemoval,
    NetRunner,
    Removal,
    build_removal,
    catalog_params,
    level_match_gain,
)

__all__ = ["CHECKS", "DSP_ONLY", "MODES", "REMOVE_POLICIES", "EffectRemover", "RemovalResult", "RemovalStep", "dsp_only_config",
           "remove"]

MODES = ("detected", "detected-or-unsure", "given", "all")
CHECKS = ("enforce", "record", "off")
REMOVE_POLICIES: dict[str, tuple[str, str] | None] = {
    "safe": ("detected", "enforce"),
    "all": ("detected-or-unsure", "record"),
    "none": None,
}
"""The pipeline's removal policies as ``(mode, checks)`` of :meth:`EffectRemover.remove` (``none``: no removal)."""
DSP_ONLY = "dsp-only"


def dsp_only_config(sample_rate: int = 44100) -> dict[str, Any]:
    """The config of the built-in model: every signal-processing inverse, no network."""
    effects: dict[str, Any] = {name: {"dsp": True} for name in ("eq", "compressor", "distortion", "delay", "limiter")}
    for name in ("chorus", "reverb"):
        effects[name] = {"dsp": False, "note": f"{name} removal needs a trained network"}
    return {"stage": "removal", "sample_rate": sample_rate, "effects": effects}


@dataclass(frozen=True)
class RemovalStep:
    """One removal step and its checks.

    Attributes:
        removal: what the remover did (method, parameters, note; a rejected step's note says why).
        kept: whether its output was kept (false for a pass-through and for a step its checks rejected).
        check: the checks' result, ``None`` when none ran (checks off, or nothing changed).
        enforced: whether a failed check meant rejection (``checks="enforce"``).
        reanalysis: the re-analysis check (``probability`` and ``decision`` of the effect on the dry estimate,
            ``passed``), ``None`` when it did not run.
    """

    removal: Removal
    kept: bool
    check: CheckResult | None = None
    enforced: bool = False
    reanalysis: Mapping[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The removal's dict with ``kept`` and ``checks`` (``null`` when none ran)."""
        checks = self.check.to_dict(self.enforced) if self.check is not None else None
        if checks is not None and self.reanalysis is not None:
            checks = {**checks, "passed": checks["passed"] and bool(self.reanalysis["passed"]),
                      "reanalysis": dict(self.reanalysis)}
        return {**self.removal.to_dict(), "kept": self.kept, "checks": checks}


@dataclass(frozen=True)
class RemovalResult:
    """The dry estimate and what was done to get it.

    Attributes:
        audio: the dry estimate, the input's rate, channel count and length (float32, never clipped); the input
            object itself when no step was kept.
        steps: the removal steps in the order tried (reverse catalog order), pass-throughs and rejections
            included.
    """

    audio: Audio
    steps: tuple[RemovalStep, ...]

    @property
    def removals(self) -> tuple[Removal, ...]:
        """Every step's :class:`Removal`, in order."""
        return tuple(step.removal for step in self.steps)

    @property
    def applied(self) -> tuple[str, ...]:
        """Names of the effects that were actually undone (pass-throughs and rejected steps left out)."""
        return tuple(step.removal.name for step in self.steps if step.kept)

    @property
    def rejected(self) -> tuple[str, ...]:
        """Names of the effects whose removal its checks rejected."""
        return tuple(step.removal.name for step in self.steps
                     if not step.kept and step.removal.method != PASS_THROUGH)

    def to_dict(self) -> list[dict[str, Any]]:
        """JSON-ready list of the steps (see :meth:`RemovalStep.to_dict`)."""
        return [step.to_dict() for step in self.steps]


def _split_state(state_dict: Mapping[str, torch.Tensor], name: str) -> dict[str, torch.Tensor]:
    prefix = f"{name}."
    return {key[len(prefix):]: value for key, value in state_dict.items() if key.startswith(prefix)}


class EffectRemover:
    """Removes catalog effects from a stem, one remover per effect, in reverse catalog order.

    Args:
        model: a shipped model name, a checkpoint path, ``"dsp-only"``, or ``None`` for the shipped default.
        device: ``"cpu"`` (the default: the networks are small) or ``"cuda"`` for the networks (signal processing
            runs on the CPU).
        chunk_s: networks run on chunks of this length (s), crossfaded, so memory stays flat for long stems.

    Raises:
        ModelError: unknown, corrupt or non-removal checkpoint, or weights that do not fit the config.
    """

    def __init__(self, model: str | os.PathLike | None = None, device: str | torch.device | None = None,
                 chunk_s: float = 30.0) -> None:
        if model is None:  # the index's removal default: dsp-only (built in) while no trained model beats it
            model = default_model("removal")
        if str(model) == DSP_ONLY:
            self.resolved = ResolvedModel(DSP_ONLY, dsp_only_config(), {}, {}, "", "built-in")
        else:
            self.resolved = resolve("removal", model)
        self.sample_rate = int(self.resolved.config.get("sample_rate", 44100))
        self.device = pick_device(device, prefer_cuda=False)  # small networks: the CPU unless asked
        self.removers = _build_removers(self.resolved, self.sample_rate, self.device, chunk_s)

    @property
    def name(self) -> str:
        return self.resolved.name

    @property
    def metrics(self) -> dict[str, Any]:
        """The metrics shipped with the model."""
        return self.resolved.metrics

    def methods(self) -> dict[str, str]:
        """How each effect is removed by this model, in words (for reports and model listings)."""
        return {name: remover.description for name, remover in self.removers.items()}

    def remove_stems(
        self,
        stems: Mapping[str, Audio],
        effects: Mapping[str, Sequence[EffectEstimate | str]],
        mode: str = "detected",
        checks: str = "off",
    ) -> dict[str, RemovalResult]:
        """:meth:`remove` on every stem with its own estimates (a stem missing from ``effects`` passes through)."""
        return {name: self.remove(audio, effects.get(name, ()), mode=mode, checks=checks)
                for name, audio in stems.items()}

    def remove(
        self,
        audio: Audio,
        effects: Sequence[EffectEstimate | str] = (),
        mode: str = "detected",
        threshold: float | Mapping[str, float] | None = None,
        checks: str = "off",
        reanalyze: Callable[[Audio], Any] | None = None,
    ) -> RemovalResult:
        """Remove effects from one stem.

        Args:
            audio: the wet stem, any rate, any channel count.
            effects: analysis estimates and/or effect names (each effect at most once). A name counts as a
                certain detection without parameters.
            mode: ``"detected"``: the confidently detected estimates (decision ``"detected"``; with ``threshold``,
                those at or above it and not vetoed), and every name; ``"detected-or-unsure"``: also the unsure
                ones; ``"given"``: every listed effect whatever its probability; ``"all"``: every catalog effect
                (the list only supplies parameters).
            threshold: overrides the estimates' thresholds in ``"detected"`` mode: one value or per effect.
            checks: ``"enforce"``: a step is kept only when it passes its checks; ``"record"``: checks measured,
                every step kept; ``"off"``: no checks (see the module docstring).
            reanalyze: with ``checks="enforce"``, the re-analysis check: the analysis of the dry estimate
                (``reanalyze(dry) -> StemAnalysis``, the pipeline's analyzer) must no longer detect an effect whose
                removal was kept; the removals it still detects are rejected and the others run again without
                them (one round: their re-analysis is that of the first dry estimate).

        Returns:
            The dry estimate and the steps tried. When no step is kept the audio passes through unchanged (the
            same object).

        Raises:
            InputError: not an :class:`Audio`, empty or non-finite audio, unknown or repeated effects, bad mode.
        """
        _check_audio(audio)
        if checks not in CHECKS:
            raise InputError(f"checks must be one of {', '.join(CHECKS)}, got {checks!r}")
        listed = _normalise_effects(effects)
        chosen = _choose(listed, mode, threshold)
        samples, rate = audio.samples, audio.sample_rate
        steps: list[RemovalStep] = []
        stem_levels: StemLevels | None = None
        carried = 1.0  # the dry estimate so far is `carried` times the chain of inverses (level-preserving steps)
        for name in reversed(EFFECT_NAMES):
            if name not in chosen:
                continue
            preserving = name in LEVEL_PRESERVING
            given = samples / carried if preserving and carried != 1.0 else samples
            estimated = dict(chosen[name].params) if isinstance(chosen[name], EffectEstimate) else {}
            params, gain, placement = _place_threshold(name, estimated, given, rate)
            out, removal = self.removers[name](given * gain if gain != 1.0 else given, rate, params)
            if removal.method != PASS_THROUGH and gain != 1.0:
                out = out / gain
            if not bool(torch.isfinite(out).all()):
                removal = Removal(name, PASS_THROUGH, removal.params, f"{removal.method} gave non-finite samples")
                out = samples
            if removal.method == PASS_THROUGH:
                steps.append(RemovalStep(removal, kept=False))
                continue
            match = 1.0
            if preserving:  # the removal's level convention, fixed before any check runs
                match = level_match_gain(samples, out, rate)
                out = out * match
                removal = replace(removal, level_match_db=20.0 * math.log10(match))
            out = out.to(torch.float32)
            effect = _effect_to_check(name, removal.params, estimated)
            recorded = _with_placement(removal, placement)
            if checks == "off":
                samples, carried = out, match if preserving else carried
                steps.append(RemovalStep(recorded, kept=True))
                continue
            stem_levels = stem_levels or measure_levels(audio.samples, rate)
            result = check_removal(stem_levels, samples, out, rate, effect, gain, level_match=match,
                                   carried=carried if preserving else 1.0)
            enforced = checks == "enforce"
            kept = result.passed or not enforced
            if not kept:
                recorded = _noted(recorded, "rejected: " + "; ".join(result.failures()) + "; the input passes "
                                  "through")
            elif not result.passed:
                recorded = _noted(recorded, "kept although it failed its checks (checks not enforced): "
                                  + "; ".join(result.failures()))
            if kept:
                samples, carried = out, match if preserving else carried
            steps.append(RemovalStep(recorded, kept, result, enforced))
        changed = any(step.kept for step in steps)
        result = RemovalResult(Audio(samples.contiguous(), rate) if changed else audio, tuple(steps))
        if checks != "enforce" or reanalyze is None or not changed:
            return result
        return self._reanalysed(result, audio, listed, mode, threshold, reanalyze)

    def _reanalysed(self, result: RemovalResult, audio: Audio, listed: dict[str, EffectEstimate | str], mode: str,
                    threshold: float | Mapping[str, float] | None, reanalyze: Callable[[Audio], Any]
                    ) -> RemovalResult:
        """The re-analysis check (see :meth:`remove`): reject the kept removals whose effect is still detected."""
        again = reanalyze(result.audio)
        outcome = {name: {"probability": round(float(again[name].probability), 4),
                          "decision": again[name].decision, "passed": again[name].decision != "detected"}
                   for name in result.applied}
        failed = [name for name, entry in outcome.items() if not entry["passed"]]
        if failed:
            remaining = [item for name, item in listed.items() if name not in failed]
            rerun = self.remove(audio, remaining, mode=mode, threshold=threshold, checks="enforce")
        else:
            rerun = result
        rejected = {step.removal.name: step for step in result.steps if step.removal.name in failed}
        steps = []
        for name in reversed(EFFECT_NAMES):
            if name in rejected:
                step = rejected[name]
                note = (f"rejected: the analysis still detects {name} on the dry estimate (probability "
                        f"{outcome[name]['probability']:.2f}); the input passes through")
                steps.append(RemovalStep(_noted(step.removal, note), False, step.check, True, outcome[name]))
                continue
            for step in rerun.steps:
                if step.removal.name == name:
                    steps.append(RemovalStep(step.removal, step.kept, step.check, step.enforced,
                                             outcome.get(name) if step.kept else None))
        return RemovalResult(rerun.audio, tuple(steps))


def _place_threshold(name: str, params: dict[str, float], samples: torch.Tensor, sample_rate: int
                     ) -> tuple[dict[str, float], float, dict[str, float]]:
    """Place a level-relative threshold (``threshold_rel_db``) on the signal the inverse runs on.

    The threshold becomes the signal's active RMS level plus the relative threshold. A compressor threshold
    outside the catalog range is reached by scaling the signal instead (the compressor is scale-equivariant):
    the inverse runs on ``samples * gain`` at the nearest in-range threshold, and its output is divided by
    ``gain``. The limiter (clipped at full scale, not scale-equivariant) takes the placed threshold as it is
    (clamped into range by its inverse).

    Returns:
        The parameters for the inverse, the gain (1 without scaling), and the placement to report (empty when
        nothing was placed).
    """
    if name not in LEVEL_RELATIVE or "threshold_rel_db" not in params:
        return params, 1.0, {}
    level = active_rms_db(samples, sample_rate)
    if not math.isfinite(level):
        return params, 1.0, {}
    relative = float(params["threshold_rel_db"])
    placed = level + relative
    placement = {"threshold_db": placed, "threshold_rel_db": relative, "level_db": level}
    if name != "compressor":
        return {**params, "threshold_db": placed}, 1.0, placement
    spec = effect_spec(name).param("threshold_db")
    inside = min(max(placed, spec.minimum), spec.maximum)
    return {**params, "threshold_db": inside}, 10.0 ** ((inside - placed) / 20.0), placement


def _with_placement(removal: Removal, placement: Mapping[str, float]) -> Removal:
    """The removal record with the placed threshold (absolute and relative) and a note on where it sits."""
    if not placement or removal.method != "dsp":
        return removal
    params = {**removal.params, "threshold_db": placement["threshold_db"],
              "threshold_rel_db": placement["threshold_rel_db"]}
    note = (f"threshold placed at {placement['threshold_db']:.1f} dBFS, {placement['threshold_rel_db']:+.1f} dB "
            f"re the signal's active RMS level {placement['level_db']:.1f} dBFS")
    return _noted(replace(removal, params=params), note)


def _noted(removal: Removal, note: str) -> Removal:
    return replace(removal, note="; ".join(n for n in (removal.note, note) if n))


def _effect_to_check(name: str, used: Mapping[str, float], estimated: Mapping[str, float]) -> Effect | None:
    """The effect to re-apply for the resynthesis check: the parameters the remover used, else the estimate's.

    ``None`` when neither is a complete catalog setting (a removal asked for by name alone).
    """
    chosen = catalog_params(name, used) if used else None
    if chosen is None and estimated:
        chosen = catalog_params(name, estimated)
    if chosen is None:
        return None
    try:
        return Effect(name, chosen)
    except ValueError:
        return None


def _build_removers(resolved: ResolvedModel, sample_rate: int, device: torch.device,
                    chunk_s: float) -> dict[str, EffectRemoval]:
    """One removal per catalog effect from a model's config and weights (every weight must be used)."""
    entries = resolved.config.get("effects", {})
    unknown = sorted(set(entries) - set(EFFECT_NAMES))
    if unknown:
        raise ModelError(f"removal model {resolved.name!r} names unknown effects: {', '.join(unknown)}")
    used: set[str] = set()
    removers = {}
    for name in EFFECT_NAMES:
        entry = entries.get(name, {})
        runner = None
        if entry.get("net"):
            state = _split_state(resolved.state_dict, name)
            net = load_network(f"{resolved.name}:{name}", lambda net_config: build_removal_net(net_config, sample_rate),
                               entry["net"], state)
            used.update(f"{name}.{key}" for key in state)
            runner = NetRunner(net, sample_rate, device, chunk_s, name=f"{resolved.name}:{name}")
        try:
            removers[name] = build_removal(name, entry, runner)
        except (ValueError, TypeError) as error:
            raise ModelError(f"removal model {resolved.name!r}: bad {name} entry ({error})") from None
    stray = sorted(set(resolved.state_dict) - used)
    if stray:
        raise ModelError(f"removal model {resolved.name!r} holds weights for no configured network: {stray[0]} ...")
    return removers


def _check_audio(audio: Audio) -> None:
    if not isinstance(audio, Audio):
        raise InputError(f"remove() takes an Audio (deconstruct.audio.Audio), got {type(audio).__name__}")
    if audio.num_samples == 0:
        raise InputError("the audio holds no samples; give at least one sample")
    if not bool(torch.isfinite(audio.samples).all()):
        raise InputError("the audio contains NaN or infinite samples; repair it before removing effects")


def _normalise_effects(effects: Sequence[EffectEstimate | str]) -> dict[str, EffectEstimate | str]:
    if isinstance(effects, (str, EffectEstimate)):
        effects = [effects]
    listed: dict[str, EffectEstimate | str] = {}
    for item in effects:
        if isinstance(item, EffectEstimate):
            name = item.name
        elif isinstance(item, str):
            name = item
            if name not in EFFECT_NAMES:
                raise InputError(f"unknown effect {name!r}; the catalog has {', '.join(EFFECT_NAMES)}")
        else:
            raise InputError(f"effects must be EffectEstimate objects or effect names, got {type(item).__name__}")
        if name in listed:
            raise InputError(f"effect {name!r} is listed twice; give each effect at most once")
        listed[name] = item
    return listed


def _choose(listed: dict[str, EffectEstimate | str], mode: str,
            threshold: float | Mapping[str, float] | None) -> dict[str, EffectEstimate | str]:
    if mode not in MODES:
        raise InputError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    if mode == "all":
        return {name: listed.get(name, name) for name in EFFECT_NAMES}
    if mode == "given":
        return listed
    chosen = {}
    for name, item in listed.items():
        if isinstance(item, str):
            chosen[name] = item
            continue
        if mode == "detected-or-unsure":
            if item.decision in ("detected", "unsure"):
                chosen[name] = item
            continue
        if item.veto is not None:
            continue
        if threshold is None:
            limit = item.threshold
        elif isinstance(threshold, Mapping):
            limit = float(threshold.get(name, item.threshold))
        else:
            limit = float(threshold)
        if not 0.0 <= limit <= 1.0 or math.isnan(limit):
            raise InputError(f"threshold must lie in [0, 1], got {limit}")
        if item.probability >= limit:
            chosen[name] = item
    return chosen


def remove(
    audio: Audio,
    effects: Sequence[EffectEstimate | str] = (),
    mode: str = "detected",
    model: str | os.PathLike | None = None,
    device: str | None = None,
    checks: str = "off",
) -> RemovalResult:
    """One-shot removal with a freshly loaded :class:`EffectRemover` (see :meth:`EffectRemover.remove`)."""
    return EffectRemover(model, device=device).remove(audio, effects, mode=mode, checks=checks)
