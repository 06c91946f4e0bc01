"""Stage 4: remix and upmix dry stems to stereo, surround, immersive, binaural and ambisonic formats.

Entry points:

* :class:`Upmixer` (build once) / :func:`upmix` (one shot): stems (and their dry versions) -> ``"2.0"``,
  ``"5.1"``, ``"7.1"``, ``"7.1.4"`` (ITU-R BS.2051 layouts, VBAP), ``"binaural"`` (diffuse-field equalised HRIRs
  from a SOFA file), ``"foa"``, ``"hoa2"``, ``"hoa3"`` (AmbiX: ACN/SN3D). The default placement ``"surround"``
  keeps the front image and moves the song's own ambience and removed reverberation around the listener
  (:mod:`~.extraction`); loudspeaker and binaural renders come at the input's level with a true peak at most
  -1 dBTP (:mod:`~.levels`), block by block from memory or from files (:meth:`Upmixer.render_files`).
* :func:`remix`: the stereo console (gain, pan, width, mute/solo, optional effects hook).
* :func:`channel_labels`: the channel order of each format, for reports.
* :func:`downmix`, :class:`AllRadDecoder`, :func:`write_wav_extensible` / :func:`read_wav_channel_mask`.

Directions: azimuth in degrees positive to the left, elevation positive upward.
"""

from deconstruct.spatial.ambisonics import AllRadDecoder
from deconstruct.spatial.downmix import downmix, downmix_matrix
from deconstruct.spatial.hrtf import DEFAULT_SOFA, Hrtf, load_sofa
from deconstruct.spatial.layouts import OUTPUT_FORMATS, channel_labels, channel_mask, get_loudspeaker_layout
from deconstruct.spatial.levels import RenderLevels, true_peak_dbtp
from deconstruct.spatial.placement import PRESETS, Placement, StemPlacement, load_placement
from deconstruct.spatial.remix import ChannelStrip, RemixSettings, load_remix_settings, remix
from deconstruct.spatial.upmixer import Upmixer, upmix
from deconstruct.spatial.wavefile import read_wav_channel_mask, read_wav_format, write_wav_extensible

__all__ = [
    "AllRadDecoder",
    "ChannelStrip",
    "DEFAULT_SOFA",
    "Hrtf",
    "OUTPUT_FORMATS",
    "PRESETS",
    "Placement",
    "RemixSettings",
    "RenderLevels",
    "StemPlacement",
    "Upmixer",
    "channel_labels",
    "channel_mask",
    "downmix",
    "downmix_matrix",
    "get_loudspeaker_layout",
    "load_placement",
    "load_remix_settings",
    "load_sofa",
    "read_wav_channel_mask",
    "read_wav_format",
    "remix",
    "true_peak_dbtp",
    "upmix",
    "write_wav_extensible",
]
