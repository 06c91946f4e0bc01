"""The self-contained HTML page of the evaluation reports: :class:`deconstruct.reporting.HtmlReport`."""

from deconstruct.reporting.html import HtmlReport

__all__ = ["HtmlReport"]
