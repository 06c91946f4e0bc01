"""Human-readable reports: plots rendered to PNG and self-contained HTML pages, among them a deconstruction's
``report.html``.

Matplotlib is imported only when a plot is drawn.
"""

from deconstruct.reporting.report_html import deconstruction_audio, format_params, write_deconstruction_html
from deconstruct.reporting.html_page import HtmlReport, format_cell
from deconstruct.reporting.plots import bar_chart, confusion_matrix, figure_png, heatmap, new_figure, spectrogram_grid

__all__ = [
    "HtmlReport",
    "bar_chart",
    "confusion_matrix",
    "deconstruction_audio",
    "figure_png",
    "format_cell",
    "format_params",
    "heatmap",
    "new_figure",
    "spectrogram_grid",
    "write_deconstruction_html",
]
