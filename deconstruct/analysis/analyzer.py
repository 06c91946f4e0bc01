"""The analysis stage: a load-once :class:`EffectAnalyzer` and the one-shot :func:`analyze`.

For one stem (any rate, mono or stereo) the analyzer reports every catalog effect, in catalog order, with the
probability that it is present and, for the detected ones, its parameters in physical units (the reverb also
with RT60 in s and DRR in dB, see :mod:`deconstruct.analysis.reverb`).

How a stem is analysed:

1. channels are averaged to mono and resampled to the model's rate;
2. the stem is cut into windows of the model's length (3 s by default) every ``hop_s`` (half a window), the last
   one aligned to the end; silent windows are left out (:mod:`deconstruct.analysis.windows`);
3. each window's feature views (:mod:`deconstruct.analysis.features`) go through the network;
4. aggregation: the effect logits are averaged over the active windows and passed through the sigmoid; the
   normalised parameters take the median over the active windows, then map to physical units;
5. decisions (:mod:`deconstruct.analysis.decisions`): each effect is "detected", "unsure" or "absent"; parameters
   are reported for the detected and unsure ones; an EQ under 1 dB is absent; compressor and limiter thresholds
   are also given relative to the stem's active RMS level (``threshold_rel_db``).

A stem shorter than :data:`MIN_DURATION_S`, or without any window above the silence level, gives
"nothing detectable": every probability 0, no parameters, and :attr:`StemAnalysis.reason` saying why.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch

from deconstruct.analysis.calibration import Calibration
from deconstruct.analysis.decisions import ActiveLevel, active_rms_db, eq_veto, relative_thresholds, unsure_bounds
from deconstruct.analysis.features import EffectFeatures, FeatureConfig
from deconstruct.analysis.layout import output_names, physical_params
from deconstruct.analysis.windows import (
    RELATIVE_FLOOR_DB,
    SILENCE_DB,
    active_windows,
    cut_windows,
    rms_db,
    window_starts,
)
from deconstruct.audio import Audio, resample
from deconstruct.effects.catalog import DEFAULT_THRESHOLD, EFFECT_NAMES, EffectEstimate
from deconstruct.errors import InputError, ModelError
from deconstruct.models.effect_nets import build_effect_net
from deconstruct.models.loading import check_finite_output, load_network
from deconstruct.models.registry import ResolvedModel, resolve
from deconstruct.devices import pick_device

if TYPE_CHECKING:
    from deconstruct.streaming import BlockReader

__all__ = ["MIN_DURATION_S", "EffectAnalyzer", "NetworkOutputs", "StemAnalysis", "analyze"]

MIN_DURATION_S = 0.5
"""Shorter stems are too short to analyse."""

Threshold = float | Mapping[str, float] | None


@dataclass(frozen=True)
class StemAnalysis:
    """What the analysis found on one stem.

    Attributes:
        estimates: one :class:`~deconstruct.effects.catalog.EffectEstimate` per catalog effect, in catalog order.
        reason: why nothing is detectable (too short, silent), or ``None`` when the stem was analysed.
        windows: the number of windows that were analysed (active windows).
        duration_s: the stem's duration.

    Iterating, ``len`` and indexing (by position or effect name) go through :attr:`estimates`.
    """

    estimates: tuple[EffectEstimate, ...]
    reason: str | None = None
    windows: int = 0
    duration_s: float = 0.0
    _by_name: dict[str, EffectEstimate] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        names = tuple(e.name for e in self.estimates)
        if names != EFFECT_NAMES:
            raise ValueError(f"a stem analysis holds every catalog effect in order ({', '.join(EFFECT_NAMES)})")
        object.__setattr__(self, "_by_name", {e.name: e for e in self.estimates})

    @property
    def detectable(self) -> bool:
        """False when the stem was too short or silent to analyse."""
        return self.reason is None

    @property
    def detected(self) -> list[EffectEstimate]:
        """The estimates at or above their threshold, in catalog order."""
        return [e for e in self.estimates if e.detected]

    def __iter__(self) -> Iterator[EffectEstimate]:
        return iter(self.estimates)

    def __len__(self) -> int:
        return len(self.estimates)

    def __getitem__(self, key: int | str) -> EffectEstimate:
        if isinstance(key, str):
            if key not in self._by_name:
                raise KeyError(f"unknown effect {key!r}; the catalog has {', '.join(EFFECT_NAMES)}")
            return self._by_name[key]
        return self.estimates[key]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: ``detectable``, ``reason``, ``windows``, ``duration_s`` and ``effects``."""
        return {"detectable": self.detectable, "reason": self.reason, "windows": self.windows,
                "duration_s": self.duration_s, "effects": [e.to_dict() for e in self.estimates]}


@dataclass(frozen=True)
class NetworkOutputs:
    """A stem's network outputs aggregated over its active windows.

    Attributes:
        probabilities: ``[effects]`` sigmoid of the mean logit over active windows, through the checkpoint's
            calibration when it has one (:mod:`deconstruct.analysis.calibration`); zeros when nothing detectable.
        params: ``[len(output_names())]`` median normalised parameters over active windows (empty when nothing
            detectable).
        windows: active windows analysed.
        duration_s: the stem's duration.
        reason: why nothing is detectable, else ``None``.
    """

    probabilities: torch.Tensor
    params: torch.Tensor
    windows: int
    duration_s: float
    reason: str | None = None

    @classmethod
    def nothing(cls, reason: str, duration_s: float) -> "NetworkOutputs":
        return cls(torch.zeros(len(EFFECT_NAMES)), torch.zeros(0), 0, duration_s, reason)


def _thresholds(choice: Threshold, tuned: Mapping[str, float]) -> dict[str, float]:
    """Per-effect thresholds: ``None`` → the checkpoint's tuned ones (0.5 where it has none)."""
    if choice is None:
        base = {name: float(tuned.get(name, DEFAULT_THRESHOLD)) for name in EFFECT_NAMES}
    elif isinstance(choice, Mapping):
        unknown = set(choice) - set(EFFECT_NAMES)
        if unknown:
            raise InputError(f"thresholds for unknown effects {', '.join(sorted(unknown))}; "
                             f"the catalog has {', '.join(EFFECT_NAMES)}")
        base = {name: float(choice.get(name, tuned.get(name, DEFAULT_THRESHOLD))) for name in EFFECT_NAMES}
    else:
        base = {name: float(choice) for name in EFFECT_NAMES}
    bad = {name: value for name, value in base.items() if not 0.0 <= value <= 1.0}
    if bad:
        raise InputError(f"thresholds must lie in [0, 1], got {bad}")
    return base


class EffectAnalyzer:
    """Estimates which catalog effects a stem carries, and their parameters.

    Args:
        model: a shipped model name, a checkpoint path, or ``None`` for the default analysis model.
        device: ``"cpu"``, ``"cuda"`` or ``None`` (CUDA when available).
        threshold: detection threshold: ``None`` for the per-effect thresholds tuned on training-side validation
            and stored in the checkpoint, a float for every effect, or a per-effect mapping (effects it leaves out
            keep their tuned threshold).
        hop_s: hop between analysis windows, s (``None``: the checkpoint's, half a window by default).
        batch_size: windows per forward pass.

    Raises:
        ModelError: the model cannot be found or is not an analysis model.
        InputError: bad thresholds or device.
    """

    def __init__(self, model: str | os.PathLike | None = None, device: str | None = None,
                 threshold: Threshold = None, hop_s: float | None = None, batch_size: int = 16) -> None:
        self.resolved: ResolvedModel = resolve("analysis", model)
        config = self.resolved.config
        if list(config.get("effects", [])) != list(EFFECT_NAMES) or config.get("param_names") != output_names():
            raise ModelError(f"{self.resolved.name}: trained for another effect catalog; retrain or update it")
        try:
            self.feature_config = FeatureConfig.from_dict(config["features"])
        except (KeyError, TypeError, ValueError) as error:
            raise ModelError(f"{self.resolved.name}: unusable feature settings ({error}); retrain or update it"
                             ) from None
        self.sample_rate = self.feature_config.sample_rate
        self.window = self.feature_config.window_samples
        hop_s = float(config.get("hop_s", self.feature_config.window_s / 2) if hop_s is None else hop_s)
        if hop_s <= 0:
            raise InputError(f"hop_s must be positive, got {hop_s}")
        self.hop = max(1, round(hop_s * self.sample_rate))
        self.thresholds = _thresholds(threshold, config.get("thresholds", {}))
        self.calibration = Calibration(config.get("calibration"))
        self.unsure_below = unsure_bounds(self.thresholds, config.get("unsure_below"))
        self.batch_size = int(batch_size)
        self.device = pick_device(device)
        self.features = EffectFeatures(self.feature_config).to(self.device).eval()
        self.net = load_network(self.resolved.name, build_effect_net, config, self.resolved.state_dict).to(self.device)

    @property
    def name(self) -> str:
        return self.resolved.name

    @torch.inference_mode()
    def _run(self, windows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits ``[N, effects]`` and normalised parameters ``[N, params]`` of ``[N, window]`` windows."""
        logits, params = [], []
        for batch in windows.split(self.batch_size):
            out = self.net(self.features(batch.to(self.device)))
            logits.append(check_finite_output(out["logits"].float().cpu(), self.name, "analysis"))
            params.append(check_finite_output(out["params"].float().cpu(), self.name, "analysis"))
        return torch.cat(logits), torch.cat(params)

    def analyze(self, audio: Audio) -> StemAnalysis:
        """Analyse one stem (see the module docstring for the method).

        Args:
            audio: the stem, any rate, any channel count.

        Returns:
            A :class:`StemAnalysis` with every catalog effect in catalog order.

        Raises:
            InputError: not an :class:`~deconstruct.audio.Audio`, or non-finite samples.
        """
        if not isinstance(audio, Audio):
            raise InputError(f"analyze takes an Audio, got {type(audio).__name__}; "
                             "wrap a [channels, samples] tensor as Audio(samples, sample_rate)")
        return self.analyze_tensor(audio.samples, audio.sample_rate)

    def analyze_tensor(self, samples: torch.Tensor, sample_rate: int) -> StemAnalysis:
        """Analyse one stem given as a ``[channels, samples]`` tensor at ``sample_rate`` Hz.

        Raises:
            InputError: a tensor that is not ``[channels, samples]``, a non-positive rate, non-finite samples.
        """
        raw = self.network_outputs(samples, sample_rate)
        return self._estimates(raw, lambda: active_rms_db(samples, int(sample_rate)))

    def _estimates(self, raw: NetworkOutputs, level_db: Callable[[], float]) -> StemAnalysis:
        """Thresholds, decisions and physical units applied to aggregated network outputs.

        Args:
            level_db: gives the stem's active RMS level (dBFS); called only when the stem was analysed.
        """
        if raw.reason is not None:
            estimates = tuple(EffectEstimate(name, 0.0, {}, self.thresholds[name], self.unsure_below[name])
                              for name in EFFECT_NAMES)
            return StemAnalysis(estimates, reason=raw.reason, windows=0, duration_s=raw.duration_s)
        return StemAnalysis(self.decide(raw.probabilities, raw.params, level_db()),
                            reason=None, windows=raw.windows, duration_s=raw.duration_s)

    def decide(self, probabilities: torch.Tensor, params: torch.Tensor, level_db: float
               ) -> tuple[EffectEstimate, ...]:
        """Estimates with decisions from aggregated network outputs (:mod:`deconstruct.analysis.decisions`).

        Parameters are read out for the detected and the unsure effects; an EQ under 1 dB is vetoed; compressor
        and limiter thresholds gain ``threshold_rel_db`` (re the stem's active RMS ``level_db``, dBFS).

        Shape:
            probabilities: ``[effects]``; params: ``[len(output_names())]`` normalised.
        """
        normalised = params.tolist()
        estimates = []
        for index, name in enumerate(EFFECT_NAMES):
            probability, threshold = float(probabilities[index]), self.thresholds[name]
            found, veto = {}, None
            if probability >= self.unsure_below[name]:
                found = relative_thresholds(name, physical_params(name, normalised), level_db)
                veto = eq_veto(found) if name == "eq" else None
            estimates.append(EffectEstimate(name, probability, found, threshold, self.unsure_below[name], veto))
        return tuple(estimates)

    def probabilities(self, logits: torch.Tensor) -> torch.Tensor:
        """Stem probabilities from window logits: sigmoid of the mean, then the calibration.

        Shape:
            logits: ``[windows, effects]`` → ``[effects]``.
        """
        return self.calibration(torch.sigmoid(logits.mean(dim=0)))

    def network_outputs(self, samples: torch.Tensor, sample_rate: int) -> NetworkOutputs:
        """The aggregated network outputs of a stem, before thresholds and units (evaluation reads these).

        Args:
            samples: ``[channels, samples]`` float tensor.
            sample_rate: its rate, Hz.

        Raises:
            InputError: as :meth:`analyze_tensor`.
        """
        if not isinstance(samples, torch.Tensor) or samples.dim() != 2:
            shape = tuple(samples.shape) if hasattr(samples, "shape") else type(samples).__name__
            raise InputError(f"a stem must be a [channels, samples] tensor, got {shape}; "
                             "add a channel axis to mono audio (x[None]) and analyse batches one stem at a time")
        if int(sample_rate) <= 0:
            raise InputError(f"sample_rate must be positive, got {sample_rate}")
        duration_s = samples.shape[-1] / int(sample_rate)
        if not bool(torch.isfinite(samples).all()):
            raise InputError("the stem holds NaN or infinite samples; repair it before analysis")
        if duration_s < MIN_DURATION_S:
            return NetworkOutputs.nothing(f"too short: {duration_s:.2f} s, at least {MIN_DURATION_S} s needed",
                                          duration_s)
        mono = resample(samples.float().mean(dim=0), int(sample_rate), self.sample_rate)
        windows = cut_windows(mono, self.window, self.hop)
        active = active_windows(windows)
        if not bool(active.any()):
            loudest = float(rms_db(windows).max())
            level = "digital silence" if math.isinf(loudest) else f"{loudest:.1f} dBFS"
            return NetworkOutputs.nothing(f"silent: loudest window {level}, below {SILENCE_DB:g} dBFS", duration_s)
        logits, params = self._run(windows[active])
        return NetworkOutputs(self.probabilities(logits), params.median(dim=0).values, int(active.sum()), duration_s)

    def analyze_reader(self, reader: "BlockReader", progress: Callable[[int], None] | None = None,
                       windows_per_read: int = 64) -> StemAnalysis:
        """Analyse one stem read block by block (a long stem file never held whole): as :meth:`analyze`.

        Windows are read ``windows_per_read`` at a time (resampled to the model's rate on the way,
        :class:`~deconstruct.streaming.ResampledReader`); the network runs on those at or above
        :data:`~deconstruct.analysis.windows.SILENCE_DB`, and the relative floor is applied at the end over every
        window's level, so the result is the whole-stem one.

        Args:
            reader: a :class:`~deconstruct.streaming.BlockReader` of ``[channels, samples]`` blocks.
            progress: called with the number of input samples analysed after each read.
            windows_per_read: windows per read (memory: about ``windows_per_read`` × 3 s of audio).
        """
        from deconstruct.streaming import ResampledReader

        duration_s = reader.num_samples / reader.sample_rate
        if duration_s < MIN_DURATION_S:
            return self._estimates(NetworkOutputs.nothing(
                f"too short: {duration_s:.2f} s, at least {MIN_DURATION_S} s needed", duration_s), lambda: math.nan)
        source = ResampledReader(reader, self.sample_rate)
        starts = window_starts(source.num_samples, self.window, self.hop)
        levels, kept_logits, kept_params, kept_levels = [], [], [], []
        done = 0
        for first in range(0, len(starts), windows_per_read):
            group = starts[first:first + windows_per_read]
            span = source.read(group[0], min(group[-1] + self.window, source.num_samples))
            mono = span.float().mean(dim=0)
            if mono.shape[0] < group[-1] - group[0] + self.window:
                mono = torch.nn.functional.pad(mono, (0, group[-1] - group[0] + self.window - mono.shape[0]))
            windows = torch.stack([mono[s - group[0]:s - group[0] + self.window] for s in group])
            group_levels = rms_db(windows)
            levels.append(group_levels)
            loud = group_levels >= SILENCE_DB
            if bool(loud.any()):
                logits, params = self._run(windows[loud])
                kept_logits.append(logits)
                kept_params.append(params)
                kept_levels.append(group_levels[loud])
            if progress is not None:
                reached = min(reader.num_samples, round((group[-1] + self.window) * reader.sample_rate / self.sample_rate))
                progress(max(reached - done, 0))
                done = max(done, reached)
        every = torch.cat(levels)
        floor = float(every.max()) - RELATIVE_FLOOR_DB
        if not kept_levels or not bool((torch.cat(kept_levels) >= floor).any()):
            loudest = float(every.max())
            level = "digital silence" if math.isinf(loudest) else f"{loudest:.1f} dBFS"
            return self._estimates(NetworkOutputs.nothing(
                f"silent: loudest window {level}, below {SILENCE_DB:g} dBFS", duration_s), lambda: math.nan)
        active = torch.cat(kept_levels) >= floor
        logits, params = torch.cat(kept_logits)[active], torch.cat(kept_params)[active]
        return self._estimates(NetworkOutputs(self.probabilities(logits), params.median(dim=0).values,
                                              int(active.sum()), duration_s), lambda: _reader_level_db(reader))


def _reader_level_db(reader: "BlockReader", block_s: float = 30.0) -> float:
    """:func:`~deconstruct.analysis.decisions.active_rms_db` of a stem read block by block."""
    meter = ActiveLevel(reader.sample_rate, reader.channels)
    step = max(meter.block, int(block_s * reader.sample_rate) // meter.block * meter.block)
    for start in range(0, reader.num_samples, step):
        meter.update(reader.read(start, min(start + step, reader.num_samples)))
    return meter.level_db()


def analyze(audio: Audio, model: str | os.PathLike | None = None, device: str | None = None,
            threshold: Threshold = None) -> StemAnalysis:
    """One-shot analysis with a freshly loaded :class:`EffectAnalyzer`."""
    return EffectAnalyzer(model, device=device, threshold=threshold).analyze(audio)
