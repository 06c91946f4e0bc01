"""Report folders for the evaluation suites: CSV/JSON per item, summaries, and a self-contained HTML page.

Plots and the HTML page come from :mod:`deconstruct.reporting`; the folder and table files are written here.
"""

from eval.report.files import json_safe, prepare_output_dir, safe_name, write_csv, write_json
from eval.report.html import HtmlReport
from eval.report.plots import bar_chart, confusion_matrix, figure_png, heatmap, spectrogram_grid

__all__ = [
    "HtmlReport",
    "bar_chart",
    "confusion_matrix",
    "figure_png",
    "heatmap",
    "json_safe",
    "prepare_output_dir",
    "safe_name",
    "spectrogram_grid",
    "write_csv",
    "write_json",
]
