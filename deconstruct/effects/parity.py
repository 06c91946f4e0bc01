"""How closely the differentiable torch effects reproduce the pedalboard renders.

Used by the parity benchmark (``eval/benchmarks/effects_parity.py``) and the tests: both render one effect
setting both ways on the same audio and report the scale-invariant SDR between the two renders.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from deconstruct.effects import functional
from deconstruct.effects.chain import Effect
from deconstruct.effects.render import render_effect
from deconstruct.effects.rir import load_rir, match_channels

__all__ = ["parity_si_sdr", "si_sdr", "torch_render"]


def si_sdr(reference: np.ndarray | torch.Tensor, estimate: np.ndarray | torch.Tensor) -> float:
    """Scale-invariant SDR in dB over all channels and samples (Le Roux et al., ICASSP 2019); ``inf`` if equal."""
    ref = np.asarray(reference, dtype=np.float64).reshape(-1)
    est = np.asarray(estimate, dtype=np.float64).reshape(-1)
    if ref.shape != est.shape:
        raise ValueError(f"reference and estimate differ in size: {ref.size} vs {est.size}")
    target = (est @ ref) / max(ref @ ref, 1e-300) * ref
    noise = float(((est - target) ** 2).sum())
    return math.inf if noise == 0.0 else 10.0 * math.log10(float((target**2).sum()) / noise)


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
