"""A deconstruction's report.html: every section of report.json, self-contained, from audio or from files."""

from __future__ import annotations

import re

from deconstruct.audio import save_audio
from deconstruct.reporting import deconstruction_audio, format_params, write_deconstruction_html
from tests.reporting.conftest import STEMS, build_deconstruction


def sources_of(page: str) -> list[str]:
    return re.findall(r'(?:src|href)="([^"]*)"', page)


def test_page_holds_every_section_and_stem_and_links_nothing(tmp_path, deconstruction):
    report = deconstruction.report()
    audio = deconstruction_audio(deconstruction.mixture, deconstruction.stems, deconstruction.dry_stems)
    page = write_deconstruction_html(report, audio, tmp_path / "report.html").read_text(encoding="utf-8")
    assert "<title>Deconstruction: My &lt;Song&gt;.wav</title>" in page
    for heading in ("Input", "Stages", "Stems", "Effects", "Removals", "Renders", "Resynthesis", "Spectrograms"):
        assert f"<h2>{heading}</h2>" in page
    for stem in STEMS:
        assert f"<h3>{stem}</h3>" in page and f"<td>{stem}</td>" in page
    assert "threshold_db = -30 dB, ratio = 3, attack_ms = 5 ms, release_ms = 100 ms" in page
    assert "<td>L, R, C, LFE, Ls, Rs</td>" in page and "<td>6</td>" in page
    assert "No effect was removed." in page  # the bass had no removal
    assert f"<td>{report['resynthesis']['sdr_db']:.3f}</td>" in page
    links = sources_of(page)
    assert len(links) == 2 and all(link.startswith("data:image/png;base64,") for link in links)
    assert "<script" not in page and "<link" not in page and "http" not in page


def test_stages_that_did_not_run_have_no_section(tmp_path):
    result = build_deconstruction(later_stages=False)
    page = write_deconstruction_html(result.report(), deconstruction_audio(result.mixture, result.stems),
                                     tmp_path / "report.html").read_text(encoding="utf-8")
    for absent in ("Effects", "Removals", "Renders", "Resynthesis"):
        assert f"<h2>{absent}</h2>" not in page
    assert "<h2>Spectrograms</h2>" in page and len(sources_of(page)) == 1


def test_audio_files_draw_the_same_page_as_audio_in_memory(tmp_path, deconstruction):
    report = deconstruction.report()
    files = {}
    for key, audio in deconstruction_audio(deconstruction.mixture, deconstruction.stems,
                                           deconstruction.dry_stems).items():
        files[key] = save_audio(audio, tmp_path / f"{key.replace('/', '_')}.wav")
    in_memory = deconstruction_audio(deconstruction.mixture, deconstruction.stems, deconstruction.dry_stems)
    a = write_deconstruction_html(report, in_memory, tmp_path / "a.html", excerpt_s=1.0).read_text()
    b = write_deconstruction_html(report, files, tmp_path / "b.html", excerpt_s=1.0).read_text()
    assert a == b
    assert "0.5–1.5 s" in a  # the 1-s excerpt around the middle of the 2-s song


def test_parameters_carry_the_unit_of_their_name():
    text = format_params({"cutoff_hz": 12000.0, "delay_s": 0.25, "mix": 0.5, "drr_db": -3.21, "release_ms": 80.0})
    assert text == "cutoff_hz = 12000 Hz, delay_s = 0.25 s, mix = 0.5, drr_db = -3.21 dB, release_ms = 80 ms"
    assert format_params({}) == "–"
