"""The sample loop that inverts a feed-forward peak compressor, compiled with numba (CPU).

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
"""

from __future__ import annotations

import numpy as np

from deconstruct.errors import DependencyError

__all__ = ["invert_peak_compressor"]

_KERNELS: dict[str, object] = {}
NEWTON_STEPS = 30


def _kernel():
    if "invert" in _KERNELS:
        return _KERNELS["invert"]
    try:
        import numba
    except ImportError:
        raise DependencyError("compressor and limiter inversion need numba; install it (pip install numba)") from None

    @numba.njit(cache=True)
    def invert(y, threshold, exponent, c_attack, c_release, steps, ceiling):  # pragma: no cover - compiled
        rows, samples = y.shape
        x = np.empty_like(y)
        log_threshold = np.log(threshold)
        for row in range(rows):
            envelope = 0.0
            boost = 0.0  # ln(u / |y|) of the previous sample: the warm start of Newton's method
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
        return x

    _KERNELS["invert"] = invert
    return invert


def invert_peak_compressor(
    y: np.ndarray, threshold: float, ratio: float, attack_pole: float, release_pole: float, ceiling: float = 4.0
) -> np.ndarray:
    """Exact inverse of the hard-knee peak compressor, row by row.

    Args:
        y: compressed signal, float64 ``[rows, samples]`` (rows are independent channels).
        threshold: linear threshold (> 0).
        ratio: compression ratio (> 1; the limiter's second stage uses 1000).
        attack_pole: envelope pole while rising, in ``[0, 1)``.
        release_pole: envelope pole while falling, in ``[0, 1)``.
        ceiling: largest magnitude the inverse may return (linear; 4 = +12 dBFS). A compressor fed at most full
            scale never needs more; audio that is not this compressor's output at this level (a wrong detection,
            a wrong threshold, an effect left in place after it) would otherwise be expanded without bound.

    Returns:
        The uncompressed signal, float64 ``[rows, samples]``.
    """
    if y.ndim != 2:
        raise ValueError(f"expected [rows, samples], got shape {y.shape}")
    if threshold <= 0.0 or ratio < 1.0:
        raise ValueError(f"threshold must be positive and ratio at least 1, got {threshold} and {ratio}")
    exponent = 1.0 / ratio - 1.0
    y = np.ascontiguousarray(y, dtype=np.float64)
    return _kernel()(y, float(threshold), float(exponent), float(attack_pole), float(release_pole), NEWTON_STEPS,
                     float(ceiling))
