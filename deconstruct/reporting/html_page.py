"""A self-contained HTML page: inline CSS, escaped tables, PNG plots embedded as data URIs; no script, no link."""

from __future__ import annotations

import base64
import html
import math
import numbers
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["HtmlReport", "format_cell"]

MISSING = "–"
"""What a table shows for a value that does not exist (``None``, NaN)."""

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 70em; color: #222; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 1.6em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; font-size: 0.9em; margin: 0.5em 0; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th { background: #f3f3f3; } td:first-child, th:first-child { text-align: left; }
figure { margin: 1em 0; } figcaption { font-size: 0.85em; color: #555; }
img { max-width: 100%; } dl dt { font-weight: bold; } dl dd { margin: 0 0 0.4em 1.5em; }
"""


def format_cell(value: Any, float_format: str = "{:.2f}") -> str:
    """A table cell's text: floats through ``float_format``, ``None`` and NaN as :data:`MISSING`."""
    if value is None:
        return MISSING
    if isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral):
        value = float(value)
        return MISSING if math.isnan(value) else float_format.format(value)
    return str(value)


class HtmlReport:
    """Builds one HTML page section by section; every value is escaped, images are embedded.

    Args:
        title: page title and top heading.
    """

    def __init__(self, title: str) -> None:
        self.title = title
        self._parts: list[str] = []

    def heading(self, text: str, level: int = 2) -> "HtmlReport":
        """Add a section heading (``level`` 2–4)."""
        level = min(max(level, 2), 4)
        self._parts.append(f"<h{level}>{html.escape(text)}</h{level}>")
        return self

    def paragraph(self, text: str) -> "HtmlReport":
        """Add a paragraph of plain text."""
        self._parts.append(f"<p>{html.escape(text)}</p>")
        return self

    def definitions(self, items: dict[str, str]) -> "HtmlReport":
        """Add a definition list (term → explanation)."""
        body = "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(str(v))}</dd>" for k, v in items.items())
        self._parts.append(f"<dl>{body}</dl>")
        return self

    def rows(self, columns: Sequence[str], rows: Iterable[Sequence[Any]], float_format: str = "{:.2f}"
             ) -> "HtmlReport":
        """Add a table from a header and rows of values (see :func:`format_cell`)."""
        head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(format_cell(v, float_format))}</td>" for v in row) + "</tr>"
            for row in rows
        )
        self._parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
        return self

    def table(self, frame: "pd.DataFrame", float_format: str = "{:.2f}") -> "HtmlReport":
        """Add a pandas table (index dropped; floats formatted, NaN shown as :data:`MISSING`)."""
        return self.rows([str(c) for c in frame.columns], frame.itertuples(index=False, name=None), float_format)

    def image(self, png: bytes, caption: str) -> "HtmlReport":
        """Add a PNG image with a caption, embedded as base64."""
        data = base64.b64encode(png).decode("ascii")
        alt = html.escape(caption, quote=True)
        self._parts.append(
            f'<figure><img src="data:image/png;base64,{data}" alt="{alt}"><figcaption>{alt}</figcaption></figure>'
        )
        return self

    def render(self) -> str:
        """The complete page."""
        title = html.escape(self.title)
        body = "\n".join(self._parts)
        return (
            f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
            f"<style>{_STYLE}</style></head>\n<body><h1>{title}</h1>\n{body}\n</body></html>\n"
        )

    def write(self, path: str | os.PathLike) -> Path:
        """Write the page to ``path``."""
        path = Path(path)
        path.write_text(self.render(), encoding="utf-8")
        return path
