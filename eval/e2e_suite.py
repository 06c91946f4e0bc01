"""End-to-end suite: whole deconstructions of band-like songs whose stems, effects and dry sources are known.

Songs (fixed seed, so every set of models is scored on the same songs; ``--accompaniment rendered``, the default):

- the band: a multitrack rendered by the data engine from ``train`` material
  (:func:`eval.accompaniment.rendered_bands`: drums, bass, other; a fresh one per song);
- on top, the dry recordings of the ``eval`` split of ``splits.json`` (never trained or tuned on): an ``eval`` voice
  (``dry_speech``, ``dry_vocals``) is the ``vocals`` stem, and every other song an ``eval`` instrument plays the stem
  its file name says (:func:`stem_role`: the flute is ``other``) in place of the band's. Song ``i`` takes the
  ``i``-th recording of each role, cycling. Each recording, resampled to 44.1 kHz, is repeated with random gaps to
  fill the song, levelled to an active RMS drawn in [-24, -16] dBFS and panned (constant power) within [-0.4, 0.4];
- every stem (band parts too) gets a random chain of 0-2 catalog effects
  (:func:`~deconstruct.effects.chain.sample_chain`, parameters uniform in normalised units over the catalog's
  ranges, which hold RemFX's); one stem per song (rotating) always gets a convolution reverb with an ``eval`` room
  response, otherwise reverbs are convolution (``eval`` rooms) or algorithmic with equal odds;
- the mixture is the sum of the wet stems; when it would clip, the mixture and every true stem are scaled alike.

``--accompaniment none`` builds the songs from the ``eval`` recordings alone (one stem per role they cover).

The whole pipeline (:class:`~deconstruct.pipeline.Deconstructor`: separate, analyze, remove, under its removal
policy) runs on each mixture and is scored against the truth:

- ``separation``: BSSEval v4 SDR (median of 1-s frames) and whole-song SDR (uSDR) of each estimated stem against
  the true wet stem, beside the ``mixture/N`` baseline (N: the song's stem count); ``leakage``: the level of the
  stems the model gives but the song lacks, relative to the mixture. BSSEval runs in museval by default: a stem
  panned from a mono source without a stereo effect has exactly proportional channels, a singular system that
  museval solves by least squares;
- ``detection``: per effect precision, recall and F1 of the analysis (at the model's thresholds) on the separated
  stems against the true chains, beside the all-effects-present baseline; the false-positive rate on every stem
  lacking the effect and on the stems that carry no effect at all; the "unsure" decisions apart;
- ``params``: on true positives, the absolute error of each parameter that both the truth and the estimate hold,
  normalised to the catalog range (and in physical units), beside a mid-range guess (0.5 normalised); the reverb's
  RT60 and DRR against those of the true setting;
- ``dry``: SI-SDR (dB, capped at 60) and multi-resolution STFT distance of the dry estimate to the true dry stem,
  beside the separated stem before removal and the true wet stem (what the effects alone cost); beside them the
  measures of the Music Source Restoration challenge, SI-SNR and Multi-Mel-SNR
  (:mod:`deconstruct.metrics.mel_snr`: Zang et al., "Summary of The Inaugural Music Source Restoration
  Challenge", arXiv:2601.04343), so the numbers compare with that challenge's;
- ``levels``: every separated stem's dry stem against the stem (:mod:`eval.levels`): RMS, loudness and peak
  change, and how many move by more than 3 dB / 3 LU;
- ``resynthesis``: the estimated chains re-applied to the dry estimates and summed, against the mixture (SDR,
  MR-STFT), beside the plain sum of the dry estimates (no effect re-applied).

With a few short songs the numbers are coarse: they check that the stages work together, not a leaderboard.

    python -m eval e2e --separation-model SEP.pt --analysis-model ANA.pt --removal-model dsp-only --out reports/e2e
"""

from __future__ import annotations

import argparse
import json
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from deconstruct.audio import Audio, load_audio
from deconstruct.data.datasets.separated import tiled
from deconstruct.effects.catalog import EFFECT_NAMES, ParamSpec, effect_spec
from deconstruct.effects.chain import Chain, sample_chain
from deconstruct.errors import InputError
from deconstruct.metrics import global_sdr, mrstft_distance, si_sdr

__all__ = [
    "SAMPLE_RATE",
    "E2EResults",
    "Song",
    "add_arguments",
    "arranged",
    "build_songs",
    "evaluate_e2e",
    "make_song",
    "run",
    "run_e2e_suite",
    "score_song",
    "stem_role",
    "summarise",
    "write_report",
]

SAMPLE_RATE = 44100
LEVEL_DB = (-24.0, -16.0)
PAN_RANGE = 0.4
GAP_S = (0.1, 0.6)
MAX_EFFECTS = 2
SI_SDR_CAP_DB = 60.0
STEM_ORDER = ("vocals", "drums", "bass", "other")
ACCOMPANIMENTS = ("rendered", "none")
RENDERED_SEED = 2_000_003
_VOICE_FOLDERS = ("dry_speech", "dry_vocals")
_ROLE_PATTERNS = (  # instrument recordings: file-name pattern → stem role (TinySOL codes: Cb contrabass, ...)
    (re.compile(r"castanet|drum|snare|kick|hihat|cymbal|perc", re.I), "drums"),
    (re.compile(r"tinysol_(Cb|BTb|Bn)-|bass", re.I), "bass"),
)
EXAMPLE_S = 8.0
Panels = list[tuple[str, list[tuple[str, torch.Tensor]]]]


@dataclass(frozen=True)
class Song:
    """A song built from known parts.

    Attributes:
        name: the song's name.
        mixture: the stereo mixture at :data:`SAMPLE_RATE`.
        wet: per stem, the true stem as it sits in the mixture (what separation should give).
        dry: per stem, the true stem before its effects (what removal should give).
        chains: per stem, the effect chain that was applied.
        sources: per stem, the recording's path relative to the data folder.
    """

    name: str
    mixture: Audio
    wet: dict[str, Audio]
    dry: dict[str, Audio]
    chains: dict[str, Chain]
    sources: dict[str, str]


@dataclass(frozen=True)
class E2EResults:
    """The suite's tables (see the module docstring) and how they were made.

    Attributes:
        songs: one row per (song, stem): source, true chain, timings.
        separation, leakage, effects, detection, params, dry, resynthesis: the scores.
        meta: models, song count and length, seed, wall time.
        example: spectrogram rows of the first song (mono excerpts at :data:`SAMPLE_RATE`): the mixture, then per
            stem its true wet stem, the separated stem, its true dry stem and the dry estimate.
        levels: per (song, separated stem), the dry stem's RMS, loudness and peak change against the stem.
    """

    songs: pd.DataFrame
    separation: pd.DataFrame
    leakage: pd.DataFrame
    effects: pd.DataFrame
    detection: pd.DataFrame
    params: pd.DataFrame
    dry: pd.DataFrame
    resynthesis: pd.DataFrame
    meta: dict[str, Any]
    example: Panels = field(default_factory=list)
    levels: pd.DataFrame = field(default_factory=pd.DataFrame)


# --- songs ---------------------------------------------------------------------------------------------------------


def stem_role(relative: str) -> str:
    """The stem a dry recording plays in a song: ``vocals`` for voices, else by its file name (``other`` default).

    Args:
        relative: the recording's path relative to the data folder (``dry_vocals/x.wav``).
    """
    if relative.split("/", 1)[0] in _VOICE_FOLDERS:
        return "vocals"
    name = Path(relative).name
    return next((role for pattern, role in _ROLE_PATTERNS if pattern.search(name)), "other")


def arranged(recording: torch.Tensor, length: int, rng: np.random.Generator) -> torch.Tensor:
    """``recording [samples]`` repeated with random gaps (and a random lead-in) to fill ``length`` samples."""
    return tiled(recording, length, SAMPLE_RATE, rng, GAP_S)


def make_song(name: str, sources: Mapping[str, str | Path | Audio], rirs: Sequence[str | Path], duration_s: float,
              seed: int, reverb_stem: str | None = None, root: str | Path | None = None,
              labels: Mapping[str, str] | None = None) -> Song:
    """Build one song (the recipe of the module docstring).

    Args:
        name: the song's name.
        sources: stem name → dry recording (a file, mono or stereo, any rate: arranged, levelled and panned), or a
            rendered stereo stem at :data:`SAMPLE_RATE` (:class:`Audio`, taken as it is, cut to the song's length).
        rirs: room responses the convolution reverbs draw from.
        duration_s: the song's length, s.
        seed: seed of the arrangement, levels, pans and chains.
        reverb_stem: the stem that always gets a convolution reverb (needs ``rirs``), or ``None``.
        root: data folder the source paths are reported relative to (absolute paths otherwise).
        labels: how to name the rendered sources (stem → label; default ``rendered``).

    Returns:
        The :class:`Song`.
    """
    from deconstruct.data.rendering.mixing import level, pan
    from deconstruct.effects.render import render_chain

    length = round(duration_s * SAMPLE_RATE)
    dry, wet, chains, names = {}, {}, {}, {}
    for index, (stem, source) in enumerate(sources.items()):
        rng = np.random.default_rng([seed, index])
        if isinstance(source, Audio):
            if (source.sample_rate, source.channels) != (SAMPLE_RATE, 2) or source.num_samples < length:
                raise InputError(f"the rendered {stem} stem must be stereo at {SAMPLE_RATE} Hz and at least "
                                 f"{duration_s} s long")
            placed = source.samples[:, :length].float().contiguous()
            names[stem] = (labels or {}).get(stem, "rendered")
        else:
            audio = load_audio(source).to_channels(1).resampled(SAMPLE_RATE)
            mono = arranged(audio.samples[0], length, rng)
            stereo = level(mono.expand(2, -1).numpy().copy(), float(rng.uniform(*LEVEL_DB)))
            placed = torch.from_numpy(pan(stereo, float(rng.uniform(-PAN_RANGE, PAN_RANGE))))
            names[stem] = Path(source).relative_to(root).as_posix() if root else str(source)
        forced = stem == reverb_stem and bool(rirs)
        chains[stem] = sample_chain(rng, max_effects=MAX_EFFECTS, require=("reverb",) if forced else (),
                                    rir_files=rirs, convolution_probability=1.0 if forced else 0.5)
        dry[stem], wet[stem] = placed, torch.as_tensor(render_chain(placed, SAMPLE_RATE, chains[stem]))
    mixture = sum(wet.values())
    peak = float(mixture.abs().max())
    scale = 0.99 / peak if peak > 0.99 else 1.0
    return Song(name, Audio(mixture * scale, SAMPLE_RATE),
                {stem: Audio(x * scale, SAMPLE_RATE) for stem, x in wet.items()},
                {stem: Audio(x * scale, SAMPLE_RATE) for stem, x in dry.items()}, chains, names)


def build_songs(root: str | Path | None = None, songs: int = 3, duration_s: float = 8.0, seed: int = 0,
                accompaniment: str = "rendered") -> list[Song]:
    """The suite's songs (see the module docstring).

    Args:
        root: the shared data folder holding ``splits.json`` (found when ``None``).
        songs: how many.
        duration_s: song length, s.
        seed: seed of the songs.
        accompaniment: ``"rendered"``: band-like songs, a data-engine band (drums, bass, other) under the ``eval``
            voice, every other song with an ``eval`` instrument in place of the band's part of the same stem;
            ``"none"``: only the ``eval`` recordings, one per stem role.

    Raises:
        InputError: no shared data folder, no eval dry recording, no song to build, unknown accompaniment.
    """
    from eval.accompaniment import data_root, rendered_bands
    from eval.removal_suite import eval_split_files

    if songs < 1 or not duration_s > 0:
        raise InputError(f"asked for {songs} songs of {duration_s} s; ask for at least one song of positive length")
    if accompaniment not in ACCOMPANIMENTS:
        raise InputError(f"unknown accompaniment {accompaniment!r}; use one of {', '.join(ACCOMPANIMENTS)}")
    root = data_root(root)
    files, rirs = eval_split_files(root)
    by_role: dict[str, list[Path]] = {}
    for file in sorted(files):
        by_role.setdefault(stem_role(file.relative_to(root).as_posix()), []).append(file)
    bands = rendered_bands(songs, duration_s, RENDERED_SEED + seed) if accompaniment == "rendered" else []
    out = []
    for number in range(songs):
        recordings = {role: by_role[role][number % len(by_role[role])] for role in STEM_ORDER if role in by_role}
        sources: dict[str, str | Path | Audio] = {}
        labels = {}
        if bands:
            band = bands[number]
            instruments = [role for role in recordings if role != "vocals"]
            for stem in STEM_ORDER:
                if stem == "vocals" and stem in recordings:
                    sources[stem] = recordings[stem]
                elif stem in instruments and number % 2 == 1:
                    sources[stem] = recordings[stem]
                elif stem in band.stems:
                    sources[stem], labels[stem] = Audio(band.stems[stem], SAMPLE_RATE), f"{band.name}:{stem}"
        else:
            sources = dict(recordings)
        roles = list(sources)
        out.append(make_song(f"song{number + 1:02d}", sources, rirs, duration_s, seed + number,
                             reverb_stem=roles[number % len(roles)], root=root, labels=labels))
    return out


# --- scores --------------------------------------------------------------------------------------------------------


def _fitted(estimate: Audio, reference: Audio) -> torch.Tensor:
    """``estimate``'s samples trimmed or zero-padded to the reference's length (rates and channels already match)."""
    if (estimate.sample_rate, estimate.channels) != (reference.sample_rate, reference.channels):
        raise InputError(f"an estimate is {estimate.channels} ch at {estimate.sample_rate} Hz but its reference "
                         f"{reference.channels} ch at {reference.sample_rate} Hz")
    samples = estimate.samples[:, : reference.num_samples]
    return torch.nn.functional.pad(samples, (0, reference.num_samples - samples.shape[-1]))


def _distances(reference: torch.Tensor, estimate: torch.Tensor) -> dict[str, float]:
    """SI-SDR (dB, channel mean, capped) and MR-STFT distance of ``[channels, samples]`` signals."""
    return {"si_sdr_db": min(float(si_sdr(reference, estimate).mean()), SI_SDR_CAP_DB),
            "mrstft": float(mrstft_distance(reference[None], estimate[None])[0])}


def _median(frames: np.ndarray) -> float:
    """Median of the BSSEval frames that are not NaN (silent frames), NaN when there is none."""
    finite = frames[np.isfinite(frames)]
    return float(np.median(finite)) if finite.size else float("nan")


def _separation_rows(song: Song, stems: Mapping[str, Audio], names: list[str], backend: str
                     ) -> tuple[list[dict], list[dict]]:
    from eval.separation_suite import baseline_estimates, score_estimates

    references = torch.stack([song.wet[name].samples for name in names])
    baseline = f"mixture/{len(names)}"
    methods = {"pipeline": torch.stack([_fitted(stems[name], song.wet[name]) for name in names]),
               baseline: baseline_estimates(song.mixture.samples, len(names))[baseline]}
    scored = score_estimates(references, methods, SAMPLE_RATE, backend=backend)
    rows = [{"song": song.name, "stem": name, "method": method, "SDR": _median(values["SDR"][index]),
             "uSDR": float(values["uSDR"][index])}
            for method, values in scored.items() for index, name in enumerate(names)]
    mixture_energy = float(song.mixture.samples.double().square().sum())
    leakage = [{"song": song.name, "stem": name, "level_re_mixture_db":
                10 * np.log10(max(float(audio.samples.double().square().sum()), 1e-20) / mixture_energy)}
               for name, audio in stems.items() if name not in song.wet]
    return rows, leakage


def _param_spec(effect: str, name: str) -> ParamSpec | None:
    from deconstruct.analysis.layout import DESCRIPTORS

    spec = effect_spec(effect)
    if name in spec.param_names:
        return spec.param(name)
    return next((d for d in DESCRIPTORS if d.name == name and effect == "reverb"), None)


def _true_params(chain: Chain, effect: str) -> dict[str, float]:
    """The true setting's parameters, and for a reverb its RT60 and DRR."""
    setting = chain.get(effect)
    params = dict(setting.params)
    if effect == "reverb":
        from deconstruct.analysis.reverb import reverb_descriptors

        params.update(reverb_descriptors(setting))
    return params


def _effect_rows(song: Song, analyses: Mapping[str, Any], names: list[str]) -> tuple[list[dict], list[dict]]:
    effects, params = [], []
    for stem in names:
        chain = song.chains[stem]
        for estimate in analyses[stem]:
            present = estimate.name in chain
            effects.append({"song": song.name, "stem": stem, "effect": estimate.name, "true": int(present),
                            "clean_stem": int(len(chain) == 0), "probability": estimate.probability,
                            "threshold": estimate.threshold, "detected": int(estimate.detected),
                            "decision": decision_of(estimate)})
            if not (present and estimate.detected):
                continue
            truth = _true_params(chain, estimate.name)
            for name in [n for n in truth if n in estimate.params]:
                spec = _param_spec(estimate.name, name)
                if spec is None:
                    continue
                true_unit = min(max(float(spec.normalise(truth[name])), 0.0), 1.0)
                guess_unit = min(max(float(spec.normalise(estimate.params[name])), 0.0), 1.0)
                params.append({"song": song.name, "stem": stem, "effect": estimate.name, "parameter": name,
                               "unit": spec.unit, "true": truth[name], "estimate": estimate.params[name],
                               "error_physical": abs(estimate.params[name] - truth[name]),
                               "error_normalised": abs(guess_unit - true_unit),
                               "error_midrange": abs(0.5 - true_unit)})
    return effects, params


def decision_of(estimate: Any) -> str:
    """An estimate's decision: its ``decision`` (detected / unsure / absent) when the analyzer gives one."""
    decision = getattr(estimate, "decision", None)
    return str(decision) if decision else ("detected" if estimate.detected else "absent")


def _msr_measures(reference: torch.Tensor, estimate: torch.Tensor) -> dict[str, float]:
    """The MSR challenge's SI-SNR and Multi-Mel-SNR (dB) of ``[channels, samples]`` signals, each capped at
    :data:`SI_SDR_CAP_DB` like SI-SDR (an untouched effect-free stem would otherwise weigh in at 100+ dB)."""
    from deconstruct.metrics.mel_snr import multi_mel_snr, si_snr

    return {"si_snr_db": min(si_snr(reference, estimate), SI_SDR_CAP_DB),
            "multi_mel_snr_db": min(multi_mel_snr(reference, estimate, SAMPLE_RATE), SI_SDR_CAP_DB)}


def _dry_rows(song: Song, stems: Mapping[str, Audio], dry: Mapping[str, Audio], names: list[str]) -> list[dict]:
    rows = []
    for stem in names:
        reference = song.dry[stem].samples
        candidates = {"pipeline dry": _fitted(dry[stem], song.dry[stem]),
                      "separated stem": _fitted(stems[stem], song.dry[stem]), "true wet stem": song.wet[stem].samples}
        rows += [{"song": song.name, "stem": stem, "method": method, "effects": "+".join(song.chains[stem].names),
                  **_distances(reference, estimate), **_msr_measures(reference, estimate)}
                 for method, estimate in candidates.items()]
    return rows


def _level_rows(song: Song, stems: Mapping[str, Audio], dry: Mapping[str, Audio]) -> list[dict]:
    """Every separated stem's dry stem against it: RMS, loudness and peak change (:mod:`eval.levels`)."""
    from eval.levels import level_change

    return [{"song": song.name, "stem": stem, "in_song": stem in song.wet, **level_change(stems[stem], dry[stem])}
            for stem in stems]


def _resynthesis_rows(song: Song, result: Any) -> list[dict]:
    mixture = song.mixture
    candidates = {"resynthesis": result.resynthesize()[0],
                  "dry sum": Audio(sum(audio.samples for audio in result.dry_stems.values()), mixture.sample_rate)}
    rows = []
    for method, audio in candidates.items():
        estimate = _fitted(audio, mixture)
        rows.append({"song": song.name, "method": method,
                     "sdr_db": float(global_sdr(mixture.samples, estimate)),
                     "mrstft": float(mrstft_distance(mixture.samples[None], estimate[None])[0])})
    return rows


def score_song(song: Song, result: Any, backend: str = "museval") -> dict[str, list[dict]]:
    """Score one :class:`~deconstruct.pipeline.Deconstruction` of ``song`` against its truth.

    Args:
        song: the song with its truth.
        result: its deconstruction (separate, analyze and remove).
        backend: BSSEval implementation, ``"museval"`` or ``"fast"`` (:func:`eval.separation_suite.score_estimates`).

    Returns:
        Row lists ``separation``, ``leakage``, ``effects``, ``params``, ``dry``, ``levels``, ``resynthesis``.

    Raises:
        InputError: the deconstruction lacks the analysis or removal stage, or gives none of the song's stems.
    """
    if result.analyses is None or result.dry_stems is None:
        raise InputError("the end-to-end suite needs the analyze and remove stages; run all three")
    names = [name for name in song.wet if name in result.stems]
    if not names:
        raise InputError(f"{song.name}: the separation model gives {sorted(result.stems)}, none of the song's "
                         f"stems {sorted(song.wet)}; use a model with these stems")
    separation, leakage = _separation_rows(song, result.stems, names, backend)
    effects, params = _effect_rows(song, result.analyses, names)
    return {"separation": separation, "leakage": leakage, "effects": effects, "params": params,
            "dry": _dry_rows(song, result.stems, result.dry_stems, names),
            "levels": _level_rows(song, result.stems, result.dry_stems),
            "resynthesis": _resynthesis_rows(song, result)}


def _example_panels(song: Song, result: Any) -> Panels:
    """Mono excerpts of the first :data:`EXAMPLE_S` seconds for the report's spectrograms."""
    length = min(song.mixture.num_samples, round(EXAMPLE_S * SAMPLE_RATE))

    def mono(audio: Audio) -> torch.Tensor:
        return audio.samples[:, :length].mean(0)

    rows: Panels = [("mixture", [("input", mono(song.mixture))])]
    for stem in [name for name in song.wet if name in result.stems]:
        rows.append((stem, [("true wet", mono(song.wet[stem])), ("separated", mono(result.stems[stem])),
                            ("true dry", mono(song.dry[stem])), ("dry estimate", mono(result.dry_stems[stem]))]))
    return rows


def _detection_table(effects: pd.DataFrame) -> pd.DataFrame:
    from deconstruct.analysis.scoring import detection_scores

    labels = effects.pivot_table(index=["song", "stem"], columns="effect", values="true", sort=False)
    detected = effects.pivot_table(index=["song", "stem"], columns="effect", values="detected", sort=False)
    names = [name for name in EFFECT_NAMES if name in labels.columns]
    truth = labels[names].to_numpy() > 0.5
    guess = detected[names].to_numpy() > 0.5
    clean = effects.pivot_table(index=["song", "stem"], columns="effect", values="clean_stem", sort=False)
    clean = clean[names].to_numpy()[:, 0] > 0.5
    unsure = effects.assign(unsure=(effects["decision"] == "unsure").astype(int)).pivot_table(
        index=["song", "stem"], columns="effect", values="unsure", sort=False)[names].to_numpy() > 0.5
    scores = detection_scores(guess, truth, names)
    baseline = detection_scores(np.ones_like(truth), truth, names)

    def rate(hits: np.ndarray, over: np.ndarray) -> float:
        return float(hits[over].mean()) if over.any() else float("nan")

    return pd.DataFrame([{
        "effect": name, "support": int(scores[name]["support"]), "predicted": int(scores[name]["predicted"]),
        "tp": int((truth[:, i] & guess[:, i]).sum()), "fn": int((truth[:, i] & ~guess[:, i]).sum()),
        "fp": int((~truth[:, i] & guess[:, i]).sum()), "tn": int((~truth[:, i] & ~guess[:, i]).sum()),
        "unsure": int(unsure[:, i].sum()),
        "precision": scores[name]["precision"], "recall": scores[name]["recall"], "f1": scores[name]["f1"],
        "f1_all_present": baseline[name]["f1"], "fpr": rate(guess[:, i], ~truth[:, i]),
        "fpr_clean_stems": rate(guess[:, i], clean),
    } for i, name in enumerate(names)])


def evaluate_e2e(deconstructor: Any, songs: Sequence[Song], page_dir: Path | None = None,
                 log: Callable[[str], None] | None = None, backend: str = "museval") -> E2EResults:
    """Deconstruct every song and score it (see the module docstring).

    Args:
        deconstructor: a :class:`~deconstruct.pipeline.Deconstructor` running separate, analyze and remove.
        songs: the songs (:func:`build_songs`).
        page_dir: when given, each song's ``report.json`` and ``report.html`` go to ``page_dir/<song>/``.
        log: optional progress callback.
        backend: BSSEval implementation (see :func:`score_song`).

    Returns:
        :class:`E2EResults`.
    """
    from deconstruct.reporting import deconstruction_audio, write_deconstruction_html
    from eval.report_folder import write_json

    say = log or (lambda message: None)
    rows: dict[str, list[dict]] = {}
    song_rows = []
    models: dict[str, Any] = {}
    example: Panels = []
    started = time.perf_counter()
    for song in songs:
        say(f"{song.name}: {', '.join(f'{stem}={Path(src).name}' for stem, src in song.sources.items())}")
        result = deconstructor.run(song.mixture)
        models = result.models
        if not example:
            example = _example_panels(song, result)
        for table, part in score_song(song, result, backend).items():
            rows.setdefault(table, []).extend(part)
        song_rows += [{"song": song.name, "stem": stem, "source": song.sources[stem],
                       "chain": json.dumps(song.chains[stem].to_dict()), "effects": "+".join(song.chains[stem].names),
                       **{f"{stage}_s": seconds for stage, seconds in result.timings_s.items()}}
                      for stem in song.wet]
        if page_dir is not None:
            folder = page_dir / song.name
            folder.mkdir(parents=True, exist_ok=True)
            report = result.report()
            write_json(report, folder / "report.json")
            write_deconstruction_html(report, deconstruction_audio(result.mixture, result.stems, result.dry_stems),
                                      folder / "report.html")
    effects = pd.DataFrame(rows.get("effects", []))
    meta = {"suite": "e2e", "songs": len(songs), "duration_s": songs[0].mixture.duration_s if songs else 0.0,
            "models": models, "bsseval": backend, "seconds": round(time.perf_counter() - started, 1)}
    return E2EResults(pd.DataFrame(song_rows), pd.DataFrame(rows.get("separation", [])),
                      pd.DataFrame(rows.get("leakage", []), columns=["song", "stem", "level_re_mixture_db"]),
                      effects, _detection_table(effects),
                      pd.DataFrame(rows.get("params", []), columns=["song", "stem", "effect", "parameter", "unit",
                                                                   "true", "estimate", "error_physical",
                                                                   "error_normalised", "error_midrange"]),
                      pd.DataFrame(rows.get("dry", [])), pd.DataFrame(rows.get("resynthesis", [])), meta, example,
                      pd.DataFrame(rows.get("levels", [])))


# --- summary and report --------------------------------------------------------------------------------------------


def _row(section: str, metric: str, scope: str, value: float, better: str, baseline: str = "",
         baseline_value: float = float("nan")) -> dict[str, Any]:
    return {"section": section, "metric": metric, "scope": scope, "value": float(value), "better": better,
            "baseline": baseline, "baseline_value": float(baseline_value)}


def summarise(results: E2EResults) -> pd.DataFrame:
    """The headline numbers, one row each: ``section, metric, scope, value, better, baseline, baseline_value``.

    Means over songs (and stems, effects or parameters where the scope says ``all``); ``better`` says whether
    higher or lower is better; ``baseline`` names the trivial method the value stands beside.
    """
    from deconstruct.analysis.scoring import macro_f1

    out = []
    separation = results.separation.groupby(["stem", "method"], sort=False)[["SDR", "uSDR"]].mean()
    baseline = next(m for m in results.separation["method"].unique() if m != "pipeline")
    for stem in results.separation["stem"].unique():
        for metric in ("SDR", "uSDR"):
            out.append(_row("separation", f"{metric} (dB)", stem, separation.loc[(stem, "pipeline"), metric],
                            "higher", baseline, separation.loc[(stem, baseline), metric]))
    detection = results.detection.set_index("effect")
    scores = {name: {"f1": row.f1, "support": row.support} for name, row in detection.iterrows()}
    baseline_scores = {name: {"f1": row.f1_all_present, "support": row.support} for name, row in detection.iterrows()}
    out.append(_row("detection", "macro F1", "effects present", macro_f1(scores), "higher", "all present",
                    macro_f1(baseline_scores)))
    for name, row in detection.iterrows():
        out.append(_row("detection", "false-positive rate", name, row.fpr, "lower", "nothing detected", 0.0))
        out.append(_row("detection", "false-positive rate, effect-free stems", name, row.fpr_clean_stems, "lower",
                        "nothing detected", 0.0))
    params = results.params
    catalog = params[~params["parameter"].isin(["rt60_s", "drr_db"])]
    out.append(_row("params", "MAE (normalised)", f"all ({len(catalog)} values)", catalog["error_normalised"].mean(),
                    "lower", "mid-range guess", catalog["error_midrange"].mean()))
    for effect, group in catalog.groupby("effect", sort=False):
        out.append(_row("params", "MAE (normalised)", f"{effect} ({len(group)} values)",
                        group["error_normalised"].mean(), "lower", "mid-range guess", group["error_midrange"].mean()))
    dry = results.dry.groupby(["stem", "method"], sort=False)[["si_sdr_db", "mrstft"]].mean()
    for stem in results.dry["stem"].unique():
        for metric, label, better in (("si_sdr_db", "SI-SDR (dB)", "higher"), ("mrstft", "MR-STFT", "lower")):
            for reference in ("separated stem", "true wet stem"):
                out.append(_row("dry", label, stem, dry.loc[(stem, "pipeline dry"), metric], better, reference,
                                dry.loc[(stem, reference), metric]))
    msr = results.dry.groupby("method", sort=False)[["si_snr_db", "multi_mel_snr_db"]].mean()
    per_stem = results.dry.groupby(["stem", "method"], sort=False)[["si_snr_db", "multi_mel_snr_db"]].mean()
    for metric, label in (("si_snr_db", "SI-SNR (dB)"), ("multi_mel_snr_db", "Multi-Mel-SNR (dB)")):
        for reference in ("separated stem", "true wet stem"):
            out.append(_row("MSR", label, "all stems", msr.loc["pipeline dry", metric], "higher", reference,
                            msr.loc[reference, metric]))
        for stem in results.dry["stem"].unique():
            out.append(_row("MSR", label, stem, per_stem.loc[(stem, "pipeline dry"), metric], "higher",
                            "separated stem", per_stem.loc[(stem, "separated stem"), metric]))
    if len(results.levels):
        levels = results.levels
        out.append(_row("levels", "max |RMS change| (dB)", "every dry stem", levels["rms_change_db"].abs().max(),
                        "lower", "stem itself", 0.0))
        out.append(_row("levels", "max |loudness change| (LU)", "every dry stem",
                        levels["loudness_change_lu"].abs().max(), "lower", "stem itself", 0.0))
        out.append(_row("levels", "max peak rise (dB)", "every dry stem", levels["peak_change_db"].max(), "lower",
                        "stem itself", 0.0))
        out.append(_row("levels", "outside 3 dB / 3 LU", f"of {len(levels)} dry stems", levels["outside"].sum(),
                        "lower", "stem itself", 0.0))
    resynthesis = results.resynthesis.groupby("method", sort=False)[["sdr_db", "mrstft"]].mean()
    for metric, label, better in (("sdr_db", "SDR (dB)", "higher"), ("mrstft", "MR-STFT", "lower")):
        out.append(_row("resynthesis", label, "mixture", resynthesis.loc["resynthesis", metric], better, "dry sum",
                        resynthesis.loc["dry sum", metric]))
    return pd.DataFrame(out)


def _chain_text(chain_json: str) -> str:
    from deconstruct.reporting import format_params

    parts = []
    for effect in json.loads(chain_json):
        room = f" [{Path(effect['rir']).stem}]" if effect.get("rir") else ""
        parts.append(f"{effect['name']} {effect['variant']}{room}: {format_params(effect['params'])}")
    return " → ".join(parts) or "none"


def write_report(results: E2EResults, summary: pd.DataFrame, out: Path) -> Path:
    """Write ``<table>.csv``, ``summary.csv``, ``summary.json`` and ``report.html`` into ``out``.

    Returns:
        The path of ``report.html``.
    """
    from deconstruct.reporting import HtmlReport, bar_chart, heatmap, spectrogram_grid
    from eval.report_folder import write_csv, write_json

    tables = {"songs": results.songs, "separation": results.separation, "leakage": results.leakage,
              "effects": results.effects, "detection": results.detection, "params": results.params,
              "dry": results.dry, "levels": results.levels, "resynthesis": results.resynthesis, "summary": summary}
    for name, table in tables.items():
        write_csv(table, out / f"{name}.csv")
    write_json({**results.meta, "summary": summary.to_dict(orient="records"),
                "detection": results.detection.to_dict(orient="records")}, out / "summary.json")

    meta = results.meta
    page = HtmlReport("End-to-end deconstruction")
    models = ", ".join(f"{stage}: {entry['name']}" for stage, entry in meta.get("models", {}).items())
    page.paragraph(f"{meta['songs']} songs of {meta['duration_s']:.1f} s from the eval recordings · {models} · "
                   f"{meta['seconds']:.0f} s")
    page.heading("Summary").table(summary, "{:.3f}")
    page.heading("Songs").rows(["song", "stem", "source", "true chain"],
                               [(r.song, r.stem, r.source, _chain_text(r.chain)) for r in results.songs.itertuples()])
    separation = results.separation.groupby(["stem", "method"], sort=False)[["SDR", "uSDR"]].mean().reset_index()
    page.heading("Separation").paragraph("Mean over songs; references are the true wet stems.").table(separation)
    page.image(bar_chart(separation, ["SDR", "uSDR"], group="stem", hue="method"), "Separation per stem (dB)")
    if len(results.leakage):
        page.paragraph("Stems the model gives but the songs lack (level relative to the mixture, dB):")
        page.table(results.leakage)
    page.heading("Effect detection").table(results.detection, "{:.3f}")
    counts = results.detection[["tp", "fn", "fp", "tn"]].to_numpy(float)
    page.image(heatmap(counts, list(results.detection["effect"]), ["TP", "FN", "FP", "TN"], "stems",
                       value_format="{:.0f}", vmin=0.0, cmap="Blues"), "Detection outcomes per effect")
    page.heading("Parameters (true positives)")
    if len(results.params):
        per_param = results.params.groupby(["effect", "parameter", "unit"], sort=False).agg(
            count=("error_normalised", "size"), mae_normalised=("error_normalised", "mean"),
            mae_midrange=("error_midrange", "mean"), mae_physical=("error_physical", "mean")).reset_index()
        page.table(per_param, "{:.3f}")
    else:
        page.paragraph("No true positive: no parameter to score.")
    dry = results.dry.groupby(["stem", "method"], sort=False)[["si_sdr_db", "mrstft"]].mean().reset_index()
    page.heading("Dry stems").paragraph("Mean over songs, against the true dry stems.").table(dry)
    page.image(bar_chart(dry.rename(columns={"si_sdr_db": "SI-SDR"}), ["SI-SDR"], group="stem", hue="method"),
               "SI-SDR of the dry estimate and of the baselines to the true dry stem (dB)")
    msr = results.dry.groupby(["stem", "method"], sort=False)[["si_snr_db", "multi_mel_snr_db"]].mean().reset_index()
    page.heading("Music Source Restoration measures").paragraph(
        "SI-SNR and Multi-Mel-SNR (dB) of the dry estimate and of the baselines against the true dry stems, as the "
        "MSR challenge computes them (deconstruct.metrics.mel_snr).").table(msr)
    if len(results.levels):
        page.heading("Dry stem levels").paragraph(
            "Every separated stem's dry stem against the stem: RMS, loudness and peak change (limits 3 dB / 3 LU)."
        ).table(results.levels, "{:.2f}")
    page.heading("Resynthesis").table(results.resynthesis, "{:.3f}")
    if results.example:
        page.heading(f"Spectrograms: {results.songs['song'].iloc[0]}")
        page.image(spectrogram_grid(results.example, SAMPLE_RATE),
                   f"First {EXAMPLE_S:.0f} s: mixture; per stem the truth and the pipeline's estimates")
    page.paragraph("Each song's own deconstruction page: songs/<song>/report.html (when written).")
    return page.write(out / "report.html")


# --- command line --------------------------------------------------------------------------------------------------


def run_e2e_suite(separation_model: str | Path | None = None, analysis_model: str | Path | None = None,
                  removal_model: str | Path | None = None, data: str | Path | None = None,
                  out: str | Path | None = None, songs: int = 3, duration_s: float = 8.0, seed: int = 0,
                  device: str | None = None, song_pages: bool = True, overwrite: bool = False,
                  backend: str = "museval", log: Callable[[str], None] | None = None,
                  accompaniment: str = "rendered", options: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """Build the songs, deconstruct and score them, and write the report folder when ``out`` is given.

    Args:
        separation_model, analysis_model, removal_model: model names or checkpoint paths (``None``: shipped
            defaults; ``"dsp-only"`` is a removal model without networks).
        data: the shared data folder holding ``splits.json`` (found automatically when ``None``).
        out: report folder to create (nothing is written when ``None``).
        songs: number of songs.
        duration_s: song length, s.
        seed: seed of the songs.
        device: ``"cpu"`` or ``"cuda"`` (``None``: CUDA when available).
        song_pages: also write each song's ``report.json`` and ``report.html`` under ``out/songs/``.
        overwrite: write into an existing report folder that holds files.
        backend: BSSEval implementation, ``"museval"`` or ``"fast"``.
        log: optional progress callback.
        accompaniment: ``"rendered"`` (band-like songs) or ``"none"`` (see :func:`build_songs`).
        options: further :class:`~deconstruct.pipeline.Deconstructor` options (``{"remove": "all"}``, say).

    Returns:
        The summary table (:func:`summarise`).
    """
    from deconstruct.pipeline import Deconstructor
    from eval.report_folder import prepare_output_dir

    folder = prepare_output_dir(Path(out), overwrite=overwrite) if out is not None else None
    deconstructor = Deconstructor(separation_model, device=device, analysis_model=analysis_model,
                                  removal_model=removal_model, **dict(options or {}))
    built = build_songs(data, songs=songs, duration_s=duration_s, seed=seed, accompaniment=accompaniment)
    pages = folder / "songs" if folder is not None and song_pages else None
    results = evaluate_e2e(deconstructor, built, page_dir=pages, log=log, backend=backend)
    results.meta.update(seed=seed, data=str(data) if data is not None else "", accompaniment=accompaniment,
                        options=dict(options or {}))
    summary = summarise(results)
    if folder is not None:
        write_report(results, summary, folder)
    return summary


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``python -m eval e2e``."""
    parser.add_argument("--separation-model", default=None, help="separation model name or checkpoint path")
    parser.add_argument("--analysis-model", default=None, help="analysis model name or checkpoint path")
    parser.add_argument("--removal-model", default=None, help="removal model name, checkpoint path or dsp-only")
    parser.add_argument("--data", default=None, help="shared data folder holding splits.json (default: found)")
    parser.add_argument("--out", required=True, help="report folder to create")
    parser.add_argument("--songs", type=int, default=3, help="number of songs (default 3)")
    parser.add_argument("--duration", type=float, default=8.0, help="song length in seconds (default 8)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the songs (default 0)")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    parser.add_argument("--backend", choices=("museval", "fast"), default="museval",
                        help="BSSEval implementation (default museval)")
    parser.add_argument("--accompaniment", choices=ACCOMPANIMENTS, default="rendered",
                        help="rendered: band-like songs under the eval sources (default); none: eval sources only")
    parser.add_argument("--remove", choices=("safe", "all", "none"), default=None,
                        help="the pipeline's removal policy (default: the pipeline's default)")
    parser.add_argument("--no-song-pages", action="store_true", help="skip each song's report.json/report.html")
    parser.add_argument("--overwrite", action="store_true", help="write into a report folder that has files")


def run(args: argparse.Namespace) -> int:
    """Run the suite from parsed command-line options and write the report folder."""
    summary = run_e2e_suite(args.separation_model, args.analysis_model, args.removal_model, args.data, args.out,
                            songs=args.songs, duration_s=args.duration, seed=args.seed, device=args.device,
                            song_pages=not args.no_song_pages, overwrite=args.overwrite, backend=args.backend,
                            log=print, accompaniment=args.accompaniment,
                            options={"remove": args.remove} if args.remove else None)
    with pd.option_context("display.width", 200, "display.max_columns", 10, "display.precision", 3):
        print(summary)
    print(f"report written to {args.out}")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m eval.e2e_suite", description=__doc__.splitlines()[0])
    add_arguments(parser)
    raise SystemExit(run(parser.parse_args()))
