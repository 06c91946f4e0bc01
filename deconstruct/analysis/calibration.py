"""Per-effect probability calibration and precision-driven thresholds.

A network's sigmoid outputs are not probabilities of being right: on separated stems an uncalibrated analyzer
said "chorus, 0.9" on nearly every stem. Each effect's stem-level probability (the sigmoid of the window-mean
logit, as :class:`~deconstruct.analysis.analyzer.EffectAnalyzer` aggregates) is therefore mapped through a
monotone calibration fitted on held-out stems of the domain the analyzer runs in (separated stems of ``train``
material, never evaluation files):

- ``{"method": "platt", "a": a, "b": b}``: Platt scaling, ``p' = sigmoid(a * logit(p) + b)`` (Platt 1999);
- ``{"method": "isotonic", "x": [...], "y": [...]}``: isotonic regression (Zadrozny & Elkan 2002), a
  non-decreasing step function read by linear interpolation between its knots;
- ``{"method": "identity"}``: unchanged.

This is what scikit-learn's ``CalibratedClassifierCV`` does with ``method="sigmoid"`` / ``"isotonic"``; the fit
uses scikit-learn (training side only) and the result is plain numbers stored in the checkpoint's config
(``config["calibration"][effect]``), so inference needs neither scikit-learn nor pickles.

Thresholds are then chosen for precision (:func:`precision_thresholds`): an effect is *detected* from the smallest
calibrated probability at and above which the held-out precision is at least ``precision`` (0.8), and *unsure*
from the smallest one where it is at least ``unsure_precision`` (0.5). They are stored as
``config["thresholds"]`` and ``config["unsure_below"]`` and read by :mod:`deconstruct.analysis.decisions`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from deconstruct.effects.catalog import EFFECT_NAMES
from deconstruct.errors import ModelError

__all__ = [
    "METHODS",
    "Calibration",
    "fit_calibration",
    "precision_thresholds",
    "summary",
]

METHODS = ("identity", "platt", "isotonic")
_EPS = 1e-6


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), _EPS, 1.0 - _EPS)
    return np.log(p) - np.log1p(-p)


def _apply_one(spec: Mapping[str, Any], p: np.ndarray) -> np.ndarray:
    method = spec.get("method", "identity")
    if method == "identity":
        return np.asarray(p, dtype=np.float64)
    if method == "platt":
        z = float(spec["a"]) * _logit(p) + float(spec["b"])
        return 1.0 / (1.0 + np.exp(-z))
    if method == "isotonic":
        return np.interp(np.asarray(p, dtype=np.float64), np.asarray(spec["x"], dtype=np.float64),
                         np.asarray(spec["y"], dtype=np.float64))
    raise ValueError(f"unknown calibration method {method!r}; known: {', '.join(METHODS)}")


class Calibration:
    """The per-effect calibration of a checkpoint (identity for effects it does not name).

    Args:
        specs: ``{effect: {"method": ..., ...}}`` as stored in ``config["calibration"]``, or ``None``.

    Raises:
        ModelError: an unknown effect or method, or a malformed entry.
    """

    def __init__(self, specs: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self.specs = {name: dict(spec) for name, spec in (specs or {}).items()}
        unknown = set(self.specs) - set(EFFECT_NAMES)
        if unknown:
            raise ModelError(f"calibration for unknown effects {', '.join(sorted(unknown))}; retrain or update the "
                             "model")
        for name, spec in self.specs.items():
            try:
                _apply_one(spec, np.array([0.25, 0.75]))
                if spec.get("method") == "isotonic" and len(spec["x"]) != len(spec["y"]):
                    raise ValueError("x and y differ in length")
            except (KeyError, TypeError, ValueError) as error:
                raise ModelError(f"calibration of {name} is unusable ({error}); retrain or update the model"
                                 ) from None

    def __bool__(self) -> bool:
        return any(spec.get("method", "identity") != "identity" for spec in self.specs.values())

    def __call__(self, probabilities: torch.Tensor) -> torch.Tensor:
        """Calibrated probabilities.

        Shape:
            probabilities: ``[..., effects]`` in catalog order → same shape, same dtype, values in ``[0, 1]``.
        """
        if not self:
            return probabilities
        array = probabilities.detach().cpu().double().numpy().copy()
        for index, name in enumerate(EFFECT_NAMES):
            if name in self.specs:
                array[..., index] = _apply_one(self.specs[name], array[..., index])
        return torch.from_numpy(np.clip(array, 0.0, 1.0)).to(probabilities.dtype)

    def apply_numpy(self, probabilities: np.ndarray) -> np.ndarray:
        """:meth:`__call__` for a numpy ``[N, effects]`` array."""
        return self(torch.from_numpy(np.asarray(probabilities, dtype=np.float64))).numpy()


def fit_calibration(probabilities: np.ndarray, labels: np.ndarray, method: str = "platt",
                    min_positives: int = 5) -> dict[str, dict[str, Any]]:
    """Fit one calibration per effect on held-out stems.

    Args:
        probabilities: ``[stems, effects]`` uncalibrated stem-level probabilities (catalog order).
        labels: ``[stems, effects]`` 0/1 truth.
        method: ``"platt"`` (logistic regression on the logit, scikit-learn) or ``"isotonic"``
            (``sklearn.isotonic.IsotonicRegression``).
        min_positives: an effect with fewer positives or negatives than this keeps the identity.

    Returns:
        ``{effect: spec}``, JSON-ready (plain floats and lists).
    """
    if method not in ("platt", "isotonic"):
        raise ValueError(f"calibration method must be platt or isotonic, got {method!r}")
    probabilities, labels = np.asarray(probabilities, dtype=np.float64), np.asarray(labels) > 0.5
    specs: dict[str, dict[str, Any]] = {}
    for index, name in enumerate(EFFECT_NAMES):
        p, y = probabilities[:, index], labels[:, index]
        if min(int(y.sum()), int((~y).sum())) < min_positives:
            specs[name] = {"method": "identity", "reason": f"fewer than {min_positives} positives or negatives"}
            continue
        if method == "platt":
            from sklearn.linear_model import LogisticRegression

            model = LogisticRegression(C=1e4, max_iter=1000).fit(_logit(p)[:, None], y.astype(int))
            specs[name] = {"method": "platt", "a": float(model.coef_[0, 0]), "b": float(model.intercept_[0])}
        else:
            from sklearn.isotonic import IsotonicRegression

            model = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(p, y.astype(float))
            specs[name] = {"method": "isotonic", "x": [float(v) for v in model.X_thresholds_],
                           "y": [float(v) for v in model.y_thresholds_]}
        specs[name]["fitted_on"] = {"stems": int(len(y)), "positives": int(y.sum())}
    return specs


def _bound(p: np.ndarray, y: np.ndarray, precision: float, min_support: int) -> float:
    """Smallest ``t`` among the probabilities such that at least ``min_support`` stems lie at or above it and the
    precision of ``p >= t`` is at least ``precision``; 1.0 when no ``t`` qualifies."""
    order = np.argsort(-p, kind="stable")
    p_sorted, y_sorted = p[order], y[order].astype(float)
    counts = np.arange(1, len(p_sorted) + 1)
    last_of_tie = np.append(p_sorted[1:] != p_sorted[:-1], True)  # a threshold takes every stem at its value
    ok = last_of_tie & (counts >= min_support) & (np.cumsum(y_sorted) / counts >= precision)
    return float(p_sorted[ok].min()) if ok.any() else 1.0


def precision_thresholds(probabilities: np.ndarray, labels: np.ndarray, precision: float = 0.8,
                         unsure_precision: float = 0.5, min_support: int = 5,
                         effects: Sequence[str] = EFFECT_NAMES) -> tuple[dict[str, float], dict[str, float]]:
    """Detection thresholds and "unsure" bounds chosen for precision on held-out stems.

    Args:
        probabilities: ``[stems, effects]`` calibrated probabilities.
        labels: ``[stems, effects]`` 0/1 truth.
        precision: detected from the smallest probability at and above which the precision is at least this.
        unsure_precision: unsure from the smallest probability at and above which the precision is at least this.
        min_support: thresholds with fewer stems above them are not judged (too few to measure precision).

    Returns:
        ``(thresholds, unsure_below)``, each ``{effect: value}`` with ``unsure_below <= threshold``; an effect
        whose precision never reaches the target gets threshold 1.0 (never detected).
    """
    probabilities, labels = np.asarray(probabilities, dtype=np.float64), np.asarray(labels) > 0.5
    thresholds, unsure = {}, {}
    for index, name in enumerate(effects):
        p, y = probabilities[:, index], labels[:, index]
        threshold = _bound(p, y, precision, min_support)
        low = _bound(p, y, unsure_precision, min_support)
        thresholds[name] = min(1.0, threshold)  # not rounded: the bound is an observed probability
        unsure[name] = min(low, thresholds[name])
    return thresholds, unsure


def summary(probabilities: np.ndarray, labels: np.ndarray, thresholds: Mapping[str, float]) -> dict[str, Any]:
    """Per effect precision, recall and F1 at ``thresholds`` and the Brier score (held-out report)."""
    probabilities, labels = np.asarray(probabilities, dtype=np.float64), np.asarray(labels) > 0.5
    out: dict[str, Any] = {}
    for index, name in enumerate(EFFECT_NAMES):
        p, y = probabilities[:, index], labels[:, index]
        predicted = p >= thresholds[name]
        tp = int((predicted & y).sum())
        precision = tp / int(predicted.sum()) if predicted.any() else math.nan
        recall = tp / int(y.sum()) if y.any() else math.nan
        f1 = 2 * tp / (int(predicted.sum()) + int(y.sum())) if predicted.any() or y.any() else math.nan
        out[name] = {"precision": _r(precision), "recall": _r(recall), "f1": _r(f1),
                     "brier": _r(float(np.mean((p - y) ** 2))), "positives": int(y.sum()), "stems": int(len(y))}
    return out


def _r(value: float) -> float | None:
    return None if value is None or math.isnan(value) else round(float(value), 4)
