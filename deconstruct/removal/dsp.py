"""Signal-processing inverses of catalog effects, for when they are exact or cheaper than a network.

All functions take and return ``[channels, samples]`` float32 tensors at any sample rate, and follow the
definitions of :mod:`deconstruct.effects.functional` (the pedalboard/JUCE processors the data is rendered with):

- :func:`invert_eq`: the RBJ cookbook's peaking and shelving biquads with gain ``-g`` are the exact inverses of
  those with gain ``g`` (numerator and denominator swap), so the EQ is undone by the same sections, gains negated.
- :func:`invert_compressor`, :func:`invert_limiter`: the peak compressor's gain depends on the envelope of its
  own input, which the inverse rebuilds sample by sample (:func:`~deconstruct.effects.sample_loops.invert_peak_compressor`);
  the limiter is undone stage by stage (makeup gain, 1000:1 stage, 4:1 stage). Samples the limiter clipped stay clipped.
- :func:`invert_distortion`: ``x = atanh(y) / 10^(drive_db/20)``; the drive only scales the result, so the
  inverse needs no parameter up to level (scale-invariant measures do not depend on it).
- :func:`invert_delay`: the feedback delay is the IIR filter
  ``H(z) = ((1-mix) + (mix - (1-mix)·fb)·z^-D) / (1 - fb·z^-D)``, whose inverse is stable over the catalog's
  ranges (``|mix - (1-mix)·fb| < 1 - mix`` for mix ≤ 0.5 and fb ≥ 0.1); it runs one delay period at a time.
  :func:`estimate_delay` finds ``D``, ``feedback`` and ``mix`` blindly from the real cepstrum, which shows a
  feedback delay as peaks at multiples of ``D`` (``c[D] = (a + fb)/2``, ``c[2D] = (fb² - a²)/4`` with
  ``a = (mix - (1-mix)·fb)/(1-mix)``), then refines ``feedback`` and ``mix`` by making the cepstrum of the
  inverse's output flat at ``D`` and ``2D`` (the closed form is biased when echoes run past the end).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch

from deconstruct.effects import functional
from deconstruct.effects.sample_loops import invert_peak_compressor
from deconstruct.shapes import check_rank

__all__ = [
    "DelayEstimate",
    "ballistic_pole",
    "estimate_delay",
    "invert_compressor",
    "invert_delay",
    "invert_delay_steps",
    "invert_distortion",
    "invert_eq",
    "invert_limiter",
    "saturation",
]

MIX_BOUNDS = (0.02, 0.6)  # searched wider than the catalog's ranges (0.2-0.5 and 0.1-0.5)
FEEDBACK_BOUNDS = (0.0, 0.7)
LIMITER_FIRST_STAGE = {"threshold_db": -10.0, "ratio": 4.0, "attack_ms": 2.0, "release_ms": 200.0}
LIMITER_SECOND_STAGE = {"ratio": 1000.0, "attack_ms": 0.001}
LIMITER_MAKEUP_DB = 20.0 * 10.0 * (1.0 - 1.0 / 4.0) / 40.0  # JUCE: gain 10^(10·(1 - 1/4)/40), i.e. 3.75 dB


def _check(x: torch.Tensor, name: str) -> None:
    check_rank(x, 2, name, "a tensor shaped [channels, samples]")


def invert_eq(x: torch.Tensor, sample_rate: int, params: Mapping[str, float]) -> torch.Tensor:
    """Undo the catalog EQ whose (physical) parameters are ``params``; absent sections are bypassed.

    Shape:
        x: ``[channels, samples]`` → same.
    """
    _check(x, "invert_eq")
    negated = {k: (-float(v) if k.endswith("gain_db") else float(v)) for k, v in params.items()}
    with torch.no_grad():
        return functional.parametric_eq(x[None], sample_rate, negated)[0].to(torch.float32)


def ballistic_pole(time_ms: float, sample_rate: int) -> float:
    """JUCE ``BallisticsFilter`` pole ``exp(-2π·1000 / (sr·t_ms))`` (0 below 0.001 ms), as the compressor uses."""
    if time_ms < 1e-3:
        return 0.0
    return math.exp(-2.0 * math.pi * 1000.0 / (sample_rate * time_ms))


BLOCK = 1 << 18
"""Samples per block of the sample-wise inverses: transient float64 copies stay small for any stem length."""


class _Uncompressor:
    """The compressor inverse run block by block with its state carried (exactly the whole signal's inverse)."""

    def __init__(self, rows: int, sample_rate: int, threshold_db: float, ratio: float, attack_ms: float,
                 release_ms: float) -> None:
        self.threshold, self.ratio = 10.0 ** (threshold_db / 20.0), ratio
        self.poles = ballistic_pole(attack_ms, sample_rate), ballistic_pole(release_ms, sample_rate)
        self.state = np.zeros((rows, 2))

    def __call__(self, block: np.ndarray) -> np.ndarray:
        return invert_peak_compressor(block, self.threshold, self.ratio, *self.poles, state=self.state)


def _uncompress_blocks(x: torch.Tensor, stages: list[tuple[float, _Uncompressor]]) -> torch.Tensor:
    """``x`` divided by each stage's scale then through its inverse, block by block; float32 ``[C, T]``."""
    out = torch.empty(x.shape, dtype=torch.float32)
    for start in range(0, x.shape[-1], BLOCK):
        block = x[:, start:start + BLOCK].detach().cpu().double().numpy()
        for scale, stage in stages:
            block = stage(block / scale if scale != 1.0 else block)
        out[:, start:start + BLOCK] = torch.from_numpy(block)
    return out


def _uncompress(x: torch.Tensor, sample_rate: int, threshold_db: float, ratio: float, attack_ms: float,
                release_ms: float) -> torch.Tensor:
    stage = _Uncompressor(x.shape[0], sample_rate, threshold_db, ratio, attack_ms, release_ms)
    return _uncompress_blocks(x, [(1.0, stage)])


def invert_compressor(x: torch.Tensor, sample_rate: int, threshold_db: float, ratio: float, attack_ms: float,
                      release_ms: float) -> torch.Tensor:
    """Exact inverse of the catalog compressor (per channel envelope, hard knee).

    Shape:
        x: ``[channels, samples]`` → same.
    """
    _check(x, "invert_compressor")
    return _uncompress(x, sample_rate, threshold_db, ratio, attack_ms, release_ms)


def invert_limiter(x: torch.Tensor, sample_rate: int, threshold_db: float, release_ms: float) -> torch.Tensor:
    """Inverse of the catalog limiter up to its final clip: makeup gain, then both compressor stages undone.

    The makeup gain (``10^(0.1875)/threshold``) lifts the 1000:1 stage's ceiling 3.75 dB above full scale, so the
    peaks that drove that stage are clipped: its inverse rebuilds no envelope above the threshold and leaves the
    audio as it is (the gain it applied while releasing after those peaks is lost with them). The fixed 4:1
    first stage is undone exactly wherever the clip did not act. A wrong ``threshold_db`` scales the audio
    before that inverse, so it then expands the wrong levels.

    Shape:
        x: ``[channels, samples]`` → same.
    """
    _check(x, "invert_limiter")
    makeup = 10.0 ** ((LIMITER_MAKEUP_DB - threshold_db) / 20.0)
    second = _Uncompressor(x.shape[0], sample_rate, threshold_db, LIMITER_SECOND_STAGE["ratio"],
                           LIMITER_SECOND_STAGE["attack_ms"], release_ms)
    first = _Uncompressor(x.shape[0], sample_rate, **LIMITER_FIRST_STAGE)
    return _uncompress_blocks(x, [(makeup, second), (1.0, first)])


def invert_distortion(x: torch.Tensor, drive_db: float, max_abs: float = 0.999) -> torch.Tensor:
    """Inverse of the ``tanh`` waveshaper: ``atanh(clamp(x, ±max_abs)) / 10^(drive_db/20)``.

    Args:
        x: distorted signal ``[channels, samples]``.
        drive_db: the drive; it only sets the output level.
        max_abs: samples are clamped to ``±max_abs`` first (tanh never reaches 1; this bounds the expansion of
            saturated peaks, where the waveshaper kept little information, at ``atanh(max_abs)``).

    Shape:
        x: ``[channels, samples]`` → same.
    """
    _check(x, "invert_distortion")
    if not 0.0 < max_abs < 1.0:
        raise ValueError(f"max_abs must lie in (0, 1), got {max_abs}")
    out = torch.empty(x.shape, dtype=torch.float32)
    scale = 10.0 ** (drive_db / 20.0)
    for start in range(0, x.shape[-1], BLOCK):  # sample-wise: blocks keep the float64 copies small
        block = x[:, start:start + BLOCK].double().clamp(-max_abs, max_abs)
        out[:, start:start + BLOCK] = (torch.atanh(block) / scale).to(torch.float32)
    return out


def saturation(x: torch.Tensor, near_peak: float = 0.9) -> float:
    """Share of samples within ``near_peak`` of the peak magnitude: how much a waveshaper piled the signal up.

    A ``tanh`` waveshaper driven 8 dB or more into saturation gives a few per cent; dry speech and instruments give
    well under 0.5 %. Scale-invariant.

    Shape:
        x: ``[channels, samples]`` → a float in ``[0, 1]``.
    """
    _check(x, "saturation")
    if not x.numel():
        return 0.0
    peak = max(float(x[:, start:start + BLOCK].abs().max()) for start in range(0, x.shape[-1], BLOCK))
    if peak == 0.0:
        return 0.0
    near = sum(int((x[:, start:start + BLOCK].abs() > near_peak * peak).sum()) for start in range(0, x.shape[-1], BLOCK))
    return near / x.numel()


def _delay_steps(delay_s: float, sample_rate: int) -> int:
    """``floor(sr · delay_s)`` with ``delay_s`` rounded to float32 first, as the renderer."""
    return max(1, int(math.floor(float(np.float32(delay_s)) * sample_rate)))


def invert_delay_steps(x: torch.Tensor, steps: int, feedback: float, mix: float) -> torch.Tensor:
    """:func:`invert_delay` with the period given in samples (no stability check).

    ``X = Y (1 - fb z^-D) / ((1-mix) + (mix - (1-mix) fb) z^-D)``, one period of ``D`` samples at a time.

    Shape:
        x: ``[channels, samples]`` → same.
    """
    _check(x, "invert_delay_steps")
    if steps < 1:
        raise ValueError(f"the delay must be at least one sample, got {steps}")
    y = x.double()
    numerator = y.clone()
    numerator[..., steps:] -= feedback * y[..., :-steps]
    numerator /= 1.0 - mix
    echo = (mix - (1.0 - mix) * feedback) / (1.0 - mix)
    out = torch.empty_like(numerator)
    length = y.shape[-1]
    for start in range(0, length, steps):
        stop = min(start + steps, length)
        block = numerator[..., start:stop]
        if start >= steps:
            block = block - echo * out[..., start - steps : stop - steps]
        out[..., start:stop] = block
    return out.to(torch.float32)


def invert_delay(x: torch.Tensor, sample_rate: int, delay_s: float, feedback: float, mix: float) -> torch.Tensor:
    """Exact inverse of the catalog feedback delay.

    Raises:
        ValueError: settings whose inverse is unstable (``|mix - (1-mix)·fb| >= 1 - mix``) or ``mix >= 1``.

    Shape:
        x: ``[channels, samples]`` → same.
    """
    _check(x, "invert_delay")
    if not 0.0 <= mix < 1.0 or abs(mix - (1.0 - mix) * feedback) >= 1.0 - mix:
        raise ValueError(f"the inverse of a delay with mix={mix:g}, feedback={feedback:g} is unstable")
    return invert_delay_steps(x, _delay_steps(delay_s, sample_rate), feedback, mix)


@dataclass(frozen=True)
class DelayEstimate:
    """A blindly estimated feedback delay.

    Attributes:
        delay_s: echo period, s (``steps / sample_rate``).
        steps: echo period in samples.
        feedback: gain of each further echo.
        mix: wet proportion.
        strength: the cepstral peak ``2·c[D]`` (``m/(1-m)`` for a catalog delay; near 0 without echoes).
    """

    delay_s: float
    steps: int
    feedback: float
    mix: float
    strength: float

    def params(self) -> dict[str, float]:
        """Catalog-style parameters (``delay_s``, ``feedback``, ``mix``)."""
        return {"delay_s": self.delay_s, "feedback": self.feedback, "mix": self.mix}


def _log_spectrum(mono: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Floored log magnitude of the zero-padded spectrum (``n >= 2T`` points) and ``n``."""
    from scipy.fft import next_fast_len

    size = next_fast_len(2 * mono.shape[-1], real=True)
    magnitude = torch.fft.rfft(mono.to(torch.float32), n=size).abs()
    return torch.log(magnitude + 1e-6 * magnitude.max() + 1e-30), size


def _cepstrum(mono: torch.Tensor) -> torch.Tensor:
    """Real cepstrum of a whole signal (``[T]`` → float32 ``[n]`` with ``n >= 2T``)."""
    log_magnitude, size = _log_spectrum(mono)
    return torch.fft.irfft(log_magnitude, n=size)


def _cepstrum_at(mono: torch.Tensor, quefrencies: tuple[int, ...]) -> list[float]:
    """Real-cepstrum values at a few quefrencies (cosine sums: cheaper than the inverse FFT)."""
    log_magnitude, size = _log_spectrum(mono)
    k = torch.arange(log_magnitude.shape[-1], dtype=torch.float64)
    weight = torch.full_like(k, 2.0)
    weight[0] = 1.0
    if size % 2 == 0:
        weight[-1] = 1.0
    values = []
    for q in quefrencies:
        basis = weight * torch.cos(2.0 * math.pi * ((k * q) % size) / size)
        values.append(float((log_magnitude.double() * basis).sum()) / size)
    return values


def _echo_residue(x: torch.Tensor, steps: int, feedback: float, mix: float) -> float:
    """How much echo at ``D`` and ``2D`` the inverse leaves: ``|c[D]| + |c[2D]|`` of its output."""
    values = _cepstrum_at(invert_delay_steps(x, steps, feedback, mix)[0], (steps, 2 * steps))
    return abs(values[0]) + abs(values[1])


def _loudest_excerpt(mono: torch.Tensor, length: int) -> torch.Tensor:
    if mono.shape[-1] <= length:
        return mono
    hop = length // 4
    energies = [float(mono[s : s + length].square().sum()) for s in range(0, mono.shape[-1] - length + 1, hop)]
    start = int(np.argmax(energies)) * hop
    return mono[start : start + length]


def estimate_delay(
    x: torch.Tensor,
    sample_rate: int,
    hint: Mapping[str, float] | None = None,
    delay_range_s: tuple[float, float] = (0.09, 0.55),
    min_strength: float = 0.12,
    max_excerpt_s: float = 12.0,
    refine_excerpt_s: float = 6.0,
    refine_steps: int = 2,
    hint_window_s: float = 0.01,
) -> DelayEstimate | None:
    """Blind estimate of a feedback delay, or ``None`` when the signal shows no echo.

    The echo period is the largest real-cepstrum value in ``delay_range_s``; the echo counts when its cepstral
    strength ``2·c[D]`` reaches ``min_strength`` (catalog delays give 0.25 to 1 on long signals, less when echoes
    run past the end; on training-side items lacking a delay 98 % stay below 0.12, exactly repeated notes of
    quantised soundfont renders being the exceptions). ``feedback`` and ``mix`` start from the closed form and
    are refined by a coordinate search that minimises the echo left at ``D`` and ``2D`` in the output. The
    estimate reads the loudest ``max_excerpt_s`` of the channel mean, the refinement its loudest
    ``refine_excerpt_s``.

    With a ``hint`` (estimated parameters ``delay_s``, ``feedback``, ``mix``, any of them), the period is searched
    within ``hint_window_s`` of the hinted one, the search starts from the hinted ``feedback`` and ``mix``, and the
    strength needed is halved.

    Args:
        x: ``[channels, samples]``.
        sample_rate: Hz.
        hint: estimated parameters to start from, or ``None`` for a blind estimate.
        delay_range_s: where to look for the echo period, s.
        min_strength: smallest cepstral strength taken as an echo.
        max_excerpt_s: longest excerpt analysed for the period and the closed form, s.
        refine_excerpt_s: longest (loudest) excerpt the refinement filters, s (each try costs one FFT of it).
        refine_steps: rounds of the coordinate search (0: closed form only).
        hint_window_s: half-width of the period search around a hinted ``delay_s``, s.

    Returns:
        The estimate, or ``None`` when no echo is found.
    """
    _check(x, "estimate_delay")
    hint = dict(hint or {})
    if "delay_s" in hint:
        delay_range_s = (hint["delay_s"] - hint_window_s, hint["delay_s"] + hint_window_s + 1.0 / sample_rate)
        min_strength /= 2.0
    low, high = (max(1, round(t * sample_rate)) for t in delay_range_s)
    mono = _loudest_excerpt(x.double().mean(0), round(max_excerpt_s * sample_rate))
    if mono.shape[-1] < 2 * low or float(mono.abs().max()) == 0.0:
        return None
    cepstrum = _cepstrum(mono)
    high = min(high, mono.shape[-1] // 2)
    if high <= low:
        return None
    steps = low + int(torch.argmax(cepstrum[low:high]))
    strength = 2.0 * float(cepstrum[steps])
    if strength < min_strength:
        return None
    second = 2.0 * float(cepstrum[2 * steps])
    feedback = hint.get("feedback", (strength + 2.0 * second / strength) / 2.0)
    mix = hint.get("mix", strength / (1.0 + strength))
    feedback, mix = float(np.clip(feedback, *FEEDBACK_BOUNDS)), float(np.clip(mix, *MIX_BOUNDS))
    excerpt = _loudest_excerpt(mono, round(refine_excerpt_s * sample_rate))[None].to(torch.float32)
    width_fb, width_mix = 0.16, 0.08
    for _ in range(refine_steps):
        for name in ("mix", "feedback"):
            centre, width = (mix, width_mix) if name == "mix" else (feedback, width_fb)
            bounds = MIX_BOUNDS if name == "mix" else FEEDBACK_BOUNDS
            candidates = np.clip(centre + np.linspace(-width, width, 5), *bounds)
            scores = []
            for value in candidates:
                trial_mix, trial_fb = (value, feedback) if name == "mix" else (mix, value)
                stable = abs(trial_mix - (1.0 - trial_mix) * trial_fb) < 1.0 - trial_mix
                scores.append(_echo_residue(excerpt, steps, trial_fb, trial_mix) if stable else math.inf)
            best = float(candidates[int(np.argmin(scores))])
            mix, feedback = (best, feedback) if name == "mix" else (mix, best)
        width_fb, width_mix = width_fb / 2.5, width_mix / 2.5
    return DelayEstimate(steps / sample_rate, steps, feedback, mix, strength)
