"""Plots: PNG output, shape checks, and matplotlib imported only when a plot is drawn."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch

from deconstruct.reporting import bar_chart, confusion_matrix, heatmap, spectrogram_grid
from tests.conftest import REPO

PNG = b"\x89PNG\r\n\x1a\n"


def png_size(data: bytes) -> tuple[int, int]:
    assert data.startswith(PNG)
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_importing_the_package_does_not_import_matplotlib():
    code = "import sys, deconstruct.reporting; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_heatmap_and_confusion_matrix_draw_and_check_their_input():
    width, height = png_size(heatmap(np.array([[0.1, np.nan, 0.9]]), ["stem"], ["a", "b", "c"], "probability"))
    assert width > height > 0
    with pytest.raises(ValueError, match=r"\[rows, columns\] = \[2, 3\]"):
        heatmap(np.zeros((3, 2)), ["x", "y"], ["a", "b", "c"], "value")
    assert confusion_matrix(["a", "b", "b"], ["a", "a", "b"]).startswith(PNG)
    with pytest.raises(ValueError, match="3 true and 2 predicted"):
        confusion_matrix(["a", "b", "b"], ["a", "b"])
    with pytest.raises(ValueError, match="c are not among the labels"):
        confusion_matrix(["a", "c"], ["a", "a"], labels=["a", "b"])


def test_spectrogram_grid_takes_ragged_rows_and_refuses_multichannel_signals():
    signal = torch.randn(8000)
    wide = png_size(spectrogram_grid([("mix", [("in", signal)]), ("vocals", [("stem", signal), ("dry", signal)])],
                                     16000))
    narrow = png_size(spectrogram_grid([("mix", [("in", signal)])], 16000))
    assert wide[0] > narrow[0] and wide[1] > narrow[1]
    assert spectrogram_grid([("short", [("x", torch.randn(100))])], 16000).startswith(PNG)  # under one frame
    with pytest.raises(ValueError, match="mono, shaped \\[samples\\]"):
        spectrogram_grid([("stereo", [("x", torch.randn(2, 8000))])], 16000)
    with pytest.raises(ValueError, match="no signal"):
        spectrogram_grid([], 16000)


def test_bar_chart_leaves_out_missing_bars():
    table = pd.DataFrame({"stem": ["v", "v", "b"], "method": ["m", "base", "m"], "SDR": [3.0, 1.0, np.nan]})
    assert bar_chart(table, ["SDR"], group="stem", hue="method").startswith(PNG)
