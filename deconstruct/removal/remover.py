"""The removal stage: a load-once :class:`EffectRemover` and the one-shot :func:`remove`.

A removal model holds one remover per catalog effect (see :mod:`deconstruct.removal.removers`) and undoes the
chosen effects in reverse catalog order (``limiter → reverb → delay → chorus → distortion → compressor → eq``),
since a chain applies them in catalog order. It takes the analysis stage's
:class:`~deconstruct.effects.catalog.EffectEstimate` objects (whose parameters the signal-processing inverses use)
or plain effect names.

A removal checkpoint's config::

    {"stage": "removal", "sample_rate": 44100,
     "effects": {"eq": {"dsp": true}, "reverb": {"net": {"architecture": "mask_tcn", "arch_kwargs": {...}}}, ...}}

with the networks' weights in the state dict under ``"<effect>.<parameter>"``. The built-in model ``"dsp-only"``
needs no file: signal-processing inverses only (chorus and reverb pass through).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from deconstruct.audio import Audio
from deconstruct.devices import pick_device
from deconstruct.effects.catalog import EFFECT_NAMES, EffectEstimate
from deconstruct.errors import InputError, ModelError
from deconstruct.models.registry import ResolvedModel, resolve
from deconstruct.models.removal_nets import build_removal_net
from deconstruct.removal.removers import PASS_THROUGH, EffectRemoval, NetRunner, Removal, build_removal

__all__ = ["DSP_ONLY", "MODES", "EffectRemover", "RemovalResult", "dsp_only_config", "remove"]

MODES = ("detected", "given", "all")
DSP_ONLY = "dsp-only"


def dsp_only_config(sample_rate: int = 44100) -> dict[str, Any]:
    """The config of the built-in model: every signal-processing inverse, no network."""
    effects: dict[str, Any] = {name: {"dsp": True} for name in ("eq", "compressor", "distortion", "delay", "limiter")}
    for name in ("chorus", "reverb"):
        effects[name] = {"dsp": False, "note": f"{name} removal needs a trained network"}
    return {"stage": "removal", "sample_rate": sample_rate, "effects": effects}


@dataclass(frozen=True)
class RemovalResult:
    """The dry estimate and what was done to get it.

    Attributes:
        audio: the dry estimate, the input's rate, channel count and length (float32, never clipped).
        removals: the removals in the order applied (reverse catalog order), pass-throughs included.
    """

    audio: Audio
    removals: tuple[Removal, ...]

    @property
    def applied(self) -> tuple[str, ...]:
        """Names of the effects that were actually undone (pass-throughs left out)."""
        return tuple(r.name for r in self.removals if r.method != PASS_THROUGH)

    def to_dict(self) -> list[dict[str, Any]]:
        """JSON-ready list of the removals."""
        return [r.to_dict() for r in self.removals]


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
        if model is not None and str(model) == DSP_ONLY:
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
    ) -> dict[str, RemovalResult]:
        """:meth:`remove` on every stem with its own estimates (a stem missing from ``effects`` passes through)."""
        return {name: self.remove(audio, effects.get(name, ()), mode=mode) for name, audio in stems.items()}

    def remove(
        self,
        audio: Audio,
        effects: Sequence[EffectEstimate | str] = (),
        mode: str = "detected",
        threshold: float | Mapping[str, float] | None = None,
    ) -> RemovalResult:
        """Remove effects from one stem.

        Args:
            audio: the wet stem, any rate, any channel count.
            effects: analysis estimates and/or effect names (each effect at most once). A name counts as a
                certain detection without parameters.
            mode: ``"detected"``: the estimates at or above their threshold, and every name; ``"given"``: every
                listed effect whatever its probability; ``"all"``: every catalog effect (the list only supplies
                parameters).
            threshold: overrides the estimates' thresholds in ``"detected"`` mode: one value or per effect.

        Returns:
            The dry estimate and the removals applied. With nothing to remove the audio passes through unchanged
            (the same samples).

        Raises:
            InputError: not an :class:`Audio`, empty or non-finite audio, unknown or repeated effects, bad mode.
        """
        _check_audio(audio)
        listed = _normalise_effects(effects)
        chosen = _choose(listed, mode, threshold)
        samples = audio.samples
        removals = []
        for name in reversed(EFFECT_NAMES):
            if name not in chosen:
                continue
            params = chosen[name].params if isinstance(chosen[name], EffectEstimate) else {}
            out, removal = self.removers[name](samples, audio.sample_rate, params)
            if not bool(torch.isfinite(out).all()):
                removal = Removal(name, PASS_THROUGH, removal.params, f"{removal.method} gave non-finite samples")
                out = samples
            samples = out.to(torch.float32)
            removals.append(removal)
        return RemovalResult(Audio(samples.contiguous(), audio.sample_rate) if removals else audio, tuple(removals))


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
            net = build_removal_net(entry["net"], sample_rate)
            state = _split_state(resolved.state_dict, name)
            try:
                net.load_state_dict(state, strict=True)
            except RuntimeError as error:
                raise ModelError(f"removal model {resolved.name!r}: the {name} weights do not fit its config "
                                 f"({str(error).splitlines()[0]})") from None
            used.update(f"{name}.{key}" for key in state)
            runner = NetRunner(net, sample_rate, device, chunk_s)
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
) -> RemovalResult:
    """One-shot removal with a freshly loaded :class:`EffectRemover` (see :meth:`EffectRemover.remove`)."""
    return EffectRemover(model, device=device).remove(audio, effects, mode=mode)
