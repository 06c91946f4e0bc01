"""Blind estimation of a compressor's parameters from the compressed audio alone (no dry reference).

A compressor maps input levels above its threshold ``T`` to ``T + (L - T) / ratio``: the distribution of short-term
levels piles up above ``T`` and its upper quantiles shrink towards it. :func:`dynamics_features` describes that
distribution (absolute quantiles of frame peak and RMS levels in dBFS, crest factors, spreads); a small multilayer
perceptron, trained on ``train``-split recordings compressed with random catalog settings and on uncompressed
ones (``recipes/blind_estimation/train.py``), maps the features to ``threshold_db``, ``ratio``, ``attack_ms`` and
``release_ms``. Its predicted ratio doubles as a detector: below ``gate_ratio`` the audio is judged uncompressed and
left alone (a remover named by mistake then does no harm).

The estimator's weights and normalisation live in ``blind_compressor.json`` beside this module (written by the
recipe, with its training record and validation metrics).
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch

from deconstruct.effects.catalog import effect_spec

__all__ = ["ESTIMATOR_FILE", "BlindCompressorEstimator", "chosen_params", "dynamics_features", "estimate_compressor",
           "load_estimator"]

ESTIMATOR_FILE = Path(__file__).with_name("blind_compressor.json")
FRAME_S = 0.010
QUANTILES = (0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98, 0.995, 1.0)
SILENCE_BELOW_MAX_DB = 60.0
MAX_RATIO = 8.0


def dynamics_features(samples: torch.Tensor, sample_rate: int) -> torch.Tensor:
    """Level-distribution features of ``[channels, samples]`` audio (channels averaged by power).

    Per 10-ms frame: peak and RMS level (dBFS). Frames more than 60 dB under the loudest are dropped (silence).
    Features: quantiles :data:`QUANTILES` of the peak levels and of the RMS levels, quantiles of the crest factor
    (peak - RMS, dB), the spread of the upper half of the peak levels, and the whole signal's RMS level.

    Returns:
        float32 ``[3 * len(QUANTILES) + 2]``.
    """
    if samples.dim() != 2:
        raise ValueError(f"audio must be [channels, samples], got shape {tuple(samples.shape)}")
    x = samples.to(torch.float64)
    frame = max(1, round(FRAME_S * sample_rate))
    count = max(1, x.shape[-1] // frame)
    x = torch.nn.functional.pad(x, (0, max(0, count * frame - x.shape[-1])))[:, : count * frame]
    frames = x.reshape(x.shape[0], count, frame)
    peak = frames.abs().amax(-1).amax(0)
    rms = frames.pow(2).mean(-1).mean(0).sqrt()
    peak_db = 20.0 * torch.log10(peak + 1e-9)
    rms_db = 20.0 * torch.log10(rms + 1e-9)
    keep = rms_db > rms_db.max() - SILENCE_BELOW_MAX_DB
    peak_db, rms_db = peak_db[keep], rms_db[keep]
    q = torch.tensor(QUANTILES, dtype=torch.float64)
    peak_q, rms_q = torch.quantile(peak_db, q), torch.quantile(rms_db, q)
    crest_q = torch.quantile(peak_db - rms_db, q)
    upper = peak_db[peak_db >= peak_q[6]]
    total_db = 10.0 * math.log10(float(x.pow(2).mean()) + 1e-18)
    extra = torch.tensor([float(upper.std()) if upper.numel() > 1 else 0.0, total_db], dtype=torch.float64)
    return torch.cat([peak_q, rms_q, crest_q, extra]).to(torch.float32)


class BlindCompressorEstimator:
    """Features → compressor parameters through a small MLP (weights from a JSON dict, see :meth:`to_dict`).

    Outputs (all in [0, 1] through a sigmoid): the threshold and the attack and release times normalised over the
    catalog ranges, and ``log(ratio) / log(MAX_RATIO)`` (0: uncompressed).
    """

    def __init__(self, state: dict[str, Any]) -> None:
        self.mean = torch.tensor(state["feature_mean"], dtype=torch.float32)
        self.std = torch.tensor(state["feature_std"], dtype=torch.float32)
        self.layers = [(torch.tensor(w, dtype=torch.float32), torch.tensor(b, dtype=torch.float32))
                       for w, b in state["layers"]]
        self.gate_ratio = float(state.get("gate_ratio", 1.3))
        self.shrink = float(state.get("shrink", 1.0))
        self.prior_weight = float(state.get("prior_weight", 0.0))
        self.record = {k: v for k, v in state.items() if k not in ("feature_mean", "feature_std", "layers")}

    @staticmethod
    def forward_raw(features: torch.Tensor, layers: list[tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
        """The MLP: ``[N, F]`` normalised features → ``[N, 4]`` in [0, 1]."""
        h = features
        for index, (weight, bias) in enumerate(layers):
            h = h @ weight.T + bias
            h = torch.sigmoid(h) if index == len(layers) - 1 else torch.nn.functional.gelu(h)
        return h

    def predict(self, features: torch.Tensor) -> dict[str, float]:
        """Physical parameters (``ratio`` may fall below the catalog's minimum: then there is little compression)."""
        unit = self.forward_raw(((features - self.mean) / self.std)[None], self.layers)[0]
        spec = effect_spec("compressor")
        return {
            "threshold_db": float(spec.param("threshold_db").denormalise(float(unit[0]))),
            "ratio": float(MAX_RATIO ** float(unit[1])),
            "attack_ms": float(spec.param("attack_ms").denormalise(float(unit[2]))),
            "release_ms": float(spec.param("release_ms").denormalise(float(unit[3]))),
        }


@lru_cache(maxsize=4)
def load_estimator(path: str | None = None) -> BlindCompressorEstimator | None:
    """The shipped estimator (``None`` when its file is missing)."""
    file = Path(path) if path else ESTIMATOR_FILE
    if not file.is_file():
        return None
    return BlindCompressorEstimator(json.loads(file.read_text()))


def estimate_compressor(samples: torch.Tensor, sample_rate: int,
                        estimator: BlindCompressorEstimator | None = None) -> dict[str, float] | None:
    """Blindly estimated compressor parameters of ``[channels, samples]`` audio, clamped to the catalog ranges;
    ``None`` when the audio does not look compressed (predicted ratio under the gate) or no estimator is shipped."""
    estimator = estimator or load_estimator()
    if estimator is None:
        return None
    params = estimator.predict(dynamics_features(samples, sample_rate))
    return chosen_params(params, estimator.gate_ratio, estimator.shrink, estimator.prior_weight)


def chosen_params(params: dict[str, float], gate_ratio: float, shrink: float,
                  prior_weight: float = 0.0) -> dict[str, float] | None:
    """What the inverse uses: ``None`` under the gate, else the estimate clamped to the catalog ranges, blended
    with the middle of the catalog ranges (``prior_weight`` of the way, in normalised units: the estimate's error
    across recordings can exceed the prior's), with the ratio then pulled towards 1 by ``shrink``
    (``1 + shrink · (ratio - 1)``: an unsure estimate expands less)."""
    if params["ratio"] < gate_ratio:
        return None
    spec = effect_spec("compressor")
    out = {}
    for name, value in params.items():
        param = spec.param(name)
        unit = float(param.normalise(min(max(value, param.minimum), param.maximum)))
        out[name] = float(param.denormalise((1.0 - prior_weight) * unit + prior_weight * 0.5))
    out["ratio"] = 1.0 + shrink * (out["ratio"] - 1.0)
    return out
