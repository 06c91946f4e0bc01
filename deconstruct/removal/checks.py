"""Checks a removal must pass to be kept: analysis by synthesis, level, peaks. Block-wise, with running sums.

A removal step takes a signal ``x`` (the stem, with the effects later in the chain already undone) to a dry
estimate ``y``. It is kept (under the safe policy) only when all three checks pass:

(a) **resynthesis**: re-applying the estimated effect to ``y`` (``r = effect(y)``, the catalog renderer with the
    estimated parameters) explains ``x`` better than the identity does. Both are measured as a multi-resolution
    magnitude-spectrogram SNR in dB (phase-insensitive, so modulated and reverberant effects count fairly)::

        SNR(x, z) = 10 log10( sum |X|^2 / sum (|X| - |Z|)^2 )

    where ``|X|``, ``|Z|`` are STFT magnitudes (Hann windows of :data:`FFT_SIZES` samples, hop a quarter window,
    per channel, frames within :data:`BLOCK_S`-second blocks), and the sums run over every resolution, channel,
    frame and bin. The identity error is ``SNR(x, y)`` (the dry estimate taken as the stem), the resynthesis error
    ``SNR(x, r)``. The check passes when ``SNR(x, r) - SNR(x, y) >=`` :data:`RESYNTHESIS_MARGIN_DB` (3 dB). The
    waveform SNRs (same formula on samples) are recorded beside it for information.
(b) **level**: the dry estimate's integrated loudness (ITU-R BS.1770, gated) and RMS (all channels and samples)
    are within :data:`LOUDNESS_LIMIT_LU` (3 LU) and :data:`RMS_LIMIT_DB` (3 dB) of the *original stem's*, so
    successive removals cannot drift further between them. Silence is floored (RMS at -120 dBFS, loudness at
    -70 LUFS) so a change is always a number.
(c) **peak**: the dry estimate's sample peak is at most the stem's own peak + :data:`PEAK_MARGIN_DB` (3 dB).

Levels are never renormalised to pass a check. Compressor, limiter and distortion removals are level-preserving by
definition (:mod:`deconstruct.removal.effect_removers`): the inverse's output ``u`` is returned as ``y = g u`` at the
step input's active RMS level, with ``g`` fixed before any check runs; and a step after such a removal runs its
inverse on ``x / c``, ``c`` being the gain the earlier level-preserving steps left on the signal. The resynthesis is
then ``r = c · effect(y / g)`` (the effect re-applied to exactly what the inverse produced, at the level it ran on),
so an exact inverse still resynthesises its input exactly; the identity ``y`` is compared at the matched level. Every statistic is a running sum over blocks, so the checks
hold no more than a block of any signal: :class:`LevelAccumulator` and :class:`RemovalCheck` take blocks (the
streaming pipeline feeds them), :func:`measure_levels` and :func:`check_removal` take whole tensors.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from deconstruct.effects.chain import Effect
from deconstruct.streaming import LevelMeter

__all__ = [
    "BLOCK_S",
    "FFT_SIZES",
    "LOUDNESS_FLOOR_LUFS",
    "LOUDNESS_LIMIT_LU",
    "PEAK_MARGIN_DB",
    "PERFECT_SNR_DB",
    "RESYNTHESIS_MARGIN_DB",
    "RMS_FLOOR_DB",
    "RMS_LIMIT_DB",
    "CheckResult",
    "LevelAccumulator",
    "RemovalCheck",
    "Resynthesizer",
    "StemLevels",
    "check_removal",
    "measure_levels",
]

RESYNTHESIS_MARGIN_DB = 3.0
"""Re-applying the effect must beat the identity by this much (magnitude SNR, dB)."""
LOUDNESS_LIMIT_LU = 3.0
"""The dry estimate's integrated loudness may move by at most this much from the stem's, LU."""
RMS_LIMIT_DB = 3.0
"""The dry estimate's RMS may move by at most this much from the stem's, dB."""
PEAK_MARGIN_DB = 3.0
"""The dry estimate's sample peak may exceed the stem's own peak by at most this much, dB."""
RMS_FLOOR_DB = -120.0
"""RMS and peak of digital silence, dBFS (so every change is finite)."""
LOUDNESS_FLOOR_LUFS = -70.0
"""Loudness of silence or audio below BS.1770's absolute gate, LUFS."""
BLOCK_S = 10.0
"""Block length of the whole-tensor functions, s."""
FFT_SIZES = (256, 1024, 4096)
"""STFT sizes of the magnitude SNR (short for transients and echoes, long for pitch and reverb)."""
PERFECT_SNR_DB = 200.0
"""An SNR with no error at all is reported as this (JSON has no infinity)."""


def _db(power: float, floor: float = RMS_FLOOR_DB) -> float:
    return max(10.0 * math.log10(power), floor) if power > 0 else floor


@dataclass(frozen=True)
class StemLevels:
    """Integrated loudness (LUFS), RMS (dBFS, all channels and samples) and sample peak (dBFS), floored."""

    loudness_lufs: float
    rms_db: float
    peak_dbfs: float

    def to_dict(self) -> dict[str, float]:
        return {"loudness_lufs": round(self.loudness_lufs, 2), "rms_db": round(self.rms_db, 2),
                "peak_dbfs": round(self.peak_dbfs, 2)}


class LevelAccumulator:
    """Running loudness, RMS and peak of a ``[channels, n]`` signal fed block by block."""

    def __init__(self, sample_rate: int, channels: int) -> None:
        self.meter = LevelMeter(int(sample_rate), int(channels))
        self._energy, self._count = 0.0, 0

    def update(self, block: torch.Tensor) -> None:
        """Add the next ``[channels, n]`` block."""
        self.meter.update(block)
        self._energy += float(block.detach().to(torch.float64).square().sum())
        self._count += block.numel()

    def levels(self) -> StemLevels:
        loudness = self.meter.loudness_lufs()
        peak = self.meter.peak_dbfs()
        return StemLevels(max(loudness, LOUDNESS_FLOOR_LUFS) if math.isfinite(loudness) else LOUDNESS_FLOOR_LUFS,
                          _db(self._energy / self._count) if self._count else RMS_FLOOR_DB,
                          max(peak, RMS_FLOOR_DB) if math.isfinite(peak) else RMS_FLOOR_DB)


def _blocks(length: int, sample_rate: int, block_s: float = BLOCK_S) -> range:
    return range(0, length, max(1, int(block_s * sample_rate)))


def measure_levels(samples: torch.Tensor, sample_rate: int, block_s: float = BLOCK_S) -> StemLevels:
    """:class:`StemLevels` of a ``[channels, samples]`` tensor, block by block."""
    accumulator = LevelAccumulator(sample_rate, samples.shape[0])
    step = max(1, int(block_s * sample_rate))
    for start in _blocks(samples.shape[-1], sample_rate, block_s):
        accumulator.update(samples[:, start:start + step])
    return accumulator.levels()


class Resynthesizer:
    """Renders one effect block by block with carried state (pedalboard, ``reset=False``).

    Args:
        effect: the effect setting (catalog ranges; reverb rendered algorithmically).
        sample_rate: Hz.
        channels: channel count; mono and stereo go through one processor, more channels one each (as
            :func:`deconstruct.effects.render.render_chain` does).
        gain: the block is multiplied by ``gain`` before the effect and divided after (a compressor threshold
            placed outside the catalog range is rendered on a scaled signal: the compressor is scale-equivariant).
        level_match: the level-preserving removal's gain ``g`` (the block is divided by it before the effect).
        carried: the gain ``c`` earlier level-preserving steps left on the step's input (the render is multiplied
            by it), so ``r = c · effect(block / g)``.
    """

    def __init__(self, effect: Effect, sample_rate: int, channels: int, gain: float = 1.0,
                 level_match: float = 1.0, carried: float = 1.0) -> None:
        import pedalboard

        from deconstruct.effects.render import pedalboard_plugins

        groups = [list(range(channels))] if channels <= 2 else [[c] for c in range(channels)]
        self.boards = [(group, pedalboard.Pedalboard(pedalboard_plugins(effect))) for group in groups]
        self.sample_rate, self.gain = float(sample_rate), float(gain)
        self.before, self.after = float(gain) / float(level_match), float(carried) / float(gain)

    def __call__(self, block: torch.Tensor) -> torch.Tensor:
        """Shape: ``[channels, n]`` → same (float32)."""
        audio = block.detach().cpu().numpy().astype(np.float32) * np.float32(self.before)
        out = np.empty_like(audio)
        for group, board in self.boards:
            part = np.ascontiguousarray(audio[group])
            length = part.shape[-1]
            padded = np.pad(part, ((0, 0), (0, max(0, part.shape[0] + 1 - length))))  # never guess the layout
            out[group] = board(padded, self.sample_rate, reset=False)[:, :length]
        return torch.from_numpy(out * np.float32(self.after))


class _SpectralSums:
    """Running sums of the magnitude SNRs of two estimates against one reference (see the module docstring)."""

    def __init__(self) -> None:
        self.reference, self.errors = 0.0, [0.0, 0.0]

    def update(self, reference: torch.Tensor, estimates: tuple[torch.Tensor, ...]) -> None:
        length = reference.shape[-1]
        for size in FFT_SIZES:
            if length < size:
                continue
            window = torch.hann_window(size)

            def magnitude(x: torch.Tensor) -> torch.Tensor:
                return torch.stft(x.to(torch.float32), size, size // 4, window=window, center=False,
                                  return_complex=True).abs()

            ref = magnitude(reference)
            self.reference += float(ref.square().sum())
            for index, estimate in enumerate(estimates):
                self.errors[index] += float((ref - magnitude(estimate)).square().sum())


def _snr_db(reference: float, error: float) -> float:
    """SNR in dB, capped at :data:`PERFECT_SNR_DB`; ``-inf`` for a silent reference (nothing to explain)."""
    if reference <= 0:
        return -math.inf
    return min(10.0 * math.log10(reference / error), PERFECT_SNR_DB) if error > 0 else PERFECT_SNR_DB


@dataclass(frozen=True)
class CheckResult:
    """The checks of one removal step.

    Attributes:
        resynthesis: ``identity_snr_db``, ``resynthesis_snr_db``, ``improvement_db`` (magnitude SNRs),
            ``waveform_identity_snr_db``, ``waveform_resynthesis_snr_db``, ``margin_db``, ``passed``; or
            ``{"passed": False, "note": ...}`` when the effect could not be re-applied.
        levels: stem and dry :class:`StemLevels` with the changes and limits, and ``passed`` per check.
        passed: all checks passed.
    """

    resynthesis: Mapping[str, Any]
    levels: Mapping[str, Any]
    passed: bool

    def failures(self) -> list[str]:
        """One phrase per failed check (for the note of a rejected removal)."""
        out = []
        if not self.resynthesis.get("passed"):
            note = self.resynthesis.get("note")
            gain = self.resynthesis.get("improvement_db")
            out.append(note or f"re-applying the effect beats the identity by "
                               f"{'nothing' if gain is None else f'{gain:+.1f} dB'} "
                               f"(needs {self.resynthesis['margin_db']:g} dB)")
        lv = self.levels
        if not lv["loudness"]["passed"]:
            out.append(f"loudness moves {lv['loudness']['change_lu']:+.1f} LU (limit {LOUDNESS_LIMIT_LU:g} LU)")
        if not lv["rms"]["passed"]:
            out.append(f"RMS moves {lv['rms']['change_db']:+.1f} dB (limit {RMS_LIMIT_DB:g} dB)")
        if not lv["peak"]["passed"]:
            out.append(f"peak {lv['peak']['dry_dbfs']:.1f} dBFS exceeds the stem's {lv['peak']['stem_dbfs']:.1f} "
                       f"dBFS by more than {PEAK_MARGIN_DB:g} dB")
        return out

    def to_dict(self, enforced: bool) -> dict[str, Any]:
        """JSON-ready: ``passed``, ``enforced`` (whether failing meant rejection), ``resynthesis``, levels."""
        return {"passed": self.passed, "enforced": enforced, "resynthesis": dict(self.resynthesis),
                **{key: dict(value) for key, value in self.levels.items()}}


def _round(value: float, digits: int = 2) -> float | None:
    """Rounded, or ``None`` for an undefined value (the SNR of a silent stem: JSON has no infinity)."""
    return round(value, digits) if math.isfinite(value) else None


class RemovalCheck:
    """The checks of one removal step, fed block by block.

    Args:
        stem: the original stem's levels (:func:`measure_levels` or a :class:`LevelAccumulator`).
        sample_rate: Hz.
        channels: channel count.
        resynthesizer: renders the estimated effect (``None``: it cannot be re-applied, check (a) fails).
    """

    def __init__(self, stem: StemLevels, sample_rate: int, channels: int,
                 resynthesizer: Resynthesizer | None) -> None:
        self.stem, self.resynthesizer = stem, resynthesizer
        self.dry = LevelAccumulator(sample_rate, channels)
        self.spectral = _SpectralSums()
        self.waveform = [0.0, 0.0, 0.0]  # sum x^2, sum (x - y)^2, sum (x - r)^2

    def update(self, before: torch.Tensor, after: torch.Tensor) -> None:
        """Add the next block of the step's input ``before`` and output ``after`` (``[channels, n]`` each)."""
        self.dry.update(after)
        if self.resynthesizer is None:
            return
        before64, after64 = before.to(torch.float64), after.to(torch.float64)
        resynthesis = self.resynthesizer(after).to(torch.float64)
        self.waveform[0] += float(before64.square().sum())
        self.waveform[1] += float((before64 - after64).square().sum())
        self.waveform[2] += float((before64 - resynthesis).square().sum())
        self.spectral.update(before64, (after64, resynthesis))

    def result(self) -> CheckResult:
        resynthesis = self._resynthesis()
        levels = self._levels()
        passed = bool(resynthesis["passed"]) and all(entry["passed"] for entry in levels.values())
        return CheckResult(resynthesis, levels, passed)

    def _resynthesis(self) -> dict[str, Any]:
        if self.resynthesizer is None:
            return {"passed": False, "note": "the effect's parameters are unknown: it cannot be re-applied"}
        identity = _snr_db(self.spectral.reference, self.spectral.errors[0])
        resynthesis = _snr_db(self.spectral.reference, self.spectral.errors[1])
        improvement = resynthesis - identity if math.isfinite(identity) else -math.inf  # silent: nothing to explain
        return {"measure": "multi-resolution magnitude SNR", "identity_snr_db": _round(identity),
                "resynthesis_snr_db": _round(resynthesis), "improvement_db": _round(improvement),
                "waveform_identity_snr_db": _round(_snr_db(self.waveform[0], self.waveform[1])),
                "waveform_resynthesis_snr_db": _round(_snr_db(self.waveform[0], self.waveform[2])),
                "margin_db": RESYNTHESIS_MARGIN_DB, "passed": bool(improvement >= RESYNTHESIS_MARGIN_DB)}

    def _levels(self) -> dict[str, dict[str, Any]]:
        dry, stem = self.dry.levels(), self.stem
        loudness = dry.loudness_lufs - stem.loudness_lufs
        rms = dry.rms_db - stem.rms_db
        return {
            "loudness": {"stem_lufs": _round(stem.loudness_lufs), "dry_lufs": _round(dry.loudness_lufs),
                         "change_lu": _round(loudness), "limit_lu": LOUDNESS_LIMIT_LU,
                         "passed": abs(loudness) <= LOUDNESS_LIMIT_LU},
            "rms": {"stem_db": _round(stem.rms_db), "dry_db": _round(dry.rms_db), "change_db": _round(rms),
                    "limit_db": RMS_LIMIT_DB, "passed": abs(rms) <= RMS_LIMIT_DB},
            "peak": {"stem_dbfs": _round(stem.peak_dbfs), "dry_dbfs": _round(dry.peak_dbfs),
                     "limit_dbfs": _round(stem.peak_dbfs + PEAK_MARGIN_DB),
                     "passed": dry.peak_dbfs <= stem.peak_dbfs + PEAK_MARGIN_DB},
        }


def check_removal(stem: StemLevels, before: torch.Tensor, after: torch.Tensor, sample_rate: int,
                  effect: Effect | None, gain: float = 1.0, block_s: float = BLOCK_S, level_match: float = 1.0,
                  carried: float = 1.0) -> CheckResult:
    """The checks of one removal step on whole tensors (iterated in blocks; see the module docstring).

    Args:
        stem: the original stem's levels.
        before: the step's input ``[channels, samples]``.
        after: its output, same shape.
        sample_rate: Hz.
        effect: the estimated effect to re-apply, or ``None`` when it cannot be.
        gain: see :class:`Resynthesizer`.
        block_s: block length, s.
        level_match: a level-preserving removal's gain (see :class:`Resynthesizer`).
        carried: the gain earlier level-preserving steps left on ``before`` (see :class:`Resynthesizer`).
    """
    if before.shape != after.shape or before.dim() != 2:
        raise ValueError(f"before and after must share one [channels, samples] shape, got "
                         f"{tuple(before.shape)} and {tuple(after.shape)}")
    channels = before.shape[0]
    resynthesizer = (Resynthesizer(effect, sample_rate, channels, gain, level_match, carried)
                     if effect is not None else None)
    check = RemovalCheck(stem, sample_rate, channels, resynthesizer)
    step = max(1, int(block_s * sample_rate))
    for start in _blocks(before.shape[-1], sample_rate, block_s):
        check.update(before[:, start:start + step], after[:, start:start + step])
    return check.result()
