"""The user's entry points: :func:`deconstruct`, :class:`Deconstructor` and the :class:`Deconstruction` result.

Stages, in order: ``separate`` (stems), ``analyze`` (effects and parameters per stem), ``remove`` (dry stems),
then optional renders of the dry stems (or the stems, when removal did not run): upmixes to loudspeaker,
binaural or ambisonic formats and a stereo remix. The in-memory API holds whole arrays;
:meth:`Deconstructor.run_to_folder` (what the CLI calls, :mod:`deconstruct.run_folder`) streams every stage
block by block between the input file and the output files, so its memory does not grow with the song's length,
and leaves the output folder as it found it when anything fails. Stages that did not run are absent from the
result and the report, never faked.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import torch

from deconstruct.audio import Audio, load_audio, save_audio
from deconstruct.errors import InputError
from deconstruct.outputs import OutputFolder
from deconstruct.reporting.report_json import build_report, level_entry
from deconstruct.reporting import deconstruction_audio, write_deconstruction_html
from deconstruct.separation import Separator

STAGES = ("separate", "analyze", "remove")
REMIX = "remix"


@dataclass(frozen=True)
class Deconstruction:
    """The result of deconstructing one song.

    Attributes:
        mixture: the input audio.
        stems: separated stems by name, at the input's rate and channel count.
        models: per stage, ``{name, sha256, source}`` of the model used.
        timings_s: per stage, wall-clock seconds.
        source: the input file, when there was one.
        analyses: per stem, the :class:`~deconstruct.analysis.StemAnalysis` (``None``: analysis did not run).
        dry_stems: per stem, the dry estimate (``None``: removal did not run); the stem itself when no removal
            was kept.
        removals: per stem, the removal steps tried, JSON-ready: each with ``kept`` and its ``checks``
            (``None``: removal did not run).
        renders: per format (``"5.1"``, ``"binaural"``, ``"remix"``...), the rendered audio.
        render_channels: per format, its channel labels in file order.
    """

    mixture: Audio
    stems: dict[str, Audio]
    models: dict[str, dict[str, str]]
    timings_s: dict[str, float]
    source: str | None = None
    analyses: dict[str, Any] | None = None
    dry_stems: dict[str, Audio] | None = None
    removals: dict[str, list[dict[str, Any]]] | None = None
    renders: dict[str, Audio] = field(default_factory=dict)
    render_channels: dict[str, tuple[str, ...]] = field(default_factory=dict)
    separator: dict[str, Any] | None = None
    removal_policy: str | None = None
    render_levels: dict[str, dict[str, Any]] = field(default_factory=dict)

    def decisions(self) -> dict[str, dict[str, str]]:
        """Per stem, each effect's decision (``"detected"``, ``"unsure"``, ``"absent"``); empty without analysis."""
        return {stem: {e.name: e.decision for e in analysis} for stem, analysis in (self.analyses or {}).items()}

    def resynthesize(self) -> tuple[Audio, dict[str, float]]:
        """Re-apply the removed effects (the kept removals' chains) to the dry stems and sum them.

        Returns:
            the resynthesised mixture and its distance to the input mixture: ``sdr_db`` (whole-signal SDR) and
            ``mrstft`` (multi-resolution STFT distance, the meaningful one for modulated and reverberant effects).

        Raises:
            InputError: analysis and removal did not both run.
        """
        if self.analyses is None or self.dry_stems is None:
            raise InputError("resynthesis needs the analyze and remove stages; run them first")
        return resynthesize(self.mixture, self.dry_stems, removed_chains(self.analyses, self.removals))

    def report(self, files: Mapping[str, str] | None = None) -> dict[str, Any]:
        """The ``report.json`` content (schema 2); ``files`` maps ``stems/x``, ``dry/x``, ``render/x`` to paths."""
        files = files or {}
        stems = {}
        for name, audio in self.stems.items():
            entry = level_entry(audio, files.get(f"stems/{name}"))
            dry_entry = level_entry(self.dry_stems[name], files.get(f"dry/{name}")) if self.dry_stems else None
            entry.update(_later_stages(name, self.analyses, dry_entry, self.removals, self.removal_policy))
            stems[name] = entry
        extras: dict[str, Any] = {"separator": self.separator} if self.separator else {}
        if self.renders:
            extras["renders"] = {fmt: {"file": files.get(f"render/{fmt}"), "channels": list(self.render_channels[fmt]),
                                       **self.render_levels.get(fmt, {})} for fmt in self.renders}
        if self.analyses is not None and self.dry_stems is not None:
            extras["resynthesis"] = self.resynthesize()[1]
        return build_report(self.source, level_entry(self.mixture), self.mixture.sample_rate, self.mixture.channels,
                            self.mixture.duration_s, self.models, self.timings_s, stems, extras)

    def save(self, out_dir: str | os.PathLike, overwrite: bool = False, bit_depth: str = "float32") -> Path:
        """Write ``stems/``, ``dry/``, ``render/``, ``report.json`` and ``report.html`` into ``out_dir`` atomically."""
        with OutputFolder(out_dir, overwrite=overwrite) as folder:
            files: dict[str, str] = {}
            for kind, audios in (("stems", self.stems), ("dry", self.dry_stems or {})):
                for name, audio in audios.items():
                    save_audio(audio, folder.temp_path(f"{kind}/{name}.wav"), bit_depth=bit_depth)
                    files[f"{kind}/{name}"] = f"{kind}/{name}.wav"
            for fmt, audio in self.renders.items():
                files[f"render/{fmt}"] = write_render(folder, fmt, audio)
            report = self.report(files)
            folder.write_json("report.json", report)
            write_deconstruction_html(report, deconstruction_audio(self.mixture, self.stems, self.dry_stems),
                                      folder.temp_path("report.html"))
        return Path(out_dir)


def _later_stages(name: str, analyses, dry_entry: dict[str, Any] | None, removals,
                  policy: str | None = None) -> dict[str, Any]:
    """A stem's report sections of the later stages: ``analysis``, ``dry``, ``removals`` and ``removal``.

    ``dry.unchanged`` says the dry file is an exact copy of the stem (no removal kept); ``removal`` sums up the
    policy (``safe``, ``all``, ``none``), whether checks were enforced, and which removals were kept or rejected.
    """
    entry: dict[str, Any] = {}
    if analyses is not None:
        entry["analysis"] = analyses[name].to_dict()
    steps = removals[name] if removals is not None else None
    if dry_entry is not None:
        entry["dry"] = {**dry_entry, "unchanged": not any(step.get("kept", True) for step in steps or [])}
    if steps is not None:
        entry["removals"] = steps
        if policy is not None:
            entry["removal"] = {"policy": policy, "checks": POLICY_CHECKS[policy],
                                "kept": [s["name"] for s in steps if s.get("kept")],
                                "rejected": [s["name"] for s in steps if not s.get("kept")
                                             and s.get("method") != "pass-through"]}
    return entry


def removed_estimates(analysis: Any, steps: list[dict[str, Any]] | None) -> list[Any]:
    """The effects a stem's kept removals undid, as estimates that :func:`chain_from_estimates` takes whole.

    Resynthesis re-applies what was removed, nothing else: an effect whose removal was rejected (or never tried)
    is still in the dry stem. Each kept step's recorded parameters are used (those the remover applied), else the
    analysis' estimate.

    Args:
        analysis: the stem's :class:`~deconstruct.analysis.StemAnalysis`.
        steps: the stem's removal steps, JSON-ready (``None``: removal did not run, nothing was removed).
    """
    from deconstruct.effects.catalog import EffectEstimate

    estimates = {estimate.name: estimate for estimate in analysis}
    removed = []
    for step in steps or []:
        if step.get("kept"):
            params = step.get("params") or estimates[step["name"]].params
            removed.append(EffectEstimate(step["name"], 1.0, params, threshold=0.0))
    return removed


def removed_chains(analyses: Mapping[str, Any], removals: Mapping[str, list[dict[str, Any]]] | None
                   ) -> dict[str, list[Any]]:
    """Per stem, :func:`removed_estimates`."""
    return {name: removed_estimates(analysis, (removals or {}).get(name)) for name, analysis in analyses.items()}


POLICY_CHECKS = {"safe": "enforced", "all": "recorded, not enforced", "none": "none (nothing removed)"}
"""What each removal policy does with the checks."""


def resynthesize(mixture: Audio, dry_stems: Mapping[str, Audio], analyses: Mapping[str, Any]
                 ) -> tuple[Audio, dict[str, float]]:
    """Sum of the dry stems with their chains re-applied, and its distance to ``mixture``.

    ``analyses`` gives each stem's estimates whose detected ones form its chain (:func:`removed_chains`: the
    effects that were removed).
    """
    total = torch.zeros_like(mixture.samples)
    for name, dry in dry_stems.items():
        add_resynthesized(total, dry, analyses[name])
    return Audio(total, mixture.sample_rate), resynthesis_scores(mixture.samples, total)


def add_resynthesized(total: torch.Tensor, dry: Audio, analysis: Any) -> None:
    """Add ``dry`` with the analysis' detected chain re-applied into ``total`` ``[C, T]`` (in place)."""
    from deconstruct.effects.chain import chain_from_estimates
    from deconstruct.effects.render import render_chain

    chain = chain_from_estimates(list(analysis))
    total += torch.as_tensor(render_chain(dry.samples, dry.sample_rate, chain))[:, :total.shape[-1]]


def resynthesis_scores(mixture: torch.Tensor, total: torch.Tensor, block: int = 30 * 44100) -> dict[str, float]:
    """``sdr_db`` (whole-signal SDR) and ``mrstft`` of ``total`` to ``mixture`` (``[C, T]`` each).

    The multi-resolution STFT distance is averaged over blocks of ``block`` samples (weighted by length), so its
    memory does not grow with song length.
    """
    from deconstruct.metrics import global_sdr, mrstft_distance

    sdr = float(global_sdr(mixture.unsqueeze(0), total.unsqueeze(0)).mean())
    weighted, length = 0.0, mixture.shape[-1]
    for start in range(0, length, block):
        stop = min(start + block, length)
        weighted += float(mrstft_distance(mixture[None, :, start:stop], total[None, :, start:stop])) * (stop - start)
    return {"sdr_db": round(sdr, 3), "mrstft": round(weighted / max(length, 1), 4)}


def write_render(folder: OutputFolder, fmt: str, audio: Audio) -> str:
    """Stage a render file (multichannel formats carry their WAVE channel mask); returns its relative path."""
    from deconstruct.spatial import channel_mask, write_wav_extensible

    relative = f"render/{fmt}.wav"
    mask = channel_mask(fmt) if fmt != REMIX else channel_mask("2.0")
    write_wav_extensible(folder.temp_path(relative), audio.samples, audio.sample_rate, mask, overwrite=True)
    return relative


class Deconstructor:
    """Loads the stage models once and deconstructs many songs.

    Args:
        separation_model: shipped name, checkpoint path, or ``None`` for the default.
        stages: stages to run, in pipeline order: ``separate``, ``analyze``, ``remove`` (``remove`` needs
            ``analyze``: it undoes the detected effects).
        device: ``"cpu"``, ``"cuda"`` or ``None`` (CUDA when available).
        shifts: test-time shifts for separation (0 = off).
        chunk_s: chunk length for chunked separation, seconds.
        analysis_model: analysis model name or path (``None``: shipped default).
        removal_model: removal model name or path (``None``: shipped default).
        upmix: formats to render (``"5.1"``, ``"7.1"``, ``"7.1.4"``, ``"binaural"``, ``"foa"``, ``"hoa2"``,
            ``"hoa3"``, ``"2.0"``).
        placement: placement preset name or JSON (path, text or mapping) for the upmixes.
        hrtf: SOFA file for binaural (``None``: the shipped MIT KEMAR set).
        remix: remix console settings (JSON path, text or mapping), rendered to stereo as ``render/remix.wav``.
        model_repo: local folder of demucs model files for ``demucs:<name>`` separation models.
        model_config: YAML config of a RoFormer checkpoint given as ``separation_model``.
        log: receives one-line notes while models load (a download starting...).
        remove: removal policy: ``"safe"`` (default) removes the confidently detected effects, each kept only
            when it passes its checks (:mod:`deconstruct.removal.checks`) and the analysis no longer detects the
            effect on the dry estimate; ``"all"`` removes every detected or
            unsure effect, checks recorded but not enforced; ``"none"`` removes nothing (each dry stem is an
            exact copy of its stem).
    """

    def __init__(self, separation_model: str | os.PathLike | None = None, stages: tuple[str, ...] = STAGES,
                 device: str | None = None, shifts: int = 0, chunk_s: float = 20.0,
                 analysis_model: str | os.PathLike | None = None, removal_model: str | os.PathLike | None = None,
                 upmix: tuple[str, ...] = (), placement: Any = "surround", hrtf: str | os.PathLike | None = None,
                 remix: Any = None, model_repo: str | os.PathLike | None = None,
                 model_config: str | os.PathLike | None = None, log: Any = None, remove: str = "safe") -> None:
        from deconstruct.removal.remover import REMOVE_POLICIES
        from deconstruct.spatial import Upmixer, load_remix_settings

        self.stages = _check_stages(stages)
        if remove not in REMOVE_POLICIES:
            raise InputError(f"unknown removal policy {remove!r}; use one of {', '.join(REMOVE_POLICIES)}")
        self.remove_policy = remove if "remove" in self.stages else None
        self.remix_settings = load_remix_settings(remix) if remix is not None else None  # format errors first
        self.separator = Separator(separation_model, device=device, shifts=shifts, chunk_s=chunk_s,
                                   model_repo=model_repo, model_config=model_config, log=log)
        if self.remix_settings is not None:
            _check_remix_stems(self.remix_settings, self.separator.stems)
        self.analyzer = self.remover = None
        if "analyze" in self.stages:
            from deconstruct.analysis import EffectAnalyzer

            self.analyzer = EffectAnalyzer(analysis_model, device=device)
        if "remove" in self.stages and remove != "none":
            from deconstruct.removal import EffectRemover

            self.remover = EffectRemover(removal_model, device=device)
        self.upmixers = {fmt: Upmixer(fmt, placement, hrtf) for fmt in dict.fromkeys(upmix)}

    def _models(self) -> dict[str, dict[str, str]]:
        models = {"separation": self.separator.resolved}
        if self.analyzer is not None:
            models["analysis"] = self.analyzer.resolved
        if self.remover is not None:
            models["removal"] = self.remover.resolved
        return {stage: {"name": r.name, "sha256": r.sha256, "source": r.source} for stage, r in models.items()}

    def run(self, song: str | os.PathLike | Audio) -> Deconstruction:
        """Deconstruct a file path or an in-memory :class:`Audio`."""
        mixture = song if isinstance(song, Audio) else load_audio(song)
        source = None if isinstance(song, Audio) else str(song)
        started = time.perf_counter()
        stems = self.separator.separate(mixture)
        timings = {"separation": round(time.perf_counter() - started, 3)}
        analyses, dry, removals = self._later_stages(stems, timings)
        renders, channels, levels = self._renders(stems, analyses, timings, dry, removals)
        return Deconstruction(mixture, stems, self._models(), timings, source, analyses, dry, removals, renders,
                              channels, separator=self.separator.report_entry(), removal_policy=self.remove_policy,
                              render_levels=levels)

    @property
    def removes(self) -> bool:
        """Whether the remove stage runs (it writes a dry stem per stem, a copy under the ``none`` policy)."""
        return self.remove_policy is not None

    def remove_stem(self, audio: Audio, analysis: Any) -> Any:
        """The removal stage on one stem under this runner's policy.

        Args:
            audio: the stem.
            analysis: its :class:`~deconstruct.analysis.StemAnalysis`.

        Returns:
            A :class:`~deconstruct.removal.RemovalResult`; under ``none`` (or without the remove stage) the stem
            itself with no step.
        """
        from deconstruct.removal.remover import REMOVE_POLICIES, RemovalResult

        if self.remover is None or self.remove_policy in (None, "none"):
            return RemovalResult(audio, ())
        mode, checks = REMOVE_POLICIES[self.remove_policy]
        reanalyze = self.analyzer.analyze if self.analyzer is not None else None  # safe: effect gone on the dry?
        return self.remover.remove(audio, list(analysis), mode=mode, checks=checks, reanalyze=reanalyze)

    def _later_stages(self, stems: Mapping[str, Audio], timings: dict[str, float], sink=None):
        """Analysis and removal, one stem at a time.

        Args:
            sink: ``sink(name, dry, analysis)`` takes each dry stem away (to disk); the returned ``dry`` is then
                ``None``.
        """
        analyses = {} if self.analyzer is not None else None
        dry = {} if self.removes and sink is None else None
        removals = {} if self.removes else None
        for name, audio in stems.items():
            if self.analyzer is not None:
                started = time.perf_counter()
                analyses[name] = self.analyzer.analyze(audio)
                timings["analysis"] = round(timings.get("analysis", 0.0) + time.perf_counter() - started, 3)
            if self.removes:
                started = time.perf_counter()
                result = self.remove_stem(audio, analyses[name])
                timings["removal"] = round(timings.get("removal", 0.0) + time.perf_counter() - started, 3)
                removals[name] = result.to_dict()
                if sink is None:
                    dry[name] = result.audio
                else:
                    sink(name, result.audio, analyses[name])
        return analyses, dry, removals

    def _renders(self, stems: Mapping[str, Audio], analyses: Mapping[str, Any] | None, timings: dict[str, float],
                 dry: Mapping[str, Audio] | None = None, removals: Mapping[str, Any] | None = None):
        """Upmixes (the dry stems in front, the removed reverberation in the ambience) and the remix of the dry
        stems; returns ``(renders, channel labels, levels)`` per format."""
        renders, channels, levels = {}, {}, {}
        started = time.perf_counter()
        estimates = upmix_estimates(analyses, removals)
        for fmt, upmixer in self.upmixers.items():
            renders[fmt], found = upmixer.render_with_levels(stems, dry, estimates)
            channels[fmt] = upmixer.labels
            if found is not None:
                levels[fmt] = found.to_dict()
        if self.remix_settings is not None:
            from deconstruct.spatial import remix

            renders[REMIX], channels[REMIX] = remix(dry or stems, self.remix_settings), ("L", "R")
        if renders:
            timings["render"] = round(time.perf_counter() - started, 3)
        return renders, channels, levels

    def run_to_folder(self, song: str | os.PathLike, out_dir: str | os.PathLike, overwrite: bool = False,
                      bit_depth: str = "float32", progress: Any = None, headroom_db: float | None = None,
                      startup_s: float | None = None) -> Path:
        """Stream a song file through the stages into ``out_dir`` in flat memory (see :mod:`deconstruct.run_folder`).

        Args:
            overwrite: replace the earlier results in ``out_dir`` (exactly the files the earlier run wrote).
            bit_depth: ``"float32"``, ``"24"`` or ``"16"`` for every file written.
            progress: ``progress(description, total_samples)`` → a bar with ``update(n)``/``close()`` (tqdm).
            headroom_db: PCM output: the common gain (``-headroom_db`` dB) set by hand.
            startup_s: time the process spent before this call, reported as ``startup``.

        Raises:
            OutputError: the folder holds results (without ``overwrite``), cannot be written, or the disk is full;
                the folder is then left as it was found.
        """
        from deconstruct.run_folder import FolderRun

        return FolderRun(self, song, out_dir, overwrite=overwrite, bit_depth=bit_depth, headroom_db=headroom_db,
                         progress=progress, startup_s=startup_s).run()


def upmix_estimates(analyses: Mapping[str, Any] | None, removals: Mapping[str, Any] | None
                    ) -> dict[str, dict[str, Any]]:
    """Per stem, what the upmixer uses: the reverb descriptors and whether reverberation was removed from it."""
    out: dict[str, dict[str, Any]] = dict(reverb_estimates(analyses)) if analyses else {}
    for name, applied in (removals or {}).items():
        names = [step.get("name") for step in applied if isinstance(step, Mapping) and step.get("kept", True)
                 and step.get("method") != "pass-through"] if isinstance(applied, list) else []
        out.setdefault(name, {})["reverb_removed"] = "reverb" in names
    return out


def reverb_estimates(analyses: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    """Per stem, the detected reverb's descriptors the upmixer's ambience uses (``rt60_s``, ``drr_db``)."""
    out = {}
    for name, analysis in analyses.items():
        reverb = analysis["reverb"]
        if reverb.detected:
            found = {key: float(reverb.params[key]) for key in ("rt60_s", "drr_db") if key in reverb.params}
            if found:
                out[name] = found
    return out


def _check_remix_stems(settings: Any, stems: tuple[str, ...]) -> None:
    """Remix settings must name only stems the separation gives, and no effects (the pipeline renders none)."""
    unknown = sorted(set(settings.strips) - set(stems))
    if unknown:
        raise InputError(f"the remix settings name stem(s) {', '.join(map(repr, unknown))} that the separation "
                         f"model does not give; its stems are {', '.join(stems)}")
    with_effects = sorted(name for name, strip in settings.strips.items() if strip.effects)
    if with_effects:
        raise InputError(f"the remix settings give effects to {', '.join(map(repr, with_effects))}; the command "
                         "line renders no remix effects, remove the \"effects\" lists")


def _check_stages(stages: tuple[str, ...]) -> tuple[str, ...]:
    stages = tuple(stages)
    unknown = [stage for stage in stages if stage not in STAGES]
    if unknown:
        raise InputError(f"unknown stage(s) {', '.join(unknown)}; available: {', '.join(STAGES)}")
    if "separate" not in stages:
        raise InputError("the separate stage is needed: the later stages work on its stems")
    if "remove" in stages and "analyze" not in stages:
        raise InputError("the remove stage undoes the effects the analyze stage detects; add analyze to --stages")
    return tuple(stage for stage in STAGES if stage in stages)


def deconstruct(song: str | os.PathLike | Audio, **options: Any) -> Deconstruction:
    """Deconstruct one song with the default models (options as :class:`Deconstructor`)."""
    return Deconstructor(**options).run(song)
