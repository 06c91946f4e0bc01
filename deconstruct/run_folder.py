"""Deconstructing a song file into a result folder in flat memory: what ``deconstruct SONG -o OUT`` runs.

Every stage streams: separation from the input file into stem files, analysis from the stem files a few windows at
a time, removal in blocks with a warm-up before each (:func:`remove_in_blocks`), the running resynthesis and every
render block by block from the dry stem files. Memory therefore does not grow with the song's length.

Files are first written as float32 under temporary names (:class:`~deconstruct.outputs.OutputFolder`). For 16- or
24-bit output a second pass converts them (:func:`~deconstruct.streaming.convert_wav`, the one PCM conversion of
every file) with **one common gain** for all stems and dry stems, chosen so that none of them clips (or set by hand
with ``headroom_db``), so the stems still sum to the (gained) mixture and dry and wet stems keep their relation; a
render gets the same gain, or less when its own peak needs it. The gain is recorded in report.json
(``pcm_gain_db``). A failure anywhere (an error, Ctrl-C, SIGTERM, a full disk) leaves the folder as it was found.

report.json gets ``timings_s``: ``startup`` (process start to the first stage, model loading included, when the
caller measures it), each stage, each render, ``pcm`` (the conversion pass) and ``report``; they add up to the wall
time of the run.
"""

from __future__ import annotations

import os
import time
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import soundfile as sf
import torch

from deconstruct.audio import Audio
from deconstruct.errors import DeconstructError, InputError
from deconstruct.outputs import OutputFolder, disk_error
from deconstruct.streaming import (
    BIT_DEPTHS,
    FileReader,
    LevelMeter,
    WavWriter,
    convert_wav,
    pcm_gain_db,
)

if TYPE_CHECKING:
    from deconstruct.pipeline import Deconstructor

BLOCK_S = 30.0
"""Block length of the streamed stages, s."""
SCORE_BLOCK = 30 * 44100
"""Block length (samples) of the resynthesis' MR-STFT distance (as :func:`deconstruct.pipeline.resynthesis_scores`)."""

ProgressFactory = Callable[[str, int], Any]
"""``progress(description, total_samples)`` returns a bar with ``update(samples)`` and ``close()`` (tqdm's)."""


class _NoBar:
    def update(self, count: int) -> None:
        return None

    def close(self) -> None:
        return None


def _no_progress(description: str, total: int) -> _NoBar:
    return _NoBar()


class Stopwatch:
    """Contiguous stage times: each :meth:`lap` adds the time since the previous one to a named entry."""

    def __init__(self, startup_s: float | None = None) -> None:
        self.times: dict[str, float] = {} if startup_s is None else {"startup": round(float(startup_s), 3)}
        self._last = time.perf_counter()

    def lap(self, name: str) -> float:
        now = time.perf_counter()
        spent = now - self._last
        self.times[name] = round(self.times.get(name, 0.0) + spent, 3)
        self._last = now
        return spent


@dataclass
class StagedAudio:
    """An audio output being written: its relative path, format facts and running levels."""

    relative: str
    sample_rate: int
    channels: int
    channel_mask: int = 0
    meter: LevelMeter = field(init=False)

    def __post_init__(self) -> None:
        self.meter = LevelMeter(self.sample_rate, self.channels)

    @property
    def peak(self) -> float:
        return self.meter._peak

    def entry(self, gain_db: float = 0.0) -> dict[str, Any]:
        """``{file, loudness_lufs, peak_dbfs}`` of the file as written (levels include ``gain_db``)."""
        return {"file": self.relative, "loudness_lufs": round(self.meter.loudness_lufs() + gain_db, 2),
                "peak_dbfs": round(self.meter.peak_dbfs() + gain_db, 2)}


class StagedWriter:
    """Writes the blocks of one output into its float32 temporary and meters them."""

    def __init__(self, folder: OutputFolder, staged: StagedAudio) -> None:
        self.staged = staged
        self.path = folder.temp_path(staged.relative)
        self._writer = WavWriter(self.path, staged.sample_rate, staged.channels, "float32", staged.channel_mask)

    def write(self, block: torch.Tensor | np.ndarray) -> None:
        block = torch.as_tensor(np.asarray(block, dtype=np.float32)) if isinstance(block, np.ndarray) else block
        self._writer.write(block)
        self.staged.meter.update(block)

    def close(self) -> None:
        self._writer.close()


def read_whole(path: str | os.PathLike) -> Audio:
    """A float WAV file as :class:`Audio` (for stages that need a whole stem)."""
    data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    return Audio(torch.from_numpy(np.ascontiguousarray(data.T)), int(rate))


class FolderRun:
    """One run of a :class:`~deconstruct.pipeline.Deconstructor` from a song file into a folder.

    Args:
        runner: the loaded stages.
        song: the input file.
        out_dir: the result folder.
        overwrite: replace earlier results in ``out_dir``.
        bit_depth: ``"float32"``, ``"24"`` or ``"16"`` for every file written.
        headroom_db: for PCM output, the common gain (``-headroom_db`` dB) chosen by hand instead of automatically.
        progress: a progress-bar factory (see :data:`ProgressFactory`); ``None``: silent.
        startup_s: seconds the process spent before this run (imports, model loading), reported as ``startup``.
    """

    def __init__(self, runner: "Deconstructor", song: str | os.PathLike, out_dir: str | os.PathLike,
                 overwrite: bool = False, bit_depth: str = "float32", headroom_db: float | None = None,
                 progress: ProgressFactory | None = None, startup_s: float | None = None) -> None:
        if bit_depth not in BIT_DEPTHS:
            raise InputError(f"unknown bit depth {bit_depth!r}; use one of {', '.join(BIT_DEPTHS)}")
        if headroom_db is not None and not (0.0 <= float(headroom_db) <= 60.0):
            raise InputError(f"--headroom-db must lie in [0, 60] dB, got {headroom_db}")
        self.runner, self.song = runner, Path(song)
        self.bit_depth, self.headroom_db = bit_depth, headroom_db
        self.progress = progress or _no_progress
        self.clock = Stopwatch(startup_s)
        self.reader = FileReader(song)
        self.folder = OutputFolder(out_dir, overwrite=overwrite)
        self.block = max(int(BLOCK_S * self.reader.sample_rate), 1024)
        self.stem_paths: dict[str, Path] = {}
        self.dry_paths: dict[str, Path] = {}

    def run(self) -> Path:
        """Run every stage and commit the folder; on any failure leave it as it was found."""
        try:
            try:
                self._stages()
            except (DeconstructError, KeyboardInterrupt, SystemExit):
                raise
            except Exception as error:
                mapped = disk_error(error, self.folder.root)
                if mapped is not None:
                    raise mapped from None
                raise
            self.folder.commit()
        except BaseException:
            self.folder.abort()
            raise
        finally:
            self.reader.close()
        return self.folder.root

    def _bar(self, description: str, total: int):
        return self.progress(description, total)

    def _stages(self) -> None:
        from deconstruct.pipeline import removed_chains

        runner = self.runner
        stems = self.separate()
        self.clock.lap("separation")
        analyses = self.analyze(stems) if runner.analyzer is not None else None
        if analyses is not None:
            self.clock.lap("analysis")
        dry, removals = (self.remove(stems, analyses) if runner.removes else (None, None))
        if dry is not None:
            self.clock.lap("removal")
        resynthesis = (self.resynthesize(dry, removed_chains(analyses, removals))  # what was removed, only
                       if dry is not None else None)
        if resynthesis is not None:
            self.clock.lap("resynthesis")
        sources = dry if dry is not None else stems
        renders = self.render(sources, analyses, removals)
        gains = self.convert_to_pcm(stems, dry or {}, renders)
        if gains is not None:
            self.clock.lap("pcm")
        self.write_report(stems, analyses, dry, removals, renders, resynthesis, gains)

    # --- stages -------------------------------------------------------------------------------------------------

    def separate(self) -> dict[str, StagedAudio]:
        """Stream the separation from the input file into one float32 file per stem."""
        reader, names = self.reader, self.runner.separator.stems
        stems = {name: StagedAudio(f"stems/{name}.wav", reader.sample_rate, reader.channels) for name in names}
        writers = {name: StagedWriter(self.folder, staged) for name, staged in stems.items()}
        self.mixture = LevelMeter(reader.sample_rate, reader.channels)
        self.stem_paths = {name: writer.path for name, writer in writers.items()}
        bar, done = self._bar("separating", reader.num_samples), 0
        try:
            for block in self.runner.separator.stream(reader):
                length = block.shape[-1]
                self.mixture.update(reader.read(done, done + length))
                for index, name in enumerate(names):
                    writers[name].write(block[index])
                done += length
                bar.update(length)
        finally:
            bar.close()
        for writer in writers.values():
            writer.close()
        return stems

    def analyze(self, stems: Mapping[str, StagedAudio]) -> dict[str, Any]:
        """Analyse each stem from its file, a few windows at a time."""
        analyses = {}
        bar = self._bar("analysing", self.reader.num_samples * len(stems))
        try:
            for name in stems:
                stem = FileReader(self.stem_paths[name])
                try:
                    analyses[name] = self.runner.analyzer.analyze_reader(stem, progress=bar.update)
                finally:
                    stem.close()
        finally:
            bar.close()
        return analyses

    def remove(self, stems: Mapping[str, StagedAudio], analyses: Mapping[str, Any]
               ) -> tuple[dict[str, StagedAudio], dict[str, list[dict[str, Any]]]]:
        """Remove the detected effects of each stem into its dry file (:func:`remove_in_blocks`)."""
        dry, removals = {}, {}
        bar = self._bar("removing effects", self.reader.num_samples * len(stems))
        try:
            for name, stem in stems.items():
                staged = StagedAudio(f"dry/{name}.wav", stem.sample_rate, stem.channels)
                writer = StagedWriter(self.folder, staged)
                source = FileReader(self.stem_paths[name])
                try:
                    removals[name] = remove_in_blocks(self.runner, source, list(analyses[name]),
                                                      writer.write, self.block, bar.update)
                finally:
                    source.close()
                writer.close()
                dry[name], self.dry_paths[name] = staged, writer.path
        finally:
            bar.close()
        return dry, removals

    def resynthesize(self, dry: Mapping[str, StagedAudio], analyses: Mapping[str, Any]) -> dict[str, float]:
        """Re-apply each stem's estimated chain to its dry file, sum, and score against the input, block-wise."""
        bar = self._bar("resynthesis", self.reader.num_samples)
        readers = {name: FileReader(self.dry_paths[name]) for name in dry}
        try:
            return streaming_resynthesis(self.reader, readers, analyses, progress=bar.update)
        finally:
            for reader in readers.values():
                reader.close()
            bar.close()

    def render(self, sources: Mapping[str, StagedAudio], analyses: Mapping[str, Any] | None,
               removals: Mapping[str, Any] | None = None) -> dict[str, tuple[StagedAudio, tuple[str, ...], float]]:
        """Every upmix and the remix, block by block where the renderer streams; returns staged files."""
        from deconstruct.pipeline import REMIX, upmix_estimates

        paths = self.dry_paths or self.stem_paths
        renders = {}
        estimates = upmix_estimates(analyses, removals)
        for fmt, upmixer in self.runner.upmixers.items():
            started = time.perf_counter()
            staged = self._render_upmix(fmt, upmixer, paths, estimates)
            self.clock.lap("render")
            renders[fmt] = (staged, tuple(upmixer.labels), round(time.perf_counter() - started, 3))
        if self.runner.remix_settings is not None:
            started = time.perf_counter()
            staged = self._render_remix(paths)
            self.clock.lap("render")
            renders[REMIX] = (staged, ("L", "R"), round(time.perf_counter() - started, 3))
        return renders

    def _render_upmix(self, fmt: str, upmixer: Any, paths: Mapping[str, Path], estimates) -> StagedAudio:
        from deconstruct.spatial import channel_mask

        staged = StagedAudio(f"render/{fmt}.wav", self.reader.sample_rate, len(upmixer.labels), channel_mask(fmt))
        if hasattr(upmixer, "render_files"):  # two passes from the stem and dry files: common gain, levels
            bar = self._bar(f"rendering {fmt}", self.reader.num_samples)

            def written(block: np.ndarray) -> None:
                staged.meter._peak = max(staged.meter._peak, float(np.abs(block).max(initial=0.0)))
                bar.update(block.shape[-1])

            try:
                staged.levels = upmixer.render_files(self.stem_paths, self.folder.temp_path(staged.relative),
                                                     dry_paths=self.dry_paths, estimates=estimates, overwrite=True,
                                                     on_block=written)
            finally:
                bar.close()
            return staged
        writer = StagedWriter(self.folder, staged)
        bar = self._bar(f"rendering {fmt}", self.reader.num_samples)
        readers = {name: FileReader(path) for name, path in paths.items()}
        try:
            stream = getattr(upmixer, "render_stream", None)
            if stream is not None:  # block-wise renderer: blocks of every stem in, blocks of the render out
                for block in stream(readers, estimates, self.block):
                    writer.write(block)
                    bar.update(block.shape[-1])
            else:
                stems = {name: read_whole(path) for name, path in paths.items()}
                audio = upmixer.render(stems, estimates)
                del stems
                for start in range(0, audio.num_samples, self.block):
                    writer.write(audio.samples[:, start:start + self.block])
                    bar.update(min(self.block, audio.num_samples - start))
        finally:
            for reader in readers.values():
                reader.close()
            bar.close()
        writer.close()
        return staged

    def _render_remix(self, paths: Mapping[str, Path]) -> StagedAudio:
        """The stereo remix, block by block (the console is memoryless: gains and pans)."""
        from deconstruct.spatial import remix

        staged = StagedAudio("render/remix.wav", self.reader.sample_rate, 2, 0)
        writer = StagedWriter(self.folder, staged)
        bar = self._bar("rendering remix", self.reader.num_samples)
        readers = {name: FileReader(path) for name, path in paths.items()}
        try:
            for start in range(0, self.reader.num_samples, self.block):
                stop = min(start + self.block, self.reader.num_samples)
                blocks = {name: Audio(reader.read(start, stop), reader.sample_rate) for name, reader in readers.items()}
                writer.write(remix(blocks, self.runner.remix_settings).samples)
                bar.update(stop - start)
        finally:
            for reader in readers.values():
                reader.close()
            bar.close()
        writer.close()
        return staged

    # --- PCM and report -----------------------------------------------------------------------------------------

    def convert_to_pcm(self, stems: Mapping[str, StagedAudio], dry: Mapping[str, StagedAudio],
                       renders: Mapping[str, tuple[StagedAudio, tuple[str, ...], float]]) -> dict[str, float] | None:
        """Second pass for 16/24-bit output: every float temporary converted with the common gain.

        Returns:
            ``{relative path: gain in dB}`` of every converted file, or ``None`` for float32 output.
        """
        if self.bit_depth == "float32":
            return None
        peak = max([s.peak for s in (*stems.values(), *dry.values())] or [0.0])
        common = pcm_gain_db(peak, self.bit_depth, self.headroom_db)
        gains = {s.relative: common for s in (*stems.values(), *dry.values())}
        for staged, _, _ in renders.values():
            own = pcm_gain_db(staged.peak, self.bit_depth, self.headroom_db)
            gains[staged.relative] = min(common, own)
        masks = {staged.relative: staged.channel_mask for staged, _, _ in renders.values()}
        total = sum(self.reader.num_samples for _ in gains)
        bar = self._bar(f"writing {self.bit_depth}-bit", total)
        try:
            for relative, gain in gains.items():
                earlier, target = self.folder.restage(relative)
                convert_wav(earlier, target, self.bit_depth, gain, masks.get(relative, 0),
                            seed=zlib.crc32(Path(relative).stem.encode()),  # a stem and its dry: one dither,
                            progress=bar.update)                             # so an unchanged dry is an exact copy
                earlier.unlink()
        finally:
            bar.close()
        return gains

    def write_report(self, stems, analyses, dry, removals, renders, resynthesis, gains) -> None:
        """Stage report.html and report.json (with ``outputs`` and ``timings_s``)."""
        from deconstruct.pipeline import _later_stages
        from deconstruct.reporting import deconstruction_audio, write_deconstruction_html
        from deconstruct.reporting.report_json import build_report, meter_entry

        gains = gains or {}
        entries = {}
        for name, staged in stems.items():
            entry = staged.entry(gains.get(staged.relative, 0.0))
            dry_entry = dry[name].entry(gains.get(dry[name].relative, 0.0)) if dry else None
            entry.update(_later_stages(name, analyses, dry_entry, removals, self.runner.remove_policy))
            entries[name] = entry
        extras: dict[str, Any] = {"separator": self.runner.separator.report_entry()}
        if renders:
            extras["renders"] = {fmt: {**_render_entry(staged, gains.get(staged.relative, 0.0)), "channels": list(labels),
                                       "time_s": spent,
                                       **({"pcm_gain_db": gains[staged.relative]} if staged.relative in gains else {})}
                                 for fmt, (staged, labels, spent) in renders.items()}
        if resynthesis is not None:
            extras["resynthesis"] = resynthesis
        extras["bit_depth"] = self.bit_depth
        if self.bit_depth != "float32":
            common = [gains[s.relative] for s in stems.values()]
            extras["pcm_gain_db"] = common[0] if common else 0.0
            extras["pcm_headroom"] = "by hand" if self.headroom_db is not None else "automatic"
        extras["outputs"] = sorted([*self.folder.staged(), "report.html", "report.json"])
        timings = self.clock.times
        reader = self.reader
        report = build_report(str(self.song), meter_entry(self.mixture), reader.sample_rate, reader.channels,
                              reader.num_samples / reader.sample_rate, self.runner._models(), timings, entries,
                              extras)
        current = {f"stems/{name}": self.folder.pending_path(s.relative) for name, s in stems.items()}
        audio = deconstruction_audio(self.song, {name: current[f"stems/{name}"] for name in stems},
                                     {name: self.folder.pending_path(s.relative) for name, s in (dry or {}).items()})
        write_deconstruction_html(report, audio, self.folder.temp_path("report.html"))
        self.clock.lap("report")
        report["timings_s"] = {**timings, "total": round(sum(timings.values()), 3)}
        if "render" in timings:
            report["render_time_s"] = timings["render"]
        self.folder.write_json("report.json", report)


def _render_entry(staged: StagedAudio, gain_db: float) -> dict[str, Any]:
    """A render's report entry: an upmix with levels gets its loudness, true peak and common gain from them."""
    levels = getattr(staged, "levels", None)
    if levels is None:
        return staged.entry(gain_db)
    return {"file": staged.relative, "peak_dbfs": round(staged.meter.peak_dbfs() + gain_db, 2),
            **levels.to_dict()}


def remove_in_blocks(remover: Any, reader: FileReader, estimates: list, write: Callable[[torch.Tensor], None],
                     block: int, progress: Callable[[int], None] | None = None) -> list[dict[str, Any]]:
    """Remove a stem's detected effects and write the dry stem block by block.

    The remover (the :class:`~deconstruct.pipeline.Deconstructor`, whose ``remove_stem`` applies its removal
    policy and checks) decides once, on the whole stem read whole, unless it offers a block-wise interface (``remove_stream(reader, estimates, block) -> (blocks, removals)``), which
    is then used so the stem is never held whole.

    Returns:
        The removals applied (JSON-ready).
    """
    stream = getattr(remover, "remove_stream", None)
    if stream is not None:
        blocks, removals = stream(reader, estimates, block)
        for piece in blocks:
            write(piece)
            if progress:
                progress(piece.shape[-1])
        return removals.to_dict() if hasattr(removals, "to_dict") else list(removals)
    audio = Audio(reader.read(0, reader.num_samples), reader.sample_rate)
    result = remover.remove_stem(audio, estimates)  # the runner's removal policy (safe, all, none)
    del audio
    samples = result.audio.samples
    for start in range(0, samples.shape[-1], block):
        write(samples[:, start:start + block])
        if progress:
            progress(min(block, samples.shape[-1] - start))
    return result.to_dict()


def streaming_resynthesis(mixture: FileReader, dry: Mapping[str, FileReader], analyses: Mapping[str, Any],
                          block: int = SCORE_BLOCK, progress: Callable[[int], None] | None = None) -> dict[str, float]:
    """Resynthesis scores of dry stem files against the mixture, block by block (as ``resynthesis_scores``).

    Each stem's detected chain is rebuilt as one pedalboard whose state carries across blocks, so the result is the
    whole-signal rendering's.

    Returns:
        ``sdr_db`` (whole-signal SDR, the challenges' definition) and ``mrstft`` (length-weighted over blocks of
        :data:`SCORE_BLOCK` samples).
    """
    from deconstruct.metrics import mrstft_distance
    from deconstruct.metrics.sdr import MDX_DELTA

    boards = {name: ChainStream(analyses[name], reader.sample_rate, reader.channels) for name, reader in dry.items()}
    signal = noise = weighted = 0.0
    length = mixture.num_samples
    for start in range(0, length, block):
        stop = min(start + block, length)
        reference = mixture.read(start, stop).to(torch.float64)
        total = torch.zeros_like(reference)
        for name, reader in dry.items():
            total += torch.as_tensor(boards[name].process(reader.read(start, stop))).to(torch.float64)
        signal += float(reference.square().sum())
        noise += float((reference - total).square().sum())
        weighted += float(mrstft_distance(reference.float()[None], total.float()[None])) * (stop - start)
        if progress:
            progress(stop - start)
    sdr = 10.0 * np.log10((signal + MDX_DELTA) / (noise + MDX_DELTA))
    return {"sdr_db": round(float(sdr), 3), "mrstft": round(weighted / max(length, 1), 4)}


class ChainStream:
    """A stem's estimated effect chain as a pedalboard run block by block with its state kept.

    Args:
        analysis: the stem's analysis (its detected effects form the chain, :func:`chain_from_estimates`).
        sample_rate: Hz.
        channels: channel count of the blocks (more than two run one channel at a time).
    """

    def __init__(self, analysis: Any, sample_rate: int, channels: int) -> None:
        import pedalboard

        from deconstruct.effects.chain import chain_from_estimates
        from deconstruct.effects.render import pedalboard_plugins

        chain = chain_from_estimates(list(analysis))
        self.sample_rate, self.channels = float(sample_rate), int(channels)
        plugins = [plugin for effect in chain for plugin in pedalboard_plugins(effect)]
        groups = [slice(c, c + 1) for c in range(channels)] if channels > 2 else [slice(0, channels)]
        self._boards = [(group, pedalboard.Pedalboard(plugins)) for group in groups] if plugins else []
        self._started = False

    def process(self, block: torch.Tensor) -> np.ndarray:
        """The next ``[channels, n]`` block through the chain (float32 ``[channels, n]``)."""
        data = np.ascontiguousarray(block.detach().cpu().numpy(), dtype=np.float32)
        if not self._boards:
            return data
        out = np.empty_like(data)
        length = data.shape[-1]
        for group, board in self._boards:
            part = data[group]
            if length <= part.shape[0]:  # samples > channels keeps pedalboard from guessing the layout
                part = np.pad(part, ((0, 0), (0, part.shape[0] + 1 - length)))
            out[group] = board(part, self.sample_rate, reset=not self._started)[:, :length]
        self._started = True
        return out


def blocks_of(reader: FileReader, block: int) -> Iterator[torch.Tensor]:
    """Consecutive blocks of a reader."""
    for start in range(0, reader.num_samples, block):
        yield reader.read(start, min(start + block, reader.num_samples))
