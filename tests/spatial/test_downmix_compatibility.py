"""With the "stage" preset and no ambience, the BS.775 fold-down of 5.1 and of 7.1.4 matches the stereo remix.

The remix settings below are the stage preset expressed on the console: vocals and bass narrowed to the centre,
every other stem as recorded.
"""

from __future__ import annotations

import numpy as np
import pytest

from deconstruct.audio import Audio
from deconstruct.errors import InputError
from deconstruct.spatial import Upmixer, downmix, downmix_matrix, remix
from tests.spatial.helpers import energy

STAGE_ON_THE_CONSOLE = {"stems": {"vocals": {"width_deg": 0}, "bass": {"width_deg": 0}}}
K = 1 / np.sqrt(2)


@pytest.mark.parametrize("layout", ["5.1", "7.1.4"])
def test_folded_stage_render_matches_the_stereo_remix_within_1_db_per_stem(
    layout: str, stems: dict[str, Audio]
) -> None:
    renders = Upmixer(layout, "stage", ambience=False).render_dry(stems)
    for name, render in renders.items():
        folded = downmix(render, layout).samples
        settings = {"stems": {k: v for k, v in STAGE_ON_THE_CONSOLE["stems"].items() if k == name}}
        stereo = remix({name: stems[name]}, settings).samples
        for channel in range(2):
            difference_db = 10 * np.log10(energy(folded[channel]) / energy(stereo[channel]))
            assert abs(difference_db) <= 1.0, (layout, name, channel, difference_db)


def test_whole_stage_mix_folds_down_to_the_stereo_remix(stems: dict[str, Audio]) -> None:
    stereo = remix(stems, STAGE_ON_THE_CONSOLE).samples
    assert np.allclose(Upmixer("2.0", "stage", levels=False).render(stems).samples.numpy(), stereo.numpy(), atol=1e-6)
    for layout in ("5.1", "7.1", "7.1.4"):
        upmixer = Upmixer(layout, "stage", ambience=False, lfe=False, levels=False)
        folded = downmix(upmixer.render(stems), layout).samples
        assert np.allclose(folded.numpy(), stereo.numpy(), atol=1e-5), layout


def test_documented_fold_down_coefficients() -> None:
    bs775 = downmix_matrix("5.1")  # rows Lo, Ro; columns L R C LFE Ls Rs
    assert np.allclose(bs775, [[1, 0, K, 0, K, 0], [0, 1, K, 0, 0, K]])
    top = downmix_matrix("7.1.4", "7.1")  # columns L R C LFE Lb Rb Ls Rs TFL TFR TBL TBR
    assert np.allclose(top[0], [1, 0, 0, 0, 0, 0, 0, 0, K, 0, 0, 0])  # L += k TFL
    assert np.allclose(top[4], [0, 0, 0, 0, 1, 0, 0, 0, 0, 0, K, 0])  # Lb += k TBL
    sides = downmix_matrix("7.1", "5.1")
    assert np.allclose(sides[4], [0, 0, 0, 0, K, 0, K, 0])  # Ls = k (Lb + Ls)


def test_fold_down_refuses_to_fold_up_or_unknown_layouts() -> None:
    with pytest.raises(InputError, match="larger layout"):
        downmix_matrix("5.1", "7.1")
    with pytest.raises(InputError, match="no fold-down"):
        downmix_matrix("binaural")
