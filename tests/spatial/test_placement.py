"""Placement presets and user placement JSON, with clear errors for bad files and values."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deconstruct.errors import InputError
from deconstruct.spatial import PRESETS, Upmixer, load_placement
from deconstruct.spatial.placement import DEFAULT_PRESET, PRESET_FOLDER
from deconstruct.spatial.spread import virtual_sources


def test_stage_preset_keeps_every_stem_within_the_front_30_degrees() -> None:
    stage = load_placement("stage")
    assert stage.ambience is None
    for name in ("vocals", "drums", "bass", "other", "any_stem"):
        place = stage.for_stem(name)
        for channels in (1, 2):
            for source in virtual_sources(place.azimuth_deg, place.elevation_deg, place.width_deg, channels):
                assert abs(source.azimuth_deg) <= 30 and source.elevation_deg == 0


def test_presets_are_json_files_and_extract_rather_than_invent_ambience() -> None:
    assert set(PRESETS) == {"surround", "stage", "immersive"} and DEFAULT_PRESET == "surround"
    for name, preset in PRESETS.items():
        assert (PRESET_FOLDER / f"placement_{name}.json").is_file() and preset.is_preset
        assert preset.ambience is None  # no synthetic reverb in any preset
    assert PRESETS["stage"].extraction is None
    assert PRESETS["surround"].extraction is not None and PRESETS["surround"].for_stem("vocals").width_deg is None
    assert PRESETS["immersive"].extraction.front_share < PRESETS["surround"].extraction.front_share


def test_immersive_preset_is_wider() -> None:
    immersive = PRESETS["immersive"]
    widest = max(abs(s.azimuth_deg) for s in virtual_sources(0, 0, immersive.for_stem("other").width_deg, 2))
    assert widest > 90  # into the surrounds


def test_user_json_file_text_and_mapping(tmp_path: Path) -> None:
    data = {"stems": {"vocals": {"azimuth_deg": 20, "gain_db": -3}}, "default": {"width_deg": 40},
            "ambience": {"wet_level": 0.2}}
    path = tmp_path / "placement.json"
    path.write_text(json.dumps(data))
    for spec in (path, str(path), json.dumps(data), data):
        placement = load_placement(spec)
        vocals = placement.for_stem("vocals")
        assert (vocals.azimuth_deg, vocals.gain_db, vocals.width_deg) == (20, -3, 40)  # width from "default"
        assert placement.for_stem("drums").width_deg == 40
        assert placement.ambience is not None and placement.ambience.wet_level == 0.2
        assert placement.ambience.rt60_s == 1.2
    assert load_placement({"stems": {"x": {"width_deg": None}}}).for_stem("x").width_deg is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"stems": {"vocals": {"azimuth_deg": 10,}}}', r"not valid JSON \(line 1, column"),
        ("[1, 2]", "must be a JSON object"),
        ('{"stems": {"vocals": {"azimuth": 10}}}', r"placement stems.vocals: unknown key\(s\) 'azimuth'"),
        ('{"stem": {}}', r"unknown key\(s\) 'stem'"),
        ('{"stems": {"vocals": {"azimuth_deg": 200}}}', r"stems.vocals.azimuth_deg: 200 is outside .*-180, 180"),
        ('{"stems": {"vocals": {"elevation_deg": -91}}}', "elevation_deg: -91 is outside"),
        ('{"stems": {"vocals": {"width_deg": -5}}}', "width_deg: -5 is outside"),
        ('{"stems": {"vocals": {"gain_db": 40}}}', "gain_db: 40 is outside"),
        ('{"stems": {"vocals": {"gain_db": "loud"}}}', 'gain_db: expected a number, got "loud"'),
        ('{"stems": {"vocals": {"gain_db": true}}}', "gain_db: expected a number, got true"),
        ('{"stems": {"vocals": 5}}', "placement stems.vocals: expected a JSON object"),
        ('{"ambience": {"wet_level": 2}}', "wet_level: 2 is outside"),
        ('{"ambience": {"rt60_s": 0}}', "rt60_s: 0 is outside"),
    ],
)
def test_bad_placement_json_is_a_one_line_input_error(text: str, message: str, tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(InputError, match=message) as error:
        load_placement(path)
    assert "\n" not in str(error.value)


def test_unknown_preset_or_missing_file() -> None:
    with pytest.raises(InputError, match="unknown placement 'concert'"):
        load_placement("concert")
    with pytest.raises(InputError, match="no such placement file"):
        load_placement("missing.json")


def test_user_placement_naming_absent_stems_is_an_error(stems) -> None:
    with pytest.raises(InputError, match="names stem\\(s\\) 'vocal'"):
        Upmixer("5.1", {"stems": {"vocal": {"azimuth_deg": 0}}}).render(stems)


def test_gain_db_scales_the_stem(stems) -> None:
    loud = Upmixer("5.1", {"stems": {"piano": {"gain_db": 6}}}).render_dry({"piano": stems["piano"]})["piano"]
    plain = Upmixer("5.1", {"stems": {"piano": {"gain_db": 0}}}).render_dry({"piano": stems["piano"]})["piano"]
    assert float((loud.samples - plain.samples * 10 ** (6 / 20)).abs().max()) < 1e-6
