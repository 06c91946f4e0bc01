"""Layouts: BS.2051 angles, WAVE mask order, labels."""

from __future__ import annotations

import pytest

from deconstruct.errors import InputError
from deconstruct.spatial import channel_labels, channel_mask, get_loudspeaker_layout


@pytest.mark.parametrize(
    ("name", "labels", "mask"),
    [
        ("2.0", ("L", "R"), 0x3),
        ("5.1", ("L", "R", "C", "LFE", "Ls", "Rs"), 0x60F),
        ("7.1", ("L", "R", "C", "LFE", "Lb", "Rb", "Ls", "Rs"), 0x63F),
        ("7.1.4", ("L", "R", "C", "LFE", "Lb", "Rb", "Ls", "Rs", "TFL", "TFR", "TBL", "TBR"), 0x2D63F),
    ],
)
def test_loudspeaker_layouts_are_in_wave_mask_order(name: str, labels: tuple[str, ...], mask: int) -> None:
    layout = get_loudspeaker_layout(name)
    assert layout.labels == labels == channel_labels(name)
    assert layout.channel_mask == mask == channel_mask(name)
    bits = [speaker.mask_bit for speaker in layout.speakers]
    assert bits == sorted(bits)


def test_nominal_bs2051_angles() -> None:
    def angles(name: str) -> dict[str, tuple[float, float]]:
        layout = get_loudspeaker_layout(name)
        return {s.label: (s.azimuth_deg, s.elevation_deg) for s in layout.speakers if not s.is_lfe}

    assert angles("5.1") == {"L": (30, 0), "R": (-30, 0), "C": (0, 0), "Ls": (110, 0), "Rs": (-110, 0)}
    assert angles("7.1")["Ls"] == (90, 0) and angles("7.1")["Lb"] == (135, 0)
    top = angles("7.1.4")
    assert top["TFL"] == (45, 30) and top["TFR"] == (-45, 30) and top["TBL"] == (135, 30) and top["TBR"] == (-135, 30)


def test_labels_of_binaural_and_ambisonics() -> None:
    assert channel_labels("binaural") == ("left_ear", "right_ear")
    assert channel_labels("foa") == ("ACN0", "ACN1", "ACN2", "ACN3")
    assert len(channel_labels("hoa2")) == 9 and len(channel_labels("hoa3")) == 16
    assert channel_mask("binaural") == 0x3 and channel_mask("hoa3") == 0


def test_unknown_layout_is_an_input_error() -> None:
    with pytest.raises(InputError, match="unknown layout '9.1'"):
        channel_labels("9.1")
    with pytest.raises(InputError, match="not a loudspeaker layout"):
        get_loudspeaker_layout("binaural")
