"""Output formats: ITU-R BS.2051 loudspeaker layouts, binaural and AmbiX ambisonics.

Loudspeaker positions are the nominal angles of Rec. ITU-R BS.2051-3 (azimuth positive to the left):

=========  ===========  ==================================================================================
format     BS.2051      loudspeakers (label = BS.2051 name, azimuth/elevation in degrees)
=========  ===========  ==================================================================================
``2.0``    0+2+0 (A)    L = M+030, R = M-030
``5.1``    0+5+0 (B)    L, R, C = M+000, LFE, Ls = M+110, Rs = M-110
``7.1``    0+7+0 (I)    L, R, C, LFE, Lb = M+135, Rb = M-135, Ls = M+090, Rs = M-090
``7.1.4``  4+7+0 (J)    the 7.1 set + TFL = U+045, TFR = U-045, TBL = U+135, TBR = U-135 (elevation 30)
=========  ===========  ==================================================================================

Channels are stored in WAVE channel-mask order (ascending ``SPEAKER_*`` bit), which is what a DAW expects in a
``WAVE_FORMAT_EXTENSIBLE`` file: 5.1 uses the side-surround bits (``0x60F``, ffmpeg's "5.1"), 7.1 the back and
side bits (``0x63F``), 7.1.4 adds the four top bits (``0x2D63F``). BS.2051 system J has two LFE channels; the
consumer 7.1.4 format written here carries one (the WAVE mask has one LFE bit).

Binaural output is two ear signals (mask ``0x3``). Ambisonic output is AmbiX: ACN channel order, SN3D
normalisation, ``(order + 1) ** 2`` channels, channel mask 0 (no loudspeaker meaning).
"""

from __future__ import annotations

from dataclasses import dataclass

from deconstruct.errors import InputError

# WAVEFORMATEXTENSIBLE dwChannelMask bits (Microsoft ksmedia.h).
SPEAKER_FRONT_LEFT = 0x1
SPEAKER_FRONT_RIGHT = 0x2
SPEAKER_FRONT_CENTER = 0x4
SPEAKER_LOW_FREQUENCY = 0x8
SPEAKER_BACK_LEFT = 0x10
SPEAKER_BACK_RIGHT = 0x20
SPEAKER_SIDE_LEFT = 0x200
SPEAKER_SIDE_RIGHT = 0x400
SPEAKER_TOP_FRONT_LEFT = 0x1000
SPEAKER_TOP_FRONT_RIGHT = 0x4000
SPEAKER_TOP_BACK_LEFT = 0x8000
SPEAKER_TOP_BACK_RIGHT = 0x20000


@dataclass(frozen=True)
class Loudspeaker:
    """One loudspeaker (or the LFE feed) of a layout.

    Attributes:
        label: short channel label written to reports (``"L"``, ``"LFE"``, ``"TFL"``).
        itu_name: the BS.2051 name (``"M+030"``, ``"LFE1"``).
        azimuth_deg: nominal azimuth, positive to the left (0 for the LFE, which has no direction).
        elevation_deg: nominal elevation, positive upward.
        mask_bit: the WAVE ``SPEAKER_*`` bit of this channel.
        is_lfe: True for the low-frequency effects channel (never panned to).
    """

    label: str
    itu_name: str
    azimuth_deg: float
    elevation_deg: float
    mask_bit: int
    is_lfe: bool = False


@dataclass(frozen=True)
class LoudspeakerLayout:
    """A loudspeaker layout with its channels in WAVE channel-mask order."""

    name: str
    itu_name: str
    speakers: tuple[Loudspeaker, ...]

    def __post_init__(self) -> None:
        bits = [speaker.mask_bit for speaker in self.speakers]
        if bits != sorted(bits) or len(set(bits)) != len(bits):
            raise ValueError(f"layout {self.name}: channels must be in ascending, distinct channel-mask order")

    @property
    def labels(self) -> tuple[str, ...]:
        """Channel labels in file order."""
        return tuple(speaker.label for speaker in self.speakers)

    @property
    def channel_mask(self) -> int:
        """The WAVE ``dwChannelMask`` of this layout."""
        mask = 0
        for speaker in self.speakers:
            mask |= speaker.mask_bit
        return mask

    @property
    def num_channels(self) -> int:
        return len(self.speakers)

    @property
    def main_indices(self) -> tuple[int, ...]:
        """Indices of the directional (non-LFE) channels."""
        return tuple(i for i, speaker in enumerate(self.speakers) if not speaker.is_lfe)

    @property
    def lfe_index(self) -> int | None:
        """Index of the LFE channel, or ``None`` when the layout has none."""
        for i, speaker in enumerate(self.speakers):
            if speaker.is_lfe:
                return i
        return None

    @property
    def has_height(self) -> bool:
        """True when some loudspeaker is above or below the horizontal plane (3-D panning is used)."""
        return any(speaker.elevation_deg != 0.0 for speaker in self.speakers if not speaker.is_lfe)

    def index(self, label: str) -> int:
        """Channel index of ``label``."""
        try:
            return self.labels.index(label)
        except ValueError:
            raise InputError(f"layout {self.name} has no channel {label!r}; its channels are {self.labels}") from None


def _speaker(label: str, itu_name: str, azimuth_deg: float, elevation_deg: float, mask_bit: int) -> Loudspeaker:
    return Loudspeaker(label, itu_name, azimuth_deg, elevation_deg, mask_bit)


_L = _speaker("L", "M+030", 30.0, 0.0, SPEAKER_FRONT_LEFT)
_R = _speaker("R", "M-030", -30.0, 0.0, SPEAKER_FRONT_RIGHT)
_C = _speaker("C", "M+000", 0.0, 0.0, SPEAKER_FRONT_CENTER)
_LFE = Loudspeaker("LFE", "LFE1", 0.0, 0.0, SPEAKER_LOW_FREQUENCY, is_lfe=True)

_BED_7_1 = (  # the 7.1 bed, also the ear-level layer of 7.1.4
    _L, _R, _C, _LFE,
    _speaker("Lb", "M+135", 135.0, 0.0, SPEAKER_BACK_LEFT),
    _speaker("Rb", "M-135", -135.0, 0.0, SPEAKER_BACK_RIGHT),
    _speaker("Ls", "M+090", 90.0, 0.0, SPEAKER_SIDE_LEFT),
    _speaker("Rs", "M-090", -90.0, 0.0, SPEAKER_SIDE_RIGHT),
)

LOUDSPEAKER_LAYOUTS: dict[str, LoudspeakerLayout] = {
    "2.0": LoudspeakerLayout("2.0", "0+2+0", (_L, _R)),
    "5.1": LoudspeakerLayout(
        "5.1",
        "0+5+0",
        (
            _L, _R, _C, _LFE,
            _speaker("Ls", "M+110", 110.0, 0.0, SPEAKER_SIDE_LEFT),
            _speaker("Rs", "M-110", -110.0, 0.0, SPEAKER_SIDE_RIGHT),
        ),
    ),
    "7.1": LoudspeakerLayout("7.1", "0+7+0", _BED_7_1),
    "7.1.4": LoudspeakerLayout(
        "7.1.4",
        "4+7+0",
        (
            *_BED_7_1,
            _speaker("TFL", "U+045", 45.0, 30.0, SPEAKER_TOP_FRONT_LEFT),
            _speaker("TFR", "U-045", -45.0, 30.0, SPEAKER_TOP_FRONT_RIGHT),
            _speaker("TBL", "U+135", 135.0, 30.0, SPEAKER_TOP_BACK_LEFT),
            _speaker("TBR", "U-135", -135.0, 30.0, SPEAKER_TOP_BACK_RIGHT),
        ),
    ),
}

AMBISONIC_ORDERS: dict[str, int] = {"foa": 1, "hoa2": 2, "hoa3": 3}
BINAURAL = "binaural"
BINAURAL_LABELS = ("left_ear", "right_ear")
BINAURAL_MASK = SPEAKER_FRONT_LEFT | SPEAKER_FRONT_RIGHT
OUTPUT_FORMATS: tuple[str, ...] = (*LOUDSPEAKER_LAYOUTS, BINAURAL, *AMBISONIC_ORDERS)


def check_format(name: str) -> str:
    """Return ``name`` if it is a known output format, else raise :class:`InputError`."""
    if name not in OUTPUT_FORMATS:
        raise InputError(f"unknown layout {name!r}; choose one of {', '.join(OUTPUT_FORMATS)}")
    return name


def get_loudspeaker_layout(name: str) -> LoudspeakerLayout:
    """The loudspeaker layout called ``name`` (``"2.0"``, ``"5.1"``, ``"7.1"``, ``"7.1.4"``)."""
    if name not in LOUDSPEAKER_LAYOUTS:
        raise InputError(
            f"{name!r} is not a loudspeaker layout; choose one of {', '.join(LOUDSPEAKER_LAYOUTS)}"
        )
    return LOUDSPEAKER_LAYOUTS[name]


def channel_labels(name: str) -> tuple[str, ...]:
    """Channel labels of an output format in file order, as written to ``report.json``.

    Loudspeaker layouts give their labels (``("L", "R", "C", "LFE", "Ls", "Rs")`` for 5.1), binaural gives
    ``("left_ear", "right_ear")`` and ambisonics ``("ACN0", "ACN1", ...)``.
    """
    check_format(name)
    if name in LOUDSPEAKER_LAYOUTS:
        return LOUDSPEAKER_LAYOUTS[name].labels
    if name == BINAURAL:
        return BINAURAL_LABELS
    return tuple(f"ACN{i}" for i in range((AMBISONIC_ORDERS[name] + 1) ** 2))


def channel_mask(name: str) -> int:
    """The WAVE ``dwChannelMask`` for an output format (0 for ambisonics)."""
    check_format(name)
    if name in LOUDSPEAKER_LAYOUTS:
        return LOUDSPEAKER_LAYOUTS[name].channel_mask
    if name == BINAURAL:
        return BINAURAL_MASK
    return 0
