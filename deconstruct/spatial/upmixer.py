"""Upmixing stems to a loudspeaker layout, binaural or ambisonics, at the input's level.

:class:`Upmixer` holds the output format and the placement; the rendering itself is block-wise
(:mod:`~.engine`), so a render reads its stems span by span, from memory (:meth:`Upmixer.render`) or from files
on disk (:meth:`Upmixer.render_files`, what the pipeline's streaming path uses), and never holds more than a
block of the song in its processors.

Levels (loudspeaker layouts and binaural; not ambisonics, whose channels are not loudspeaker feeds): a render
is made in two passes. The first renders into float samples (memory or a temporary float file next to the
output) while measuring the render's power, loudness and true peak and the input's (:mod:`~.levels`); the
second applies one common gain to every channel: the gain that brings the render's power (loudspeakers; the
LFE counted twice, as on a stereo pair) or BS.1770 loudness (binaural) to the input's, lowered where needed to
keep the true peak at or below -1 dBTP. The gain, loudness and true peak are returned as
:class:`~.levels.RenderLevels` for ``report.json``.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from deconstruct.audio import Audio
from deconstruct.errors import InputError
from deconstruct.streaming import TensorReader
from deconstruct.spatial.ambisonics import AmbisonicRenderer
from deconstruct.spatial.binaural import BinauralRenderer
from deconstruct.spatial.blocksource import StemBlockSource, file_readers
from deconstruct.spatial.engine import RenderEngine, ambience_directions, render_blocks
from deconstruct.spatial.hrtf import Hrtf, load_sofa
from deconstruct.spatial.layouts import (
    AMBISONIC_ORDERS,
    BINAURAL,
    LOUDSPEAKER_LAYOUTS,
    channel_labels,
    channel_mask,
    check_format,
)
from deconstruct.spatial.levels import (
    RenderLevels,
    SignalMeter,
    common_gain_db,
    final_levels,
    finished_blocks,
    float_file_reader,
    loudness_weights,
    padded_reader,
)
from deconstruct.spatial.loudspeaker import LoudspeakerRenderer
from deconstruct.spatial.placement import DEFAULT_PRESET, Placement, load_placement
from deconstruct.spatial.rendering import PointRenderer, apply_responses, stem_responses
from deconstruct.spatial.spread import virtual_sources
from deconstruct.spatial.wavefile import WavExtensibleWriter, write_wav_extensible

__all__ = ["Upmixer", "ambience_directions", "check_stems", "upmix"]


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
        placement: a preset name (``"surround"``, the default; ``"stage"``, ``"immersive"``), a placement JSON
            path/text/mapping, or a :class:`~deconstruct.spatial.placement.Placement`.
        hrtf: for binaural: a SOFA file path or an :class:`~deconstruct.spatial.hrtf.Hrtf`; ``None`` uses the
            shipped MIT KEMAR set. Ignored by the other formats.
        ambience: send ambience to the surround and height channels (the extracted ambience, and the placement's
            synthetic ambience if it has one); ``False`` keeps everything in front.
        lfe: feed the LFE channel of layouts that have one.
        seed: seed of the decorrelation filters and synthetic reverb tails.
        levels: apply the common gain of loudspeaker and binaural renders (see the module docstring); ``False``
            returns the plain linear render.
        diffuse_field: diffuse-field equalise the HRIRs (binaural).
    """

    def __init__(
        self,
        layout: str = "5.1",
        placement: str | os.PathLike | Mapping[str, Any] | Placement = DEFAULT_PRESET,
        hrtf: str | os.PathLike | Hrtf | None = None,
        *,
        ambience: bool = True,
        lfe: bool = True,
        seed: int = 0,
        levels: bool = True,
        diffuse_field: bool = True,
    ) -> None:
        self.layout = check_format(layout)
        self.placement = load_placement(placement)
        self.ambience = bool(ambience)
        self.lfe = bool(lfe)
        self.seed = int(seed)
        self.levels = bool(levels)
        self._hrtf: Hrtf | None = None
        if self.layout == BINAURAL:
            hrtf_set = hrtf if isinstance(hrtf, Hrtf) else load_sofa(hrtf)
            self._hrtf = hrtf_set.diffuse_field_equalized() if diffuse_field else hrtf_set
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

    @property
    def sets_levels(self) -> bool:
        """True when renders get the common gain (loudspeaker layouts and binaural, with ``levels`` on)."""
        return self.levels and (self.layout in LOUDSPEAKER_LAYOUTS or self.layout == BINAURAL)

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
        """Each stem's channels placed as virtual sources, rendered alone, without ambience, LFE or level gain.

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

    def render(self, stems: Mapping[str, Audio], dry_stems: Mapping[str, Audio] | None = None,
               estimates: Mapping[str, Mapping[str, Any]] | None = None) -> Audio:
        """Render the stems to this format (see :meth:`render_with_levels`)."""
        return self.render_with_levels(stems, dry_stems, estimates)[0]

    def render_with_levels(
        self, stems: Mapping[str, Audio], dry_stems: Mapping[str, Audio] | None = None,
        estimates: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> tuple[Audio, RenderLevels | None]:
        """Render the stems to this format, in memory.

        Args:
            stems: stem name -> ``Audio`` as separated (any channel count, one sample rate and length for all);
                their sum is the input whose level the render matches.
            dry_stems: optional stem name -> the stem with its effects removed (any subset of the stems). A stem
                with a dry version is played dry, and the reverberation removed from it (stem minus dry) joins
                the extracted ambience, unless its estimate says ``"reverb_removed": false``.
            estimates: optional per-stem estimates: ``reverb_removed`` (bool, see above) and, for a placement
                with synthetic ambience, ``rt60_s`` and ``wet_level`` or ``drr_db``.

        Returns:
            ``Audio`` shaped ``[len(self.labels), T]`` (float32), channels in the order of :attr:`labels`, and
            its levels (``None`` when no common gain is set: ambisonics, or ``levels=False``).
        """
        check_stems(stems)
        if dry_stems:
            check_stems({**stems, **dry_stems})
        readers = {name: TensorReader(audio.samples, audio.sample_rate) for name, audio in stems.items()}
        dry_readers = {name: TensorReader(audio.samples, audio.sample_rate) for name, audio in (dry_stems or {}).items()}
        source, engine, reference = self._prepare(readers, dry_readers, estimates)
        out = np.zeros((len(self.labels), source.num_samples), dtype=np.float32)
        meter = self._meter(source.sample_rate)
        position = 0
        for block in render_blocks(engine, source, source.num_samples):
            meter.update(block)
            out[:, position : position + block.shape[1]] = block
            position += block.shape[1]
        if not self.sets_levels:
            return Audio(torch.from_numpy(out), source.sample_rate), None
        gain_db, limit = common_gain_db(meter, reference, self.layout == BINAURAL)
        written, position, limiter_db = self._meter(source.sample_rate), 0, 0.0
        finished = np.empty_like(out)
        for block, reduction in finished_blocks(padded_reader(out), out.shape[1], source.sample_rate, gain_db, limit):
            written.update(block)
            finished[:, position : position + block.shape[1]] = block
            position, limiter_db = position + block.shape[1], max(limiter_db, reduction)
        levels = final_levels(written, reference, gain_db, limiter_db)
        return Audio(torch.from_numpy(finished), source.sample_rate), levels

    def render_files(
        self, stem_paths: Mapping[str, str | os.PathLike], path: str | os.PathLike,
        dry_paths: Mapping[str, str | os.PathLike] | None = None,
        estimates: Mapping[str, Mapping[str, Any]] | None = None, overwrite: bool = False,
        on_block: Callable[[np.ndarray], None] | None = None,
    ) -> RenderLevels | None:
        """Render stem files on disk into a float32 ``WAVE_FORMAT_EXTENSIBLE`` file, block by block.

        Memory stays flat with song length: stems are read span by span, and the common gain is found in a
        first pass that writes a temporary float file next to ``path`` (removed afterwards).

        Args:
            stem_paths: stem name -> audio file of the stem.
            path: the render file to write.
            dry_paths: stem name -> audio file of its dry version (as ``dry_stems`` of :meth:`render_with_levels`).
            estimates: as in :meth:`render_with_levels`.
            overwrite: replace an existing ``path``.
            on_block: called with each finished block ``[channels, n]`` as it is written (meters, progress).

        Returns:
            The render's levels (``None`` when no common gain is set).
        """
        source, engine, reference = self._prepare(file_readers(stem_paths), file_readers(dry_paths or {}),
                                                  estimates)
        channels, total = len(self.labels), source.num_samples
        try:
            if not self.sets_levels:
                with WavExtensibleWriter(path, channels, source.sample_rate, self.channel_mask, total,
                                         overwrite) as writer:
                    for block in render_blocks(engine, source, total):
                        writer.write(block)
                        if on_block is not None:
                            on_block(block)
                return None
            meter = self._meter(source.sample_rate)
            fd, scratch = tempfile.mkstemp(prefix=f".{Path(path).stem}.", suffix=".float32", dir=Path(path).parent)
            try:
                with os.fdopen(fd, "wb") as handle:
                    for block in render_blocks(engine, source, total):
                        meter.update(block)
                        handle.write(np.ascontiguousarray(block.T, dtype="<f4").tobytes())
                gain_db, limit = common_gain_db(meter, reference, self.layout == BINAURAL)
                written, limiter_db = self._meter(source.sample_rate), 0.0
                with open(scratch, "rb") as first_pass, WavExtensibleWriter(
                        path, channels, source.sample_rate, self.channel_mask, total, overwrite) as writer:
                    read = float_file_reader(first_pass, channels, total)
                    for block, reduction in finished_blocks(read, total, source.sample_rate, gain_db, limit):
                        written.update(block)
                        writer.write(block)
                        limiter_db = max(limiter_db, reduction)
                        if on_block is not None:
                            on_block(block)
            finally:
                Path(scratch).unlink(missing_ok=True)
            return final_levels(written, reference, gain_db, limiter_db)
        finally:
            source.close()

    def _prepare(self, stems, dry, estimates) -> tuple[StemBlockSource, RenderEngine, SignalMeter]:
        estimates = dict(estimates or {})
        unknown = sorted(set(estimates) - set(stems))
        if unknown:
            raise InputError(f"reverb estimates for unknown stem(s) {', '.join(map(repr, unknown))}")
        self.placement.check_stems(stems)
        residual = set()
        if self.placement.extraction is not None and self.placement.extraction.reverb:
            residual = {name for name in dry if (estimates.get(name) or {}).get("reverb_removed", True) is not False}
        probe = StemBlockSource(stems, dry, residual)
        reference = SignalMeter(probe.sample_rate, np.ones(probe.input_channels), np.ones(probe.input_channels))
        probe.meter = reference
        engine = RenderEngine(self, probe.sample_rate, probe.channels, residual, estimates)
        return probe, engine, reference

    def _meter(self, sample_rate: int) -> SignalMeter:
        if self.layout in LOUDSPEAKER_LAYOUTS:
            speakers = LOUDSPEAKER_LAYOUTS[self.layout].speakers
            weights = loudness_weights([s.azimuth_deg for s in speakers], [s.elevation_deg for s in speakers],
                                       [s.is_lfe for s in speakers])
            power = np.array([2.0 if s.is_lfe else 1.0 for s in speakers])
            return SignalMeter(sample_rate, weights, power)
        channels = len(self.labels)
        return SignalMeter(sample_rate, np.ones(channels), np.ones(channels))

    def save(self, audio: Audio, path: str | os.PathLike, overwrite: bool = False) -> Path:
        """Write a render of this format as a float32 ``WAVE_FORMAT_EXTENSIBLE`` file with its channel mask."""
        if audio.channels != len(self.labels):
            raise InputError(f"a {self.layout} render has {len(self.labels)} channels, got {audio.channels}")
        return write_wav_extensible(path, audio.samples, audio.sample_rate, self.channel_mask, overwrite=overwrite)


def upmix(
    stems: Mapping[str, Audio],
    layout: str,
    placement: str | os.PathLike | Mapping[str, Any] | Placement = DEFAULT_PRESET,
    dry_stems: Mapping[str, Audio] | None = None,
    estimates: Mapping[str, Mapping[str, Any]] | None = None,
    **options: Any,
) -> Audio:
    """One-shot render: ``Upmixer(layout, placement, **options).render(stems, dry_stems, estimates)``."""
    return Upmixer(layout, placement, **options).render(stems, dry_stems, estimates)
