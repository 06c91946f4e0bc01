"""Plots for reports, rendered off-screen to PNG bytes.

Matplotlib is imported on first use, and every figure is drawn on its own Agg canvas through matplotlib's object
API: no pyplot, no global state, no display needed.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Sequence

import numpy as np
import torch

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

__all__ = ["bar_chart", "confusion_matrix", "figure_png", "heatmap", "new_figure", "spectrogram_grid"]

MAX_ANNOTATED_CELLS = 400
"""Heatmaps with more cells than this are drawn without the value printed in each cell."""


def new_figure(**options) -> "Figure":
    """A matplotlib ``Figure`` on an Agg canvas (``options`` as ``matplotlib.figure.Figure``)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(**options)
    FigureCanvasAgg(figure)
    return figure


def figure_png(figure: "Figure", dpi: int = 90, tight: bool = True) -> bytes:
    """Render ``figure`` to PNG bytes (``tight``: crop to the drawn content, which costs an extra layout pass)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight" if tight else None)
    return buffer.getvalue()


def bar_chart(table: "pd.DataFrame", metrics: Sequence[str], group: str, hue: str, unit: str = "dB") -> bytes:
    """Grouped bars: one panel per metric, groups along x (e.g. stems), one bar colour per ``hue`` (e.g. method).

    Args:
        table: one row per (group, hue) with a column per metric; NaN bars are left out.
        metrics: the columns to plot, one panel each.
        group: column whose values form the x groups.
        hue: column whose values get one bar each within a group.
        unit: y-axis unit.

    Returns:
        PNG bytes.
    """
    groups = list(dict.fromkeys(table[group]))
    hues = list(dict.fromkeys(table[hue]))
    figure = new_figure(figsize=(3.2 * len(metrics) + 1.5, 3.2))
    axes = figure.subplots(1, len(metrics), squeeze=False)[0]
    width = 0.8 / max(1, len(hues))
    x = np.arange(len(groups))
    for axis, metric in zip(axes, metrics):
        for index, name in enumerate(hues):
            rows = table[table[hue] == name].set_index(group).reindex(groups)
            axis.bar(x + (index - (len(hues) - 1) / 2) * width, rows[metric].to_numpy(float), width, label=str(name))
        axis.set_xticks(x, [str(g) for g in groups], rotation=30, ha="right")
        axis.set_title(metric)
        axis.set_ylabel(unit)
        axis.axhline(0.0, color="black", linewidth=0.6)
        axis.grid(axis="y", alpha=0.3)
    axes[-1].legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.02, 1.0))
    figure.tight_layout()
    return figure_png(figure)


def heatmap(
    values: np.ndarray,
    row_labels: Sequence[str],
    column_labels: Sequence[str],
    label: str,
    value_format: str = "{:.2f}",
    vmin: float | None = None,
    vmax: float | None = None,
    cmap: str = "viridis",
) -> bytes:
    """A labelled matrix of values, each cell annotated (up to :data:`MAX_ANNOTATED_CELLS` cells).

    Args:
        values: the matrix; NaN cells are left blank.
        row_labels: one label per row (y axis, top to bottom).
        column_labels: one label per column (x axis).
        label: colour-bar label (what the values are, with their unit).
        value_format: format of the annotation in each cell.
        vmin, vmax: colour scale limits (default: the data's range).
        cmap: matplotlib colour map name.

    Returns:
        PNG bytes.

    Shape:
        values: ``[rows, columns]``.

    Raises:
        ValueError: ``values`` is not 2-D or does not match the labels.
    """
    values = np.asarray(values, dtype=float)
    if values.ndim != 2 or values.shape != (len(row_labels), len(column_labels)):
        raise ValueError(f"heatmap: values must be [rows, columns] = [{len(row_labels)}, {len(column_labels)}], "
                         f"got shape {values.shape}")
    rows, columns = values.shape
    figure = new_figure(figsize=(1.0 + 0.75 * max(columns, 2), 0.8 + 0.45 * max(rows, 2)), layout="constrained")
    axis = figure.subplots()
    image = axis.imshow(np.ma.masked_invalid(values), cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto")
    axis.set_xticks(np.arange(columns), [str(c) for c in column_labels], rotation=30, ha="right")
    axis.set_yticks(np.arange(rows), [str(r) for r in row_labels])
    if values.size <= MAX_ANNOTATED_CELLS:
        for (row, column), value in np.ndenumerate(values):
            if np.isfinite(value):
                red, green, blue, _ = image.cmap(image.norm(value))
                light = 0.299 * red + 0.587 * green + 0.114 * blue > 0.5
                axis.text(column, row, value_format.format(value), ha="center", va="center", fontsize="small",
                          color="black" if light else "white")
    figure.colorbar(image, ax=axis, label=label, shrink=0.9)
    return figure_png(figure, tight=False)


def confusion_matrix(truth: Sequence[str], predicted: Sequence[str], labels: Sequence[str] | None = None) -> bytes:
    """Counts of (true class, predicted class) pairs as an annotated heatmap; rows are the true classes.

    Args:
        truth: the true class of each item.
        predicted: the predicted class of each item.
        labels: the classes in display order (default: as they first appear in ``truth`` then ``predicted``).

    Returns:
        PNG bytes.

    Raises:
        ValueError: ``truth`` and ``predicted`` differ in length, or hold a class missing from ``labels``.
    """
    if len(truth) != len(predicted):
        raise ValueError(f"confusion_matrix: {len(truth)} true and {len(predicted)} predicted classes")
    labels = list(labels) if labels is not None else list(dict.fromkeys([*truth, *predicted]))
    index = {label: position for position, label in enumerate(labels)}
    unknown = sorted({str(item) for item in (*truth, *predicted) if item not in index})
    if unknown:
        raise ValueError(f"confusion_matrix: classes {', '.join(unknown)} are not among the labels")
    counts = np.zeros((len(labels), len(labels)))
    for true, guess in zip(truth, predicted):
        counts[index[true], index[guess]] += 1
    return heatmap(counts, [f"true {label}" for label in labels], [f"predicted {label}" for label in labels],
                   "count", value_format="{:.0f}", vmin=0.0, cmap="Blues")


def spectrogram_grid(
    rows: Sequence[tuple[str, Sequence[tuple[str, torch.Tensor]]]],
    sample_rate: int,
    n_fft: int = 2048,
    floor_db: float = -90.0,
    max_frames: int = 400,
    max_bins: int = 256,
) -> bytes:
    """Log-magnitude spectrograms in a grid: one row per label, one panel per (title, mono signal).

    All panels share one colour scale (dB relative to the loudest bin of the grid, clipped at ``floor_db``). Rows
    may hold fewer panels than the widest row; the remaining cells stay empty. For speed and a small image, each
    spectrogram's power is averaged down to at most ``max_frames`` frames and ``max_bins`` frequency bins.

    Args:
        rows: ``(row label, [(panel title, signal [samples]), ...])`` per row.
        sample_rate: in Hz (sets the time and frequency axes).
        n_fft: STFT size (hop ``n_fft // 4``, Hann window).
        floor_db: lowest level shown.
        max_frames: most time frames drawn per panel.
        max_bins: most frequency bins drawn per panel.

    Returns:
        PNG bytes.

    Raises:
        ValueError: no panel, or a signal that is not 1-D.
    """
    panels = [signal for _, row in rows for _, signal in row]
    if not panels:
        raise ValueError("spectrogram_grid: no signal to draw")
    if any(signal.dim() != 1 for signal in panels):
        raise ValueError("spectrogram_grid: each signal must be mono, shaped [samples]")
    spectra = [[_power_db(signal, n_fft, max_frames, max_bins) for _, signal in row] for _, row in rows]
    peak = max(float(s.max()) for row in spectra for s in row)
    columns = max(len(row) for _, row in rows)
    width, height = 3.6 * columns + 1.2, 1.7 * len(rows) + 0.6
    figure = new_figure(figsize=(width, height))
    axes = figure.subplots(len(rows), columns, squeeze=False, sharex=True, sharey=True)
    figure.subplots_adjust(left=0.7 / width, right=1 - 1.1 / width, bottom=0.45 / height, top=1 - 0.3 / height,
                           wspace=0.08, hspace=0.35)
    image = None
    for r, ((label, row), row_spectra) in enumerate(zip(rows, spectra)):
        for c in range(columns):
            axis = axes[r][c]
            if c >= len(row):
                axis.set_visible(False)
                continue
            (title, signal), spectrum = row[c], row_spectra[c]
            extent = (0.0, signal.shape[-1] / sample_rate, 0.0, sample_rate / 2000)
            image = axis.imshow((spectrum - peak).numpy(), origin="lower", aspect="auto", extent=extent,
                                cmap="magma", vmin=floor_db, vmax=0.0, interpolation="nearest")
            axis.set_title(f"{label}: {title}", fontsize="small")
            if c == 0:
                axis.set_ylabel("kHz")
            if r == len(rows) - 1 or len(rows[r + 1][1]) <= c:
                axis.set_xlabel("s")
    bar = figure.add_axes((1 - 0.9 / width, 0.45 / height, 0.12 / width, 1 - 0.75 / height))
    figure.colorbar(image, cax=bar, label="dB re loudest bin")
    return figure_png(figure, tight=False)


def _power_db(signal: torch.Tensor, n_fft: int, max_frames: int, max_bins: int) -> torch.Tensor:
    """``[bins, frames]`` power spectrogram in dB, averaged down to at most ``max_bins`` x ``max_frames``."""
    signal = torch.nn.functional.pad(signal.float(), (0, max(0, n_fft - signal.shape[-1])))
    power = torch.stft(signal, n_fft, n_fft // 4, window=torch.hann_window(n_fft), return_complex=True).abs() ** 2
    bins, frames = power.shape
    pooled = torch.nn.functional.adaptive_avg_pool2d(power[None], (min(bins, max_bins), min(frames, max_frames)))[0]
    return 10 * torch.log10(pooled + 1e-18)
