"""Calibration of an analysis network on held-out separated stems (training side; scikit-learn is used here).

The validation part of the separated-stem material (:mod:`deconstruct.data.datasets.separated`) holds windows
tagged with their stem. Each stem's probability is computed as the analyzer computes it (the sigmoid of the mean
logit over its windows), a per-effect calibration is fitted on those stems, and thresholds are chosen for
precision (:mod:`deconstruct.analysis.calibration`). The result goes into the checkpoint's config.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from deconstruct.analysis.calibration import Calibration, fit_calibration, precision_thresholds, summary
from deconstruct.data.datasets.separated import SeparatedBank
from deconstruct.effects.catalog import EFFECT_NAMES
from deconstruct.models.effect_nets import FEATURE_KEYS

__all__ = ["calibrated_config", "stem_probabilities"]


@torch.no_grad()
def stem_probabilities(net: nn.Module, bank: SeparatedBank, batch_size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Stem-level probabilities ``[stems, effects]`` (sigmoid of the window-mean logit) and stem labels."""
    net.eval()
    logits = []
    for batch in DataLoader(bank, batch_size=batch_size):
        logits.append(net({key: batch[key] for key in FEATURE_KEYS})["logits"].double().numpy())
    window_logits = np.concatenate(logits)
    inverse, labels = bank.stems()
    sums = np.zeros((labels.shape[0], window_logits.shape[1]))
    np.add.at(sums, inverse, window_logits)
    counts = np.bincount(inverse, minlength=labels.shape[0])[:, None]
    return 1.0 / (1.0 + np.exp(-sums / counts)), labels


def calibrated_config(net: nn.Module, bank: SeparatedBank, settings: Mapping[str, Any] | None = None
                      ) -> tuple[dict[str, Any], dict[str, Any]]:
    """Calibration, thresholds and unsure bounds for a network, fitted on a held-out separated-stem bank.

    Args:
        net: the analysis network.
        bank: held-out separated-stem windows (the material's ``valid`` part).
        settings: ``method`` (platt/isotonic), ``precision`` (0.8), ``unsure_precision`` (0.5), ``min_support``.

    Returns:
        ``(config_update, metrics)``: ``{"calibration", "thresholds", "unsure_below", "threshold_source"}`` for the
        checkpoint config, and held-out scores before and after.
    """
    settings = dict(settings or {})
    raw, labels = stem_probabilities(net, bank)
    specs = fit_calibration(raw, labels, settings.get("method", "platt"))
    calibrated = Calibration(specs).apply_numpy(raw)
    precision = float(settings.get("precision", 0.8))
    thresholds, unsure = precision_thresholds(calibrated, labels, precision,
                                              float(settings.get("unsure_precision", 0.5)),
                                              int(settings.get("min_support", 5)))
    half = {name: 0.5 for name in EFFECT_NAMES}
    update = {"calibration": specs, "thresholds": thresholds, "unsure_below": unsure,
              "threshold_source": f"per-effect {settings.get('method', 'platt')} calibration on held-out separated "
                                  f"stems of train material; threshold: held-out precision >= {precision}"}
    metrics = {"stems": int(labels.shape[0]), "raw@0.5": summary(raw, labels, half),
               "calibrated@thresholds": summary(calibrated, labels, thresholds)}
    return update, metrics
