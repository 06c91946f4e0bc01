"""The HTML page builder: escaping, missing values, embedded images."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from deconstruct.reporting import HtmlReport, format_cell


def test_cells_show_missing_values_as_a_dash_and_format_only_real_floats():
    assert format_cell(None) == "–" and format_cell(float("nan")) == "–" and format_cell(np.float32("nan")) == "–"
    assert format_cell(1.23456, "{:.1f}") == "1.2" and format_cell(np.float32(2.5)) == "2.50"
    assert format_cell(7) == "7" and format_cell(np.int64(7)) == "7" and format_cell(True) == "True"


def test_tables_escape_every_value_and_pandas_tables_render_alike():
    rows = HtmlReport("t").rows(["name", "value"], [("<b>x</b>", math.nan)]).render()
    assert "&lt;b&gt;x&lt;/b&gt;" in rows and "<b>" not in rows and "<td>–</td>" in rows
    frame = pd.DataFrame({"name": ["<b>x</b>"], "value": [math.nan]})
    assert HtmlReport("t").table(frame).render() == rows


def test_page_is_one_file_with_images_as_data_uris(tmp_path):
    page = HtmlReport('Title "quoted" <tag>').heading("Part").paragraph("a & b").image(b"\x89PNG", 'cap "x"')
    path = page.definitions({"term": "meaning"}).write(tmp_path / "page.html")
    text = path.read_text(encoding="utf-8")
    assert "<title>Title &quot;quoted&quot; &lt;tag&gt;</title>" in text and "a &amp; b" in text
    assert 'src="data:image/png;base64,iVBORw==" alt="cap &quot;x&quot;"' in text
    assert "<script" not in text and "<link" not in text and "http" not in text
