"""The block-wise render engine behind :class:`~deconstruct.spatial.upmixer.Upmixer`.

A render is the sum of a few *paths*, each a chain of stateful block processors (:mod:`~.streams`), lined up to
one common latency by delay lines:

* **extraction** (placements with ``"extraction"``, the default ``"surround"`` preset): one STFT of every stem
  (its dry version where there is one, and the reverberation removed from it). Per stem and time-frequency bin,
  the primary part (:mod:`~.decomposition`) is panned by VBAP to the direction the stereo mix gives it, mapped
  onto the stem's azimuth and width, with the inter-channel phase kept for the loudspeakers on the right side;
  the ambient part plus the removed reverberation is split between the stem's own front directions
  (``front_share`` of its power) and a stereo *ambience bus*. Mono stems are placed as they are. The output of
  this stage is a *bed*: the loudspeaker layout itself, or 7.1.4 for binaural and ambisonics, whose loudspeaker
  feeds are then rendered through their HRIR pairs or encoded at their directions (virtual loudspeakers).
* **ambience bus -> bed**: each surround or height loudspeaker of the bed gets the bus side it is on (left for
  positive azimuths, right for negative, both at -3 dB on the median plane) through its own decorrelation filter
  (mutually decorrelated unit-energy noise bursts, :func:`~.ambience.reverb_tails`, 20 ms pre-delay, 60 dB decay
  in ``DECORRELATION_DECAY_S``), ear-level loudspeakers sharing ``1 - height_share`` of the bus power and height
  loudspeakers ``height_share``.
* **direct** (placements without extraction, e.g. ``"stage"``): each stem's channels as virtual sources rendered by
  the output format's point renderer (VBAP gains, nearest HRIR pair, SH gains), exactly as before, plus the
  placement's synthetic ambience when it has one.
* **LFE**: the mono sum of the stems (placement gains applied) through the linear-phase low-pass of
  :mod:`~.lfe`; the other paths are delayed to line up with its delay.

Blocks are whole multiples of the STFT hop; :func:`render_blocks` feeds the engine from readers, pads the last
block, flushes the latency and yields exactly the input's length.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Callable

import numpy as np

from deconstruct.spatial.ambience import reverb_tails
from deconstruct.spatial.decomposition import PrimaryAmbientDecomposer, recorded_azimuth_deg
from deconstruct.spatial.layouts import LOUDSPEAKER_LAYOUTS, LoudspeakerLayout, check_format
from deconstruct.spatial.lfe import LFE_TAPS, lfe_filter
from deconstruct.spatial.loudspeaker import LoudspeakerRenderer
from deconstruct.spatial.rendering import stem_responses
from deconstruct.spatial.spread import RECORDED_WIDTH_DEG, virtual_sources
from deconstruct.spatial.streams import DelayLine, FirStream, StftStream

if TYPE_CHECKING:
    from deconstruct.spatial.upmixer import Upmixer

N_FFT = 2048
HOP = 512
BLOCK_HOPS = 64
BED_FOR_VIRTUAL_LOUDSPEAKERS = "7.1.4"
DECORRELATION_DECAY_S = 0.08
AMBIENCE_MIN_AZIMUTH_DEG = 60.0
PAN_GRID = 513


def is_ambience_speaker(azimuth_deg: float, elevation_deg: float) -> bool:
    """Surround and height loudspeakers carry ambience: at least 60 degrees off the front axis, or above."""
    return abs(azimuth_deg) >= AMBIENCE_MIN_AZIMUTH_DEG or elevation_deg > 0.0


def ambience_directions(layout: str) -> list[tuple[float, float]]:
    """Directions ``(azimuth_deg, elevation_deg)`` that carry ambience in an output format.

    Loudspeaker layouts use their surround and height loudspeakers (none on 2.0); binaural and ambisonics use
    those of 7.1.4.
    """
    check_format(layout)
    reference = LOUDSPEAKER_LAYOUTS.get(layout, LOUDSPEAKER_LAYOUTS[BED_FOR_VIRTUAL_LOUDSPEAKERS])
    return [(s.azimuth_deg, s.elevation_deg) for s in reference.speakers
            if not s.is_lfe and is_ambience_speaker(s.azimuth_deg, s.elevation_deg)]


class RenderEngine:
    """Renders blocks of stems to one output format (see the module docstring).

    Args:
        upmixer: the configured :class:`~deconstruct.spatial.upmixer.Upmixer`.
        sample_rate: in Hz.
        channels: stem name -> channel count.
        residual_names: stems whose removed reverberation (stem minus dry) is given to :meth:`process`.
        estimates: per-stem reverb estimates for the placement's synthetic ambience.
    """

    def __init__(self, upmixer: "Upmixer", sample_rate: int, channels: Mapping[str, int],
                 residual_names: set[str] | frozenset[str] = frozenset(),
                 estimates: Mapping[str, Mapping] | None = None) -> None:
        self.upmixer, self.sample_rate = upmixer, int(sample_rate)
        self.channels = dict(channels)
        self.placement = upmixer.placement
        self.extraction = self.placement.extraction
        self.residual_names = set(residual_names) if self.extraction is not None else set()
        self.outputs = len(upmixer.labels)
        self.gains = {name: 10.0 ** (self.placement.for_stem(name).gain_db / 20.0) for name in self.channels}
        self._latencies: dict[str, int] = {}
        self._lfe = self._lfe_path()
        if self.extraction is not None:
            self._build_extraction()
        else:
            self._build_direct(estimates or {})
        self.latency = max(self._latencies.values())
        self._delays = {path: DelayLine(self.outputs, self.latency - latency)
                        for path, latency in self._latencies.items()}

    # -- construction --------------------------------------------------------------------------------------------
    def _lfe_path(self) -> FirStream | None:
        layout = LOUDSPEAKER_LAYOUTS.get(self.upmixer.layout)
        if not self.upmixer.lfe or layout is None or layout.lfe_index is None:
            return None
        responses = np.zeros((1, self.outputs, LFE_TAPS))
        responses[0, layout.lfe_index] = lfe_filter(self.sample_rate)
        self._latencies["lfe"] = (LFE_TAPS - 1) // 2
        return FirStream(responses)

    def _build_direct(self, estimates: Mapping[str, Mapping]) -> None:
        renderer = self.upmixer.renderer(self.sample_rate)
        self._direct = {}
        for name, count in self.channels.items():
            place = self.placement.for_stem(name)
            sources = virtual_sources(place.azimuth_deg, place.elevation_deg, place.width_deg, count)
            self._direct[name] = FirStream(stem_responses(renderer, sources, count) * self.gains[name])
        self._synthetic = {}
        if self.upmixer.ambience and self.placement.ambience is not None:
            directions = ambience_directions(self.upmixer.layout)
            if directions:
                responses = [renderer.response(azimuth, elevation) for azimuth, elevation in directions]
                for name in self.channels:
                    where = f"reverb_estimates.{name}"
                    settings = self.placement.ambience.with_estimate(estimates.get(name), where)
                    seed = zlib.crc32(name.encode()) ^ self.upmixer.seed
                    tails = reverb_tails(len(directions), settings.rt60_s, self.sample_rate, seed)
                    tails *= settings.wet_level / math.sqrt(len(directions))
                    self._synthetic[name] = FirStream(_convolved(tails, responses)[None])
        self._latencies["direct"] = 0

    def _build_extraction(self) -> None:
        assert self.extraction is not None
        bed_name = self.upmixer.layout if self.upmixer.layout in LOUDSPEAKER_LAYOUTS else BED_FOR_VIRTUAL_LOUDSPEAKERS
        self.bed: LoudspeakerLayout = LOUDSPEAKER_LAYOUTS[bed_name]
        self._bed_renderer = LoudspeakerRenderer(self.bed)
        speakers = self.bed.speakers
        self._right = np.array([s.azimuth_deg < 0.0 for s in speakers])
        self._ambience_speakers = [i for i, s in enumerate(speakers)
                                   if not s.is_lfe and is_ambience_speaker(s.azimuth_deg, s.elevation_deg)]
        if not self.upmixer.ambience:
            self._ambience_speakers = []
        front_share = self.extraction.front_share if self._ambience_speakers else 1.0
        self._front_amplitude, self._bus_amplitude = math.sqrt(front_share), math.sqrt(1.0 - front_share)
        self._tables, tables = {}, {}
        self._edges = {}
        self._mono_gains = {}
        for name, count in self.channels.items():
            place = self.placement.for_stem(name)
            width = RECORDED_WIDTH_DEG if place.width_deg is None else place.width_deg
            if count == 2:
                key = (place.azimuth_deg, place.elevation_deg, width)
                if key not in tables:  # stems placed alike share one table
                    azimuths = place.azimuth_deg + recorded_azimuth_deg(np.linspace(-1.0, 1.0, PAN_GRID), width)
                    tables[key] = np.stack([self._bed_renderer.gains(a, place.elevation_deg) for a in azimuths])
                self._tables[name] = tables[key]
                edge = max(width, RECORDED_WIDTH_DEG) / 2.0
                self._edges[name] = np.stack([self._bed_renderer.gains(place.azimuth_deg + side * edge,
                                                                       place.elevation_deg) for side in (1, -1)])
            else:
                sources = virtual_sources(place.azimuth_deg, place.elevation_deg, place.width_deg, count)
                self._mono_gains[name] = stem_responses(self._bed_renderer, sources, count)[:, :, 0]
        hop_s = HOP / self.sample_rate
        self._decomposers = {name: PrimaryAmbientDecomposer(N_FFT // 2 + 1, hop_s, self.extraction.smoothing_ms)
                             for name, count in self.channels.items() if count == 2}
        self._inputs = []  # (name, kind, first channel, channel count) in the STFT input order
        first = 0
        for name, count in self.channels.items():
            self._inputs.append((name, "front", first, count))
            first += count
            if name in self.residual_names:
                self._inputs.append((name, "residual", first, count))
                first += count
        self._stft = StftStream(first, self.bed.num_channels + 2, self._frames, N_FFT, HOP)
        self._bus = FirStream(self._bus_responses())
        self._bed_to_output = self._virtual_loudspeakers()
        self._latencies["extraction"] = self._stft.latency

    def _bus_responses(self) -> np.ndarray:
        assert self.extraction is not None
        speakers = self.bed.speakers
        count = len(self._ambience_speakers)
        responses = np.zeros((2, self.bed.num_channels, int(round((0.02 + DECORRELATION_DECAY_S) * self.sample_rate))))
        if not count:
            return responses[:, :, :1]
        heights = [i for i in self._ambience_speakers if speakers[i].elevation_deg > 0.0]
        level = [i for i in self._ambience_speakers if i not in heights]
        height_share = self.extraction.height_share if heights and level else (1.0 if heights else 0.0)
        tails = reverb_tails(count, DECORRELATION_DECAY_S, self.sample_rate, seed=self.upmixer.seed)
        for tail, index in zip(tails, self._ambience_speakers):
            group = heights if index in heights else level
            share = (height_share if index in heights else 1.0 - height_share) / (len(group) / 2.0)
            azimuth = speakers[index].azimuth_deg
            sides = [0] if azimuth > 0 and azimuth < 180 else [1] if azimuth < 0 else [0, 1]
            for side in sides:
                responses[side, index, : tail.size] = tail * math.sqrt(share / len(sides))
        return responses

    def _virtual_loudspeakers(self) -> FirStream | None:
        if self.upmixer.layout in LOUDSPEAKER_LAYOUTS:
            return None
        renderer = self.upmixer.renderer(self.sample_rate)
        responses = [None if s.is_lfe else renderer.response(s.azimuth_deg, s.elevation_deg) for s in self.bed.speakers]
        taps = max(r.shape[1] for r in responses if r is not None)
        stacked = np.zeros((self.bed.num_channels, self.outputs, taps))
        for index, response in enumerate(responses):
            if response is not None:
                stacked[index, :, : response.shape[1]] = response
        return FirStream(stacked)

    # -- processing ----------------------------------------------------------------------------------------------
    def _frames(self, spectra: np.ndarray) -> np.ndarray:
        """STFT frame operation of the extraction path: ``[frames, inputs, bins]`` -> ``[frames, bed + 2, bins]``."""
        frames, _, bins = spectra.shape
        bed = np.zeros((frames, self.bed.num_channels, bins), dtype=np.complex128)
        bus = np.zeros((frames, 2, bins), dtype=np.complex128)
        ambience: dict[str, np.ndarray] = {}
        for name, kind, first, count in self._inputs:
            block = spectra[:, first : first + count] * self.gains[name]
            if kind == "residual":
                ambience[name] = ambience.get(name, 0.0) + block
            elif count == 2:
                decomposition = self._decomposers[name](block)
                self._pan_primary(bed, name, decomposition.primary, decomposition.pan, decomposition.rotation)
                ambience[name] = ambience.get(name, 0.0) + decomposition.ambient
            else:
                bed += np.einsum("co,fcb->fob", self._mono_gains[name], block)
        for name, signal in ambience.items():
            stereo = signal if signal.shape[1] == 2 else np.repeat(signal.mean(axis=1, keepdims=True), 2, axis=1)
            if signal.shape[1] == 1:
                stereo = stereo / math.sqrt(2.0)
            edges = self._edges.get(name)
            if edges is None:  # mono stem: its front ambience goes where the stem is
                gains = self._mono_gains[name].sum(axis=0)
                edges = np.stack([gains, gains]) / max(np.linalg.norm(gains), 1e-12)
            bed += self._front_amplitude * np.einsum("so,fsb->fob", edges, stereo)
            bus += self._bus_amplitude * stereo
        return np.concatenate([bed, bus], axis=1)

    def _pan_primary(self, bed: np.ndarray, name: str, primary: np.ndarray, pan: np.ndarray,
                     rotation: np.ndarray) -> None:
        """Add the primary ``[frames, bins]`` panned by its index ``pan`` into ``bed`` ``[frames, bed, bins]``.

        Gains come from the stem's table (nearest of ``PAN_GRID`` pan positions: within 0.1 degree). Loudspeakers
        on the right (negative azimuth) get the primary with the right channel's phase ``e^(j phi) s``, the others
        with the left channel's (``s``), so the stereo pair itself gets back exactly the primary ``v s``.
        """
        table = self._tables[name]
        index = np.rint((pan + 1.0) * 0.5 * (PAN_GRID - 1)).astype(np.intp)
        right_phase = None
        for speaker in np.flatnonzero(table.any(axis=0)):
            if self._right[speaker]:
                right_phase = primary * rotation if right_phase is None else right_phase
                bed[:, speaker] += table[index, speaker] * right_phase
            else:
                bed[:, speaker] += table[index, speaker] * primary

    def process(self, fronts: Mapping[str, np.ndarray], residuals: Mapping[str, np.ndarray]) -> np.ndarray:
        """Render one block.

        Args:
            fronts: stem name -> ``[channels, n]`` (the dry stem where there is one).
            residuals: stem name -> ``[channels, n]`` removed reverberation, for :attr:`residual_names`.

        Returns:
            ``[outputs, n]`` float64, delayed by :attr:`latency` samples.
        """
        length = next(iter(fronts.values())).shape[1]
        out = np.zeros((self.outputs, length))
        if self._lfe is not None:
            mono = sum(self.gains[name] * (fronts[name] + residuals.get(name, 0.0)).mean(axis=0)
                       for name in self.channels)
            out += self._delays["lfe"].process(self._lfe.process(np.asarray(mono)[None, :]))
        if self.extraction is not None:
            inputs = [fronts[name] if kind == "front" else residuals[name] for name, kind, _, _ in self._inputs]
            spectra = self._stft.process(np.concatenate(inputs, axis=0))
            bed = spectra[: self.bed.num_channels] + self._bus.process(spectra[self.bed.num_channels :])
            rendered = bed if self._bed_to_output is None else self._bed_to_output.process(bed)
            out += self._delays["extraction"].process(rendered)
            return out
        direct = np.zeros((self.outputs, length))
        for name, stream in self._direct.items():
            direct += stream.process(fronts[name])
        for name, stream in self._synthetic.items():
            direct += stream.process(fronts[name].mean(axis=0, keepdims=True) * self.gains[name])
        out += self._delays["direct"].process(direct)
        return out


def _convolved(tails: np.ndarray, responses: list[np.ndarray]) -> np.ndarray:
    """``sum_d tails[d] * responses[d]`` -> ``[outputs, taps]``."""
    taps = tails.shape[1] + max(r.shape[1] for r in responses) - 1
    out = np.zeros((responses[0].shape[0], taps))
    for tail, response in zip(tails, responses):
        for output in range(response.shape[0]):
            if np.any(response[output]):
                piece = np.convolve(tail, response[output])
                out[output, : piece.size] += piece
    return out


BlockSource = Callable[[int, int], tuple[dict[str, np.ndarray], dict[str, np.ndarray]]]
"""``(start, stop) -> (fronts, residuals)`` blocks ``[channels, stop - start]`` float64."""


def render_blocks(engine: RenderEngine, read: BlockSource, num_samples: int,
                  block_hops: int = BLOCK_HOPS) -> Iterator[np.ndarray]:
    """Run ``engine`` over a song read block by block; yields output blocks summing to ``num_samples`` samples."""
    block = block_hops * HOP
    position, emitted, skip = 0, 0, engine.latency
    zeros_template: tuple[dict[str, np.ndarray], dict[str, np.ndarray]] | None = None
    while emitted < num_samples:
        if position < num_samples:
            stop = min(position + block, num_samples)
            fronts, residuals = read(position, stop)
            padding = (-(stop - position)) % HOP
            if padding:
                fronts = {k: np.pad(v, ((0, 0), (0, padding))) for k, v in fronts.items()}
                residuals = {k: np.pad(v, ((0, 0), (0, padding))) for k, v in residuals.items()}
            position = stop
        else:
            if zeros_template is None:
                zeros_template = ({k: np.zeros((c, block)) for k, c in engine.channels.items()},
                                  {k: np.zeros((engine.channels[k], block)) for k in engine.residual_names})
            fronts, residuals = zeros_template
        out = engine.process(fronts, residuals)
        if skip:
            dropped = min(skip, out.shape[1])
            out, skip = out[:, dropped:], skip - dropped
        out = out[:, : num_samples - emitted]
        if out.shape[1]:
            emitted += out.shape[1]
            yield out
