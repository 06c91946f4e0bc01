"""Upmixing dry stems to a loudspeaker layout, binaural or ambisonics.

Signal flow per stem: placement gain -> virtual sources across the stem's width (:mod:`~.spread`) -> the output
format's point renderer (VBAP, nearest-HRIR convolution or AmbiX encoding) with MDAP normalisation
(:mod:`~.rendering`). The stems' renders are summed; then, when asked for, the ambience (decorrelated reverb of
each stem rendered from the surround/height directions, :mod:`~.ambience`) and the LFE feed (low-passed mono sum,
:mod:`~.lfe`) are added.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from deconstruct.audio import Audio
from deconstruct.errors import InputError
from deconstruct.spatial.ambience import ambience_signals
from deconstruct.spatial.ambisonics import AmbisonicRenderer
from deconstruct.spatial.binaural import BinauralRenderer
from deconstruct.spatial.hrtf import Hrtf, load_sofa
from deconstruct.spatial.layouts import (
    AMBISONIC_ORDERS,
    BINAURAL,
    LOUDSPEAKER_LAYOUTS,
    channel_labels,
    channel_mask,
    check_format,
)
from deconstruct.spatial.lfe import lfe_signal
from deconstruct.spatial.loudspeaker import LoudspeakerRenderer
from deconstruct.spatial.placement import Placement, load_placement
from deconstruct.spatial.rendering import PointRenderer, apply_responses, stem_responses
from deconstruct.spatial.spread import virtual_sources
from deconstruct.spatial.wavefile import write_wav_extensible

# Ambience is sent to loudspeakers at least this far off the front axis or above the horizon.
AMBIENCE_MIN_AZIMUTH_DEG = 60.0
# Formats without loudspeakers (binaural, ambisonics) take their ambience from the 7.1.4 surround/height directions.
AMBIENCE_REFERENCE_LAYOUT = "7.1.4"


def ambience_directions(layout: str) -> list[tuple[float, float]]:
    """Directions ``(azimuth_deg, elevation_deg)`` that carry ambience in an output format.

    Loudspeaker layouts use their surround and height loudspeakers (none on 2.0); binaural and ambisonics use
    those of 7.1.4.
    """
    check_format(layout)
    reference = LOUDSPEAKER_LAYOUTS.get(layout, LOUDSPEAKER_LAYOUTS[AMBIENCE_REFERENCE_LAYOUT])
    return [
        (s.azimuth_deg, s.elevation_deg)
        for s in reference.speakers
        if not s.is_lfe and (abs(s.azimuth_deg) >= AMBIENCE_MIN_AZIMUTH_DEG or s.elevation_deg > 0.0)
    ]


def check_stems(stems: Mapping[str, Audio]) -> tuple[int, int]:
    """Validate a stem dict and return its ``(sample_rate, num_samples)``.

    Raises:
        InputError: no stems, a value that is not :class:`Audio`, an empty stem, mixed sample rates or lengths,
            non-finite samples.
    """
    if not isinstance(stems, Mapping) or not stems:
        raise InputError("no stems to render; give a dict of stem name -> Audio")
    rates, lengths = set(), set()
    for name, audio in stems.items():
        if not isinstance(audio, Audio):
            raise InputError(f"stem {name!r} is a {type(audio).__name__}, not an Audio")
        if audio.channels == 0 or audio.num_samples == 0:
            raise InputError(f"stem {name!r} is empty ({audio.channels} channels, {audio.num_samples} samples)")
        if not torch.isfinite(audio.samples).all():
            raise InputError(f"stem {name!r} contains NaN or infinite samples")
        rates.add(audio.sample_rate)
        lengths.add(audio.num_samples)
    if len(rates) > 1:
        raise InputError(f"stems have different sample rates {sorted(rates)}; resample them to one rate")
    if len(lengths) > 1:
        raise InputError(f"stems have different lengths {sorted(lengths)} samples; trim or pad them to one length")
    return rates.pop(), lengths.pop()


class Upmixer:
    """Renders stems to one output format; build once, render many songs.

    Args:
        layout: ``"2.0"``, ``"5.1"``, ``"7.1"``, ``"7.1.4"``, ``"binaural"``, ``"foa"``, ``"hoa2"`` or ``"hoa3"``.
        placement: a preset name (``"stage"``, ``"immersive"``), a placement JSON path/text/mapping, or a
            :class:`~deconstruct.spatial.placement.Placement`.
        hrtf: for binaural: a SOFA file path or an :class:`~deconstruct.spatial.hrtf.Hrtf`; ``None`` uses the
            shipped MIT KEMAR set. Ignored by the other formats.
        ambience: add the placement's ambience (if it has any); ``False`` renders the dry stems only.
        lfe: feed the LFE channel of layouts that have one.
        seed: seed of the ambience's reverb tails.
    """

    def __init__(
        self,
        layout: str = "5.1",
        placement: str | os.PathLike | Mapping[str, Any] | Placement = "stage",
        hrtf: str | os.PathLike | Hrtf | None = None,
        *,
        ambience: bool = True,
        lfe: bool = True,
        seed: int = 0,
    ) -> None:
        self.layout = check_format(layout)
        self.placement = load_placement(placement)
        self.ambience = bool(ambience)
        self.lfe = bool(lfe)
        self.seed = int(seed)
        self._hrtf: Hrtf | None = None
        if self.layout == BINAURAL:
            self._hrtf = hrtf if isinstance(hrtf, Hrtf) else load_sofa(hrtf)
        self._renderers: dict[int, PointRenderer] = {}

    @property
    def labels(self) -> tuple[str, ...]:
        """Output channel labels in file order."""
        return channel_labels(self.layout)

    @property
    def channel_mask(self) -> int:
        """WAVE ``dwChannelMask`` of the output."""
        return channel_mask(self.layout)

    @property
    def hrtf(self) -> Hrtf | None:
        """The HRIR set used for binaural output (``None`` for other formats)."""
        return self._hrtf

    def renderer(self, sample_rate: int) -> PointRenderer:
        """The point renderer of this format at ``sample_rate`` (binaural resamples its HRIRs once per rate)."""
        if sample_rate not in self._renderers:
            if self.layout in LOUDSPEAKER_LAYOUTS:
                renderer: PointRenderer = LoudspeakerRenderer(LOUDSPEAKER_LAYOUTS[self.layout])
            elif self.layout == BINAURAL:
                assert self._hrtf is not None
                renderer = BinauralRenderer(self._hrtf.resampled(sample_rate))
            else:
                renderer = AmbisonicRenderer(AMBISONIC_ORDERS[self.layout])
            self._renderers[sample_rate] = renderer
        return self._renderers[sample_rate]

    def render_dry(self, stems: Mapping[str, Audio]) -> dict[str, Audio]:
        """Each stem rendered alone, without ambience or LFE.

        Returns:
            stem name -> ``Audio`` shaped ``[output channels, T]`` (float32).
        """
        sample_rate, _ = check_stems(stems)
        self.placement.check_stems(stems)
        renderer = self.renderer(sample_rate)
        renders = {}
        for name, audio in stems.items():
            place = self.placement.for_stem(name)
            sources = virtual_sources(place.azimuth_deg, place.elevation_deg, place.width_deg, audio.channels)
            responses = stem_responses(renderer, sources, audio.channels) * 10.0 ** (place.gain_db / 20.0)
            out = apply_responses(audio.samples.double().numpy(), responses)
            renders[name] = Audio(torch.from_numpy(out.astype(np.float32)), sample_rate)
        return renders

    def render(
        self, stems: Mapping[str, Audio], reverb_estimates: Mapping[str, Mapping[str, Any]] | None = None
    ) -> Audio:
        """Render the stems to this format.

        Args:
            stems: stem name -> ``Audio`` (any channel count, one sample rate and length for all).
            reverb_estimates: optional per-stem reverb estimates (``{"vocals": {"rt60_s": 1.4, "wet_level": 0.2}}``)
                that drive the ambience; used only when the placement has ambience and ``ambience`` is on.

        Returns:
            ``Audio`` shaped ``[len(self.labels), T]`` (float32), channels in the order of :attr:`labels`.
        """
        sample_rate, length = check_stems(stems)
        estimates = dict(reverb_estimates or {})
        unknown = sorted(set(estimates) - set(stems))
        if unknown:
            raise InputError(f"reverb estimates for unknown stem(s) {', '.join(map(repr, unknown))}")
        total = np.zeros((len(self.labels), length))
        for render in self.render_dry(stems).values():
            total += render.samples.double().numpy()
        monos = {name: self._gained_mono(name, audio) for name, audio in stems.items()}
        if self.ambience and self.placement.ambience is not None:
            total += self._ambience(monos, estimates, sample_rate)
        lfe_index = LOUDSPEAKER_LAYOUTS[self.layout].lfe_index if self.layout in LOUDSPEAKER_LAYOUTS else None
        if self.lfe and lfe_index is not None:
            total[lfe_index] += lfe_signal(np.sum(list(monos.values()), axis=0), sample_rate)
        return Audio(torch.from_numpy(total.astype(np.float32)), sample_rate)

    def _gained_mono(self, name: str, audio: Audio) -> np.ndarray:
        gain = 10.0 ** (self.placement.for_stem(name).gain_db / 20.0)
        return audio.samples.double().mean(dim=0).numpy() * gain

    def _ambience(
        self, monos: Mapping[str, np.ndarray], estimates: Mapping[str, Mapping[str, Any]], sample_rate: int
    ) -> np.ndarray:
        assert self.placement.ambience is not None
        renderer = self.renderer(sample_rate)
        directions = ambience_directions(self.layout)
        length = next(iter(monos.values())).size
        out = np.zeros((len(self.labels), length))
        if not directions:
            return out
        responses = np.stack([renderer.response(azimuth, elevation) for azimuth, elevation in directions])
        for name, mono in monos.items():
            settings = self.placement.ambience.with_estimate(estimates.get(name), f"reverb_estimates.{name}")
            seed = zlib.crc32(name.encode()) ^ self.seed
            signals = ambience_signals(mono, settings, len(directions), sample_rate, seed)
            out += apply_responses(signals, responses)
        return out

    def save(self, audio: Audio, path: str | os.PathLike, overwrite: bool = False) -> Path:
        """Write a render of this format as a float32 ``WAVE_FORMAT_EXTENSIBLE`` file with its channel mask."""
        if audio.channels != len(self.labels):
            raise InputError(f"a {self.layout} render has {len(self.labels)} channels, got {audio.channels}")
        return write_wav_extensible(path, audio.samples, audio.sample_rate, self.channel_mask, overwrite=overwrite)


def upmix(
    stems: Mapping[str, Audio],
    layout: str,
    placement: str | os.PathLike | Mapping[str, Any] | Placement = "stage",
    **options: Any,
) -> Audio:
    """One-shot :class:`Upmixer` render: ``Upmixer(layout, placement, **options).render(stems)``."""
    reverb_estimates = options.pop("reverb_estimates", None)
    return Upmixer(layout, placement, **options).render(stems, reverb_estimates)
