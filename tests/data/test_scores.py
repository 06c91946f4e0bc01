"""Score-based arrangements from the music21 corpus."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("music21")

from deconstruct.data.rendering import scores  # noqa: E402
from deconstruct.data.rendering.notes import NoteEvent, Part  # noqa: E402


@pytest.fixture(autouse=True)
def _cache_in_tmp(monkeypatch, tmp_path):
    monkeypatch.setenv("DECONSTRUCT_CACHE", str(tmp_path))
    scores.parse_work.cache_clear()
    yield
    scores.parse_work.cache_clear()


def test_a_chorale_parses_into_four_voices_and_is_cached(tmp_path):
    chorale = next(p for p in scores.corpus_works("bach", (".mxl",)) if p.name == "bwv66.6.mxl")
    parts, beats, length_q = scores.parse_work(chorale)
    assert len(parts) == 4 and beats == 4 and length_q > 30
    soprano, bass = parts[0][1], parts[-1][1]
    assert np.mean([n[2] for n in soprano]) > np.mean([n[2] for n in bass]) + 12
    assert list((tmp_path / "scores").glob("bach__bwv66.6*.json"))
    scores.parse_work.cache_clear()
    assert scores.parse_work(chorale) == (parts, beats, length_q)  # from the JSON file


def test_score_arrangement_maps_parts_to_roles(monkeypatch):
    monkeypatch.setattr(scores, "FAMILIES", (("bach", (".mxl",), 1.0),))
    chorale = next(p for p in scores.corpus_works("bach", (".mxl",)) if p.name == "bwv66.6.mxl")
    monkeypatch.setattr(scores, "corpus_works", lambda composer, suffixes: (chorale,))
    piece = scores.score_arrangement(np.random.default_rng(0), 5.0, drums_probability=1.0)
    assert piece is not None and piece.style == "score:bach"
    assert {"melody", "bass", "drums"} <= set(piece.parts)
    bass = np.median([n.pitch for n in piece.parts["bass"].notes])
    assert 31 <= bass <= 45
    assert min(n.onset_s for n in piece.parts["melody"].notes) < 1.0
    again = scores.score_arrangement(np.random.default_rng(0), 5.0, drums_probability=1.0)
    assert again == piece


def test_roles_and_register():
    assert scores._roles(2) == ["melody", "bass"]
    assert scores._roles(5) == ["melody", "chords", "counter", "pad", "bass"]
    high = Part("b", (NoteEvent(0, 1, 64, 90), NoteEvent(1, 1, 67, 90)))
    assert [n.pitch for n in scores._into_register(high, 31, 45).notes] == [40, 43]
