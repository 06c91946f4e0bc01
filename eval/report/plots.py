"""Plots of the evaluation reports: those of :mod:`deconstruct.reporting.plots`."""

from deconstruct.reporting.plots import bar_chart, confusion_matrix, figure_png, heatmap, spectrogram_grid

__all__ = ["bar_chart", "confusion_matrix", "figure_png", "heatmap", "spectrogram_grid"]
