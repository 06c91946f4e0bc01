"""Scores of multi-label effect detection (scikit-learn's) and parameter estimation, and threshold tuning.

Shared by training (validation, threshold choice) and the evaluation suite, so both count the same way:
precision, recall and F1 per effect (``nan`` where undefined: precision without predictions, recall without
positives), macro-F1 as the mean F1 over the effects that occur, and the mean absolute error of parameters over
the entries their mask marks present.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from sklearn.metrics import f1_score, precision_recall_fscore_support

__all__ = ["detection_scores", "macro_f1", "masked_mae", "tune_thresholds"]

THRESHOLD_GRID = np.round(np.arange(0.05, 0.951, 0.025), 3)


def detection_scores(predicted: np.ndarray, labels: np.ndarray, names: Sequence[str]) -> dict[str, dict[str, float]]:
    """Precision, recall, F1 and support per effect.

    Args:
        predicted: bool ``[items, effects]``.
        labels: 0/1 ``[items, effects]``.
        names: effect names, one per column.

    Returns:
        ``{effect: {"precision", "recall", "f1", "support", "predicted"}}`` (``nan`` where undefined).
    """
    predicted, labels = np.asarray(predicted, bool), np.asarray(labels) > 0.5
    if predicted.shape != labels.shape or predicted.ndim != 2 or predicted.shape[1] != len(names):
        raise ValueError(f"predicted {predicted.shape} and labels {labels.shape} must be [items, {len(names)}]")
    scores = {}
    for column, name in enumerate(names):
        truth, guess = labels[:, column], predicted[:, column]
        precision, recall, f1, _ = precision_recall_fscore_support(truth, guess, average="binary",
                                                                   zero_division=np.nan)
        present, guessed = float(truth.sum()), float(guess.sum())
        scores[name] = {"precision": float(precision), "recall": float(recall),
                        "f1": float(f1) if present + guessed else float("nan"),  # scikit-learn says 1 here
                        "support": present, "predicted": guessed}
    return scores


def macro_f1(scores: Mapping[str, Mapping[str, float]], names: Sequence[str] | None = None) -> float:
    """Mean F1 over the effects (all, or ``names``) that are present at least once."""
    chosen = [scores[n] for n in (names or list(scores)) if scores[n]["support"] > 0]
    return float(np.mean([s["f1"] for s in chosen])) if chosen else float("nan")


def tune_thresholds(probabilities: np.ndarray, labels: np.ndarray, names: Sequence[str],
                    grid: np.ndarray = THRESHOLD_GRID) -> dict[str, float]:
    """Per-effect threshold maximising F1 on a validation set (ties go to the value nearest 0.5).

    Args:
        probabilities: ``[items, effects]``.
        labels: 0/1 ``[items, effects]``.
        names: effect names, one per column.
        grid: candidate thresholds.

    Returns:
        ``{effect: threshold}``; 0.5 for an effect that never occurs.
    """
    probabilities, labels = np.asarray(probabilities), np.asarray(labels) > 0.5
    chosen = {}
    for column, name in enumerate(names):
        if not labels[:, column].any():
            chosen[name] = 0.5
            continue
        best, best_key = 0.5, (-1.0, 0.0)
        for threshold in grid:
            f1 = f1_score(labels[:, column], probabilities[:, column] >= threshold, zero_division=0.0)
            key = (round(f1, 6), -abs(threshold - 0.5))
            if key > best_key:
                best, best_key = float(threshold), key
        chosen[name] = best
    return chosen


def masked_mae(estimates: np.ndarray, targets: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean absolute error per column over the entries where ``mask`` is 1 (``nan`` for columns never present).

    Shape:
        ``[items, params]`` each → ``[params]``.
    """
    estimates, targets, mask = np.asarray(estimates, float), np.asarray(targets, float), np.asarray(mask) > 0.5
    if not estimates.shape == targets.shape == mask.shape:
        raise ValueError(f"shapes differ: {estimates.shape}, {targets.shape}, {mask.shape}")
    errors = np.where(mask, np.abs(estimates - targets), 0.0).sum(axis=0)
    counts = mask.sum(axis=0)
    return np.where(counts > 0, errors / np.maximum(counts, 1), np.nan)
