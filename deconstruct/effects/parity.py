"""How closely the differentiable torch effects reproduce the pedalboard renders.

Used by the parity benchmark (``eval/benchmarks/effects_parity.py``) and the tests: both render one effect
setting both ways on the same audio and report the scale-invariant SDR between the two renders.
"""

from __future__ import annotations

import numpy as np
import torch

from deconstruct import metrics
from deconstruct.effects import functional
from deconstruct.effects.chain import Effect
from deconstruct.effects.render import render_effect
from deconstruct.effects.rir import load_rir, match_channels

__all__ = ["parity_si_sdr", "si_sdr", "torch_render"]


def si_sdr(reference: np.ndarray | torch.Tensor, estimate: np.ndarray | torch.Tensor) -> float:
    """:func:`deconstruct.metrics.si_sdr` (without removing the mean) over all channels and samples as one signal.

    Shape:
        reference, estimate: any, the same number of values → a float in dB.
    """
    ref = torch.as_tensor(np.asarray(reference, dtype=np.float64)).reshape(-1)
    est = torch.as_tensor(np.asarray(estimate, dtype=np.float64)).reshape(-1)
    if ref.shape != est.shape:
        raise ValueError(f"reference and estimate differ in size: {ref.numel()} vs {est.numel()}")
    return float(metrics.si_sdr(ref, est, zero_mean=False))


def torch_render(samples: np.ndarray | torch.Tensor, sample_rate: int, effect: Effect) -> np.ndarray:
    """Render ``effect`` with :mod:`deconstruct.effects.functional` (no gradient).

    Shape:
        samples: ``[channels, samples]`` → float32 array, same shape.
    """
    x = torch.as_tensor(np.asarray(samples, dtype=np.float32))[None]
    response = None
    if effect.rir is not None:
        response = match_channels(load_rir(effect.rir, sample_rate), x.shape[1])
    with torch.no_grad():
        return functional.apply_effect(x, sample_rate, effect.name, dict(effect.params), response)[0].numpy()


def parity_si_sdr(samples: np.ndarray | torch.Tensor, sample_rate: int, effect: Effect) -> float:
    """SI-SDR (dB) of the torch render against the pedalboard render of ``effect`` on ``samples``."""
    reference = render_effect(np.asarray(samples, dtype=np.float32), sample_rate, effect)
    return si_sdr(reference, torch_render(samples, sample_rate, effect))
