"""Sample loops that cannot be vectorised, compiled with numba (on the CPU).

- :func:`peak_envelope`: differentiable peak envelope follower with separate attack and release (JUCE
  ``dsp::BallisticsFilter``). The recursion ``y[n] = c[n] y[n-1] + (1 - c[n]) |x[n]|`` switches ``c[n]``
  between the attack and the release coefficient depending on whether ``|x[n]|`` exceeds ``y[n-1]``. The
  switching decisions come from an exact sample loop; given them the recursion is linear, and a custom autograd
  function runs it forward and its adjoint backward, so gradients reach the input and both time constants.
- :func:`oscillator_phase`: the phase of JUCE's ``dsp::Oscillator`` accumulated in float32 and wrapped at 2π
  exactly as JUCE does, so a long LFO does not drift away from the rendered one.
- :func:`invert_peak_compressor`: the exact inverse of the feed-forward peak compressor (and of each limiter
  stage), sample by sample; see its docstring.
"""

from __future__ import annotations

import numpy as np
import torch

from deconstruct.errors import DependencyError

__all__ = ["invert_peak_compressor", "oscillator_phase", "peak_envelope"]

_KERNELS: dict[str, object] = {}
NEWTON_STEPS = 30


def _numba(needed_by: str):
    """The numba module, or a :class:`DependencyError` naming what needs it."""
    try:
        import numba
    except ImportError:
        raise DependencyError(f"{needed_by} need numba; install it (pip install numba)") from None
    return numba


def _kernels() -> dict[str, object]:
    """Compile (once, cached on disk) the sample loops of the torch effects."""
    if "decide" in _KERNELS:
        return _KERNELS
    numba = _numba("the torch compressor, limiter and chorus")

    @numba.njit(cache=True)
    def decide(u, c_attack, c_release):  # pragma: no cover - compiled
        rows, steps = u.shape
        envelope = np.empty_like(u)
        attack = np.empty(u.shape, dtype=np.bool_)
        for row in range(rows):
            previous = 0.0
            for t in range(steps):
                value = u[row, t]
                rising = value > previous
                c = c_attack[row] if rising else c_release[row]
                previous = value + c * (previous - value)
                envelope[row, t] = previous
                attack[row, t] = rising
        return envelope, attack

    @numba.njit(cache=True)
    def forward(u, c):  # pragma: no cover - compiled
        rows, steps = u.shape
        y = np.empty_like(u)
        for row in range(rows):
            previous = 0.0
            for t in range(steps):
                previous = c[row, t] * previous + (1.0 - c[row, t]) * u[row, t]
                y[row, t] = previous
        return y

    @numba.njit(cache=True)
    def adjoint(grad_y, c):  # pragma: no cover - compiled
        rows, steps = grad_y.shape
        lam = np.empty_like(grad_y)
        for row in range(rows):
            following = 0.0
            for t in range(steps - 1, -1, -1):
                following = grad_y[row, t] + following
                lam[row, t] = following
                following = c[row, t] * following
        return lam

    @numba.njit(cache=True)
    def phase(increment, steps):  # pragma: no cover - compiled
        out = np.empty(steps, dtype=np.float32)
        current = np.float32(0.0)
        two_pi = np.float32(2.0 * np.pi)
        for t in range(steps):
            out[t] = current
            following = np.float32(current + increment)
            while following >= two_pi:
                following = np.float32(following - two_pi)
            current = following
        return out

    _KERNELS.update(decide=decide, forward=forward, adjoint=adjoint, phase=phase)
    return _KERNELS


def _to_numpy(tensor: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(tensor.detach().to("cpu", torch.float64).numpy())


class _TimeVaryingOnePole(torch.autograd.Function):
    """``y[n] = c[n] y[n-1] + (1 - c[n]) u[n]`` on ``[rows, time]`` with ``y[-1] = 0``."""

    @staticmethod
    def forward(ctx, u: torch.Tensor, c: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        y = torch.from_numpy(_kernels()["forward"](_to_numpy(u), _to_numpy(c)))
        ctx.save_for_backward(u, c, y)
        return y.to(u.device, u.dtype)

    @staticmethod
    def backward(ctx, grad_y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # type: ignore[override]
        u, c, y = ctx.saved_tensors
        lam = torch.from_numpy(_kernels()["adjoint"](_to_numpy(grad_y), _to_numpy(c)))
        u64, c64 = u.detach().cpu().double(), c.detach().cpu().double()
        previous = torch.nn.functional.pad(y[:, :-1], (1, 0))
        grad_u = (1.0 - c64) * lam
        grad_c = lam * (previous - u64)
        return grad_u.to(u.device, u.dtype), grad_c.to(c.device, c.dtype)


def peak_envelope(magnitude: torch.Tensor, c_attack: torch.Tensor, c_release: torch.Tensor) -> torch.Tensor:
    """Peak envelope of a rectified signal with attack/release switching.

    Args:
        magnitude: ``|x|``, shape ``[rows, time]``.
        c_attack: per-row attack pole in ``[0, 1)``, shape ``[rows]``.
        c_release: per-row release pole in ``[0, 1)``, shape ``[rows]``.

    Returns:
        The envelope, shape ``[rows, time]``, on the input's device and dtype.

    Shape:
        Rows are independent (batch x channels flattened). The sample loop runs on the CPU.
    """
    kernels = _kernels()
    envelope, attack = kernels["decide"](_to_numpy(magnitude), _to_numpy(c_attack), _to_numpy(c_release))
    needs_grad = torch.is_grad_enabled() and any(t.requires_grad for t in (magnitude, c_attack, c_release))
    if not needs_grad:
        return torch.from_numpy(envelope).to(magnitude.device, magnitude.dtype)
    rising = torch.from_numpy(attack).to(magnitude.device)
    c = torch.where(rising, c_attack[:, None], c_release[:, None])
    return _TimeVaryingOnePole.apply(magnitude, c)


def oscillator_phase(rate_hz: float, sample_rate: int, steps: int) -> np.ndarray:
    """Phase (radians, in ``[0, 2π)``) of a JUCE ``dsp::Oscillator<float>`` at each of ``steps`` samples.

    The increment is ``float32(2π) / float32(sr) · float32(rate_hz)`` and accumulates in float32 with JUCE's wrap.

    Returns:
        float32 ``[steps]``; the first value is 0.
    """
    two_pi, rate = np.float32(2.0 * np.pi), np.float32(rate_hz)
    increment = np.float32(np.float32(two_pi / np.float32(sample_rate)) * rate)
    return _kernels()["phase"](increment, int(steps))


def _inverse_kernel():
    """Compile (once, cached on disk) the compressor inverse."""
    if "invert" in _KERNELS:
        return _KERNELS["invert"]
    numba = _numba("compressor and limiter inversion")

    @numba.njit(cache=True)
    def invert(y, threshold, exponent, c_attack, c_release, steps, ceiling, state):  # pragma: no cover - compiled
        rows, samples = y.shape
        x = np.empty_like(y)
        log_threshold = np.log(threshold)
        for row in range(rows):
            envelope = state[row, 0]
            boost = state[row, 1]  # ln(u / |y|) of the previous sample: the warm start of Newton's method
            for n in range(samples):
                value = abs(y[row, n])
                at_envelope = envelope * (max(envelope, threshold) / threshold) ** exponent
                c = c_release if value <= at_envelope else c_attack
                a = 1.0 - c
                b = c * envelope
                u = value
                if value > 0.0 and a * value + b > threshold:
                    target = np.log(value)
                    s = target + boost  # u >= |y| (the gain is at most 1), so boost >= 0
                    for _ in range(steps):
                        grown = a * np.exp(s)
                        level = grown + b
                        h = s + exponent * (np.log(level) - log_threshold) - target
                        step = h / (1.0 + exponent * grown / level)
                        s -= step
                        if abs(step) < 1e-12:
                            break
                    u = min(np.exp(s), max(ceiling, value))
                    boost = max(np.log(u) - target, 0.0)
                else:
                    boost = 0.0
                envelope = a * u + b
                x[row, n] = u if y[row, n] >= 0.0 else -u
            state[row, 0] = envelope
            state[row, 1] = boost
        return x

    _KERNELS["invert"] = invert
    return invert


def invert_peak_compressor(
    y: np.ndarray, threshold: float, ratio: float, attack_pole: float, release_pole: float, ceiling: float = 4.0,
    state: np.ndarray | None = None,
) -> np.ndarray:
    """Exact inverse of the hard-knee peak compressor, row by row.

    The compressor (JUCE ``dsp::Compressor``, see :func:`deconstruct.effects.functional.compressor`) computes

        env[n] = c·env[n-1] + (1 - c)·|x[n]|,  c = attack pole if |x[n]| > env[n-1] else release pole
        y[n]   = x[n] · (max(env[n], thr) / thr)^p,  p = 1/ratio - 1 ∈ (-1, 0)

    Given ``env[n-1]``, ``|y[n]| = f(|x[n]|)`` with ``f(u) = u · G((1-c)u + c·env[n-1])`` continuous and strictly
    increasing (its derivative is ``G^{p-1}·((1+p)·a·u + b) > 0`` on each branch, and both branches meet at
    ``u = env[n-1]``). So each sample has exactly one preimage: the branch is the one whose range holds ``|y[n]|``,
    and on it ``s = ln u`` solves the increasing, concave ``h(s) = s + p·ln((a·e^s + b)/thr) - ln|y[n]| = 0``, where
    Newton's method converges (monotonically once left of the root, which one step from anywhere reaches; in one
    step for a limiter's instant attack, where ``h`` is linear). It starts from the previous sample's gain.
    The envelope is then advanced with the recovered sample, exactly as the compressor did.

    Args:
        y: compressed signal, float64 ``[rows, samples]`` (rows are independent channels).
        threshold: linear threshold (> 0).
        ratio: compression ratio (> 1; the limiter's second stage uses 1000).
        attack_pole: envelope pole while rising, in ``[0, 1)``.
        release_pole: envelope pole while falling, in ``[0, 1)``.
        ceiling: largest magnitude the inverse may return (linear; 4 = +12 dBFS). A compressor fed at most full
            scale never needs more; audio that is not this compressor's output at this level (a wrong detection,
            a wrong threshold, an effect left in place after it) would otherwise be expanded without bound.

        state: ``[rows, 2]`` float64 (envelope, Newton warm start) carried from the previous block of the same rows
            and updated in place, so consecutive blocks give exactly the whole signal's inverse; ``None`` starts
            from silence.

    Returns:
        The uncompressed signal, float64 ``[rows, samples]``.
    """
    if y.ndim != 2:
        raise ValueError(f"expected [rows, samples], got shape {y.shape}")
    if threshold <= 0.0 or ratio < 1.0:
        raise ValueError(f"threshold must be positive and ratio at least 1, got {threshold} and {ratio}")
    exponent = 1.0 / ratio - 1.0
    y = np.ascontiguousarray(y, dtype=np.float64)
    if state is None:
        state = np.zeros((y.shape[0], 2))
    if state.shape != (y.shape[0], 2) or state.dtype != np.float64:
        raise ValueError(f"state must be float64 [rows, 2], got {state.dtype} {state.shape}")
    return _inverse_kernel()(y, float(threshold), float(exponent), float(attack_pole), float(release_pole), NEWTON_STEPS,
                     float(ceiling), state)
