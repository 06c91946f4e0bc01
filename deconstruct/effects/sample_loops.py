"""Sample loops that cannot be vectorised, compiled with numba (on the CPU).

- :func:`peak_envelope`: differentiable peak envelope follower with separate attack and release (JUCE
  ``dsp::BallisticsFilter``). The recursion ``y[n] = c[n] y[n-1] + (1 - c[n]) |x[n]|`` switches ``c[n]``
  between the attack and the release coefficient depending on whether ``|x[n]|`` exceeds ``y[n-1]``. The
  switching decisions come from an exact sample loop; given them the recursion is linear, and a custom autograd
  function runs it forward and its adjoint backward, so gradients reach the input and both time constants.
- :func:`oscillator_phase`: the phase of JUCE's ``dsp::Oscillator`` accumulated in float32 and wrapped at 2π
  exactly as JUCE does, so a long LFO does not drift away from the rendered one.
"""

from __future__ import annotations

import numpy as np
import torch

from deconstruct.errors import DependencyError

__all__ = ["oscillator_phase", "peak_envelope"]

_KERNELS: dict[str, object] = {}


def _kernels() -> dict[str, object]:
    """Compile (once, cached on disk) the sample loops."""
    if _KERNELS:
        return _KERNELS
    try:
        import numba
    except ImportError:
        raise DependencyError(
            "the torch compressor, limiter and chorus need numba; install it (pip install numba)"
        ) from None

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
