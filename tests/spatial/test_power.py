"""Each stem's dry power (LFE and ambience excluded) is preserved across layouts within 0.5 dB."""

from __future__ import annotations

import numpy as np
import pytest

from deconstruct.audio import Audio
from deconstruct.spatial import Upmixer
from tests.spatial.helpers import level_db

LAYOUTS = ("2.0", "5.1", "7.1", "7.1.4")
USER_PLACEMENT = {
    "stems": {
        "vocals": {"azimuth_deg": 10, "elevation_deg": 20},
        "drums": {"azimuth_deg": 0, "width_deg": 90},
        "bass": {"azimuth_deg": -5, "width_deg": 0},
        "other": {"azimuth_deg": 180, "width_deg": 200},
        "piano": {"azimuth_deg": 70, "elevation_deg": 35, "width_deg": 40},
    }
}


def _levels(placement, stems: dict[str, Audio]) -> dict[str, list[float]]:
    levels: dict[str, list[float]] = {name: [] for name in stems}
    for layout in LAYOUTS:
        upmixer = Upmixer(layout, placement, ambience=False, levels=False)
        full = upmixer.render(stems)  # LFE fed: its channel is excluded below
        main = [i for i, label in enumerate(upmixer.labels) if label != "LFE"]
        dry = upmixer.render_dry(stems)
        summed = sum(render.samples for render in dry.values())
        if upmixer.placement.extraction is None:  # ambience off, channels placed as they are: the dry renders
            assert np.allclose(full.samples[main].numpy(), summed[main].numpy(), atol=1e-6)
        for name, render in dry.items():
            levels[name].append(level_db(render.samples[main]))
    return levels


@pytest.mark.parametrize("placement", ["stage", "immersive", USER_PLACEMENT], ids=["stage", "immersive", "user"])
def test_dry_power_is_the_same_in_every_layout(placement, stems: dict[str, Audio]) -> None:
    for name, levels in _levels(placement, stems).items():
        assert max(levels) - min(levels) <= 0.5, (name, levels)


def test_a_single_point_source_keeps_its_input_power(stems: dict[str, Audio]) -> None:
    piano = {"piano": stems["piano"]}
    for layout in LAYOUTS:
        for azimuth in (0, 17, 75, 150, -100):
            placement = {"stems": {"piano": {"azimuth_deg": azimuth, "elevation_deg": 10, "width_deg": 0}}}
            render = Upmixer(layout, placement, ambience=False).render_dry(piano)["piano"]
            assert level_db(render.samples) == pytest.approx(level_db(stems["piano"].samples), abs=1e-4)
