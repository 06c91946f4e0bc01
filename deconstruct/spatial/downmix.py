"""Fold-down of loudspeaker layouts: 7.1.4 -> 7.1 -> 5.1 -> 2.0.

Each step is a fixed matrix; a fold-down across several steps is their product. The LFE channel is dropped on
the way to stereo (as ITU-R BS.775 does); until then it passes through.

============  =====================================================================================
step          coefficients (k = 1/sqrt(2), -3 dB)
============  =====================================================================================
7.1.4 -> 7.1  top layer folded to the ear-level loudspeaker below it: L += k TFL, R += k TFR,
              Lb += k TBL, Rb += k TBR; all other channels unchanged
7.1 -> 5.1    side and back surrounds combined: Ls = k (Ls + Lb), Rs = k (Rs + Rb)
5.1 -> 2.0    ITU-R BS.775-3 Table 2: Lo = L + k C + k Ls, Ro = R + k C + k Rs (LFE omitted)
============  =====================================================================================
"""

from __future__ import annotations

import numpy as np
import torch

from deconstruct.audio import Audio
from deconstruct.errors import InputError
from deconstruct.spatial.layouts import get_loudspeaker_layout

K = float(1.0 / np.sqrt(2.0))
CHAIN = ("7.1.4", "7.1", "5.1", "2.0")

# output label -> {input label: coefficient}
_STEPS: dict[tuple[str, str], dict[str, dict[str, float]]] = {
    ("7.1.4", "7.1"): {
        "L": {"L": 1.0, "TFL": K}, "R": {"R": 1.0, "TFR": K}, "C": {"C": 1.0}, "LFE": {"LFE": 1.0},
        "Lb": {"Lb": 1.0, "TBL": K}, "Rb": {"Rb": 1.0, "TBR": K}, "Ls": {"Ls": 1.0}, "Rs": {"Rs": 1.0},
    },
    ("7.1", "5.1"): {
        "L": {"L": 1.0}, "R": {"R": 1.0}, "C": {"C": 1.0}, "LFE": {"LFE": 1.0},
        "Ls": {"Ls": K, "Lb": K}, "Rs": {"Rs": K, "Rb": K},
    },
    ("5.1", "2.0"): {
        "L": {"L": 1.0, "C": K, "Ls": K}, "R": {"R": 1.0, "C": K, "Rs": K},
    },
}


def _step_matrix(source: str, target: str) -> np.ndarray:
    inputs = get_loudspeaker_layout(source).labels
    outputs = get_loudspeaker_layout(target).labels
    matrix = np.zeros((len(outputs), len(inputs)))
    for row, label in enumerate(outputs):
        for input_label, coefficient in _STEPS[(source, target)][label].items():
            matrix[row, inputs.index(input_label)] = coefficient
    return matrix


def downmix_matrix(source: str, target: str = "2.0") -> np.ndarray:
    """The fold-down matrix from layout ``source`` to layout ``target``.

    Returns:
        ``[target channels, source channels]``.

    Raises:
        InputError: unknown layouts, or ``target`` is not smaller than ``source`` in 7.1.4 -> 7.1 -> 5.1 -> 2.0.
    """
    for name in (source, target):
        if name not in CHAIN:
            raise InputError(f"no fold-down for layout {name!r}; layouts: {', '.join(CHAIN)}")
    first, last = CHAIN.index(source), CHAIN.index(target)
    if last < first:
        raise InputError(f"cannot fold {source} down to the larger layout {target}")
    matrix = np.eye(get_loudspeaker_layout(source).num_channels)
    for step in range(first, last):
        matrix = _step_matrix(CHAIN[step], CHAIN[step + 1]) @ matrix
    return matrix


def downmix(audio: Audio, source: str, target: str = "2.0") -> Audio:
    """Fold ``audio`` in layout ``source`` down to layout ``target`` (default: ITU-R BS.775 stereo).

    Shape:
        ``audio.samples``: ``[source channels, T]`` -> ``[target channels, T]``.
    """
    matrix = downmix_matrix(source, target)
    if audio.channels != matrix.shape[1]:
        raise InputError(f"a {source} signal has {matrix.shape[1]} channels, got {audio.channels}")
    return Audio(torch.from_numpy(matrix).to(audio.samples.dtype) @ audio.samples, audio.sample_rate)
