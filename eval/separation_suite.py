"""Separation suite: BSSEval v4 and whole-track SDR per stem, with trivial baselines in the same table.

For every track, the system under test and three baselines are scored on the same references:

- ``mixture/N``: the mixture divided by the number of stems, as every stem's estimate;
- ``mixture``: the mixture itself as every stem's estimate;
- ``zeros``: silence. BSSEval is undefined for a silent estimate (museval refuses it), so its SDR/SIR/ISR/SAR are
  NaN; its whole-track SDR is exactly 0 dB.

Metrics per (track, method, stem): museval-style SDR, SIR, ISR, SAR (BSSEval v4 images, 1-s frames, median over
frames that are not silent) and uSDR, the whole-track SDR of the MDX/SDX challenges. The summary takes the
median over tracks of the BSSEval medians (SiSEC) and the mean over tracks of uSDR (MDX).

    python -m eval separation --data PATH --model NAME_OR_PATH --out DIR
"""

from __future__ import annotations

import argparse
import math
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
import torch

from deconstruct.audio import Audio
from deconstruct.errors import DependencyError, InputError
from deconstruct.metrics import bss_eval_v4, frame_count, global_sdr
from deconstruct.reporting import HtmlReport, bar_chart, spectrogram_grid
from eval.report_folder import prepare_output_dir, safe_name, write_csv, write_json
from eval.tracks import Track, TrackSource, find_tracks

__all__ = [
    "BSSEVAL_METRICS",
    "Example",
    "SeparationResults",
    "TrackResult",
    "add_arguments",
    "baseline_estimates",
    "evaluate_separation",
    "run",
    "score_estimates",
    "write_report",
]

SeparateFn = Callable[[Audio], Mapping[str, Audio]]
BSSEVAL_METRICS = ("SDR", "SIR", "ISR", "SAR")
METRICS = (*BSSEVAL_METRICS, "uSDR")
BACKENDS = ("fast", "museval")
_BATCH_BYTES = 1 << 30


@dataclass(frozen=True)
class TrackResult:
    """Scores of every method on one track.

    Attributes:
        track: the track's name.
        duration_s: its duration in seconds.
        sample_rate: its sample rate in Hz.
        stems: the stems scored, in the order used as BSSEval's reference set.
        separation_s: wall time of the system under test on this track (0 for baselines only).
        metrics_s: wall time of the metrics on this track.
        scores: ``method -> stem -> metric -> value`` (SDR/SIR/ISR/SAR medians over frames, uSDR, ``frames``:
            the number of frames that are not NaN).
        frames: ``method -> stem -> metric -> framewise BSSEval values`` (NaN for silent frames).
    """

    track: str
    duration_s: float
    sample_rate: int
    stems: list[str]
    separation_s: float
    metrics_s: float
    scores: dict[str, dict[str, dict[str, float]]]
    frames: dict[str, dict[str, dict[str, list[float]]]]


@dataclass(frozen=True)
class Example:
    """A mono excerpt of the references and of the system's estimates, kept for spectrogram plots.

    Attributes:
        track: the track's name.
        method: the method whose estimates are kept (the system under test, else ``mixture/N``).
        sample_rate: in Hz.
        references: stem name → ``[samples]`` mono excerpt.
        estimates: stem name → ``[samples]`` mono excerpt of ``method``'s estimates.
    """

    track: str
    method: str
    sample_rate: int
    references: dict[str, torch.Tensor]
    estimates: dict[str, torch.Tensor]


@dataclass(frozen=True)
class SeparationResults:
    """Everything one run of the suite measured.

    Attributes:
        method: the name of the system under test (None when only baselines ran).
        backend: ``"fast"`` (deconstruct.metrics) or ``"museval"``.
        tracks: one :class:`TrackResult` per track.
        examples: excerpts for plots (the first few tracks).
    """

    method: str | None
    backend: str
    tracks: list[TrackResult]
    examples: list[Example] = field(default_factory=list)

    def table(self) -> pd.DataFrame:
        """One row per (track, method, stem) with SDR, SIR, ISR, SAR, uSDR and frames."""
        rows = [
            {"track": result.track, "method": method, "stem": stem, **values}
            for result in self.tracks
            for method, per_stem in result.scores.items()
            for stem, values in per_stem.items()
        ]
        return pd.DataFrame(rows, columns=["track", "method", "stem", *METRICS, "frames"])

    def summary(self) -> pd.DataFrame:
        """Per (method, stem): median over tracks of SDR/SIR/ISR/SAR, mean over tracks of uSDR, track count."""
        table = self.table()
        grouped = table.groupby(["method", "stem"], sort=False)
        summary = grouped[list(BSSEVAL_METRICS)].median()
        summary["uSDR"] = grouped["uSDR"].mean()
        summary["tracks"] = grouped["track"].nunique()
        return summary.reset_index()


def baseline_estimates(mixture: torch.Tensor, stems: int) -> dict[str, torch.Tensor]:
    """The trivial baselines' estimates for ``stems`` stems.

    Shape:
        mixture: ``[channels, samples]`` → each value ``[stems, channels, samples]``.
    """
    repeated = mixture.unsqueeze(0).expand(stems, *mixture.shape)
    return {f"mixture/{stems}": repeated / stems, "mixture": repeated, "zeros": torch.zeros_like(repeated)}


def score_estimates(
    references: torch.Tensor,
    estimates: Mapping[str, torch.Tensor],
    sample_rate: int,
    backend: str = "fast",
    device: str | torch.device = "cpu",
) -> dict[str, dict[str, np.ndarray]]:
    """Framewise BSSEval v4 and whole-track SDR of several methods on the same references.

    Args:
        references: the true stems.
        estimates: method name → its estimates of the same stems.
        sample_rate: in Hz; frames are 1 s (``window = hop = sample_rate``) as in museval.
        backend: ``"fast"`` (batched, deconstruct.metrics) or ``"museval"`` (reference implementation).
        device: where the fast backend computes.

    Returns:
        method → ``{"SDR", "SIR", "ISR", "SAR": [stems, frames], "uSDR": [stems]}`` as float64 arrays.

    Shape:
        references and every estimate: ``[stems, channels, samples]``.
    """
    if backend not in BACKENDS:
        raise InputError(f"unknown metrics backend {backend!r}; use one of {', '.join(BACKENDS)}")
    names = list(estimates)
    framewise = (_bsseval_fast if backend == "fast" else _bsseval_museval)(references, estimates, sample_rate, device)
    results = {}
    for name in names:
        usdr = global_sdr(references, estimates[name]).cpu().numpy()
        results[name] = {**framewise[name], "uSDR": usdr}
    return results


def _bsseval_fast(
    references: torch.Tensor, estimates: Mapping[str, torch.Tensor], sample_rate: int, device: str | torch.device
) -> dict[str, dict[str, np.ndarray]]:
    """BSSEval with methods batched (one Gram matrix per batch), batches bounded to about 1 GiB of float64."""
    names = list(estimates)
    batch = max(1, _BATCH_BYTES // (8 * references.numel()))
    refs = references.to(device)
    results = {}
    for start in range(0, len(names), batch):
        group = names[start:start + batch]
        stacked = torch.stack([estimates[name] for name in group]).to(device)
        scores = bss_eval_v4(refs, stacked, window=sample_rate, hop=sample_rate).as_dict()
        for index, name in enumerate(group):
            results[name] = {metric: values[index].cpu().numpy() for metric, values in scores.items()}
    return results


def _bsseval_museval(
    references: torch.Tensor, estimates: Mapping[str, torch.Tensor], sample_rate: int, device: str | torch.device
) -> dict[str, dict[str, np.ndarray]]:
    """BSSEval by museval itself, in float64 (museval refuses a silent estimate: all NaN then, as the fast one)."""
    import museval

    refs = references.double().permute(0, 2, 1).numpy()
    frames = frame_count(refs.shape[1], sample_rate, sample_rate)
    results = {}
    for name, estimate in estimates.items():
        try:
            sdr, isr, sir, sar = museval.evaluate(
                refs, estimate.double().permute(0, 2, 1).numpy(), win=sample_rate, hop=sample_rate
            )
        except ValueError:
            sdr = isr = sir = sar = np.full((refs.shape[0], frames), np.nan)
        results[name] = {"SDR": sdr, "ISR": isr, "SIR": sir, "SAR": sar}
    return results


def evaluate_separation(
    separate_fn: SeparateFn | None,
    tracks: Iterable[Track | TrackSource],
    *,
    method: str = "model",
    baselines: bool = True,
    backend: str = "fast",
    stems: Sequence[str] | None = None,
    examples: int = 1,
    example_s: float = 10.0,
    device: str | torch.device = "cpu",
    progress: bool = True,
) -> SeparationResults:
    """Separate every track and score the stems beside the trivial baselines.

    Args:
        separate_fn: ``Audio -> {stem: Audio}``, e.g. ``Separator(model).separate``; ``None`` scores the
            baselines only. Its stems are matched to the track's by name; estimates at another rate or channel
            count are converted, and padded or trimmed to the reference length (as museval does).
        tracks: tracks in memory or on disk (:func:`eval.tracks.find_tracks`).
        method: the name of the system under test in the tables.
        baselines: also score ``mixture/N``, ``mixture`` and ``zeros``.
        backend: ``"fast"`` or ``"museval"`` for SDR/SIR/ISR/SAR.
        stems: stems to score (default: every stem of the track that the system estimates).
        examples: keep excerpts of this many tracks for spectrogram plots.
        example_s: excerpt length in seconds.
        device: where the fast metrics compute.
        progress: show a progress bar.

    Returns:
        The per-track scores and plot excerpts.

    Raises:
        InputError: the system estimates none of a track's stems, or no method was asked for.
    """
    if separate_fn is None and not baselines:
        raise InputError("nothing to evaluate: give a separation model or keep the baselines")
    if separate_fn is not None and baselines and (method in ("mixture", "zeros") or method.startswith("mixture/")):
        raise InputError(f"method name {method!r} is a baseline's name; name the system under test differently")
    from tqdm.auto import tqdm

    total = len(tracks) if isinstance(tracks, Sequence) else None
    results, kept = [], []
    for item in tqdm(tracks, total=total, desc="separation", unit="track", disable=not progress):
        track = item.load() if isinstance(item, TrackSource) else item
        names = [name for name in track.stems if stems is None or name in stems]
        start = time.perf_counter()
        estimated = dict(separate_fn(track.mixture)) if separate_fn is not None else {}
        separation_s = time.perf_counter() - start if separate_fn is not None else 0.0
        if separate_fn is not None:
            names = [name for name in names if name in estimated]
        if not names:
            raise InputError(
                f"track {track.name}: no stem to score (track has {sorted(track.stems)}, the system gives "
                f"{sorted(estimated)}); choose stems both have"
            )
        references = torch.stack([track.stems[name].samples for name in names])
        methods: dict[str, torch.Tensor] = {}
        if separate_fn is not None:
            methods[method] = torch.stack([_aligned(estimated[name], track.stems[name]) for name in names])
        if baselines:
            methods.update(baseline_estimates(track.mixture.samples, len(names)))
        start = time.perf_counter()
        scored = score_estimates(references, methods, track.mixture.sample_rate, backend, device)
        metrics_s = time.perf_counter() - start
        results.append(_track_result(track, names, scored, separation_s, metrics_s))
        if len(kept) < examples:
            shown = method if separate_fn is not None else f"mixture/{len(names)}"
            kept.append(_example(track, names, shown, methods[shown], example_s))
    return SeparationResults(method if separate_fn is not None else None, backend, results, kept)


def _aligned(estimate: Audio, reference: Audio) -> torch.Tensor:
    """The estimate at the reference's rate and channel count, padded with zeros or trimmed to its length."""
    if estimate.sample_rate != reference.sample_rate:
        estimate = estimate.resampled(reference.sample_rate)
    estimate = estimate.to_channels(reference.channels)
    samples = estimate.samples[:, : reference.num_samples]
    return torch.nn.functional.pad(samples, (0, reference.num_samples - samples.shape[-1]))


def _nanmedian(values: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmedian(values, axis=-1)


def _track_result(
    track: Track, names: list[str], scored: dict[str, dict[str, np.ndarray]], separation_s: float, metrics_s: float
) -> TrackResult:
    scores: dict[str, dict[str, dict[str, float]]] = {}
    frames: dict[str, dict[str, dict[str, list[float]]]] = {}
    for method, metrics in scored.items():
        medians = {metric: _nanmedian(np.asarray(metrics[metric])) for metric in BSSEVAL_METRICS}
        valid = ~np.isnan(np.asarray(metrics["SDR"]))
        scores[method] = {
            stem: {
                **{metric: float(medians[metric][index]) for metric in BSSEVAL_METRICS},
                "uSDR": float(metrics["uSDR"][index]),
                "frames": int(valid[index].sum()),
            }
            for index, stem in enumerate(names)
        }
        frames[method] = {
            stem: {metric: [float(v) for v in np.asarray(metrics[metric])[index]] for metric in BSSEVAL_METRICS}
            for index, stem in enumerate(names)
        }
    mixture = track.mixture
    return TrackResult(track.name, mixture.duration_s, mixture.sample_rate, names, separation_s, metrics_s,
                       scores, frames)


def _example(track: Track, names: list[str], method: str, estimates: torch.Tensor, seconds: float) -> Example:
    length = min(track.mixture.num_samples, int(math.ceil(seconds * track.mixture.sample_rate)))
    return Example(
        track.name,
        method,
        track.mixture.sample_rate,
        {name: track.stems[name].samples[:, :length].mean(0) for name in names},
        {name: estimates[index, :, :length].mean(0) for index, name in enumerate(names)},
    )


METRIC_NOTES = {
    "SDR": "source-to-distortion ratio, BSSEval v4 images (museval), median over 1-s frames",
    "SIR": "source-to-interference ratio (leakage of the other stems), same framing",
    "ISR": "source-image-to-spatial-distortion ratio (filtering/panning errors of the stem itself)",
    "SAR": "source-to-artifacts ratio (what no filtering of the references explains)",
    "uSDR": "whole-track SDR of the MDX 2021 / SDX 2023 challenges, 10 log10((Σs²+1e-7)/(Σ(s-ŝ)²+1e-7))",
    "frames": "number of 1-s frames in which no reference or estimate is silent (BSSEval is NaN elsewhere)",
    "summary": "median over tracks for SDR/SIR/ISR/SAR (SiSEC), mean over tracks for uSDR (MDX)",
}


def write_report(results: SeparationResults, out: Path, data: str = "") -> Path:
    """Write the report folder: per-track JSON/CSV, all scores, the summary and ``report.html``.

    Layout: ``items/<track>.json`` (medians, framewise values, timings), ``items/<track>.csv``, ``scores.csv``
    (one row per track, method and stem), ``summary.csv``, ``summary.json``, ``report.html``.

    Returns:
        The path of ``report.html``.
    """
    table, summary = results.table(), results.summary()
    items = out / "items"
    items.mkdir(exist_ok=True)
    used: set[str] = set()
    for result in results.tracks:
        name = safe_name(result.track)
        while name in used:
            name += "_"
        used.add(name)
        write_json({"method": results.method, "backend": results.backend, **asdict(result)}, items / f"{name}.json")
        write_csv(table[table["track"] == result.track], items / f"{name}.csv")
    write_csv(table, out / "scores.csv")
    write_csv(summary, out / "summary.csv")
    meta = {
        "suite": "separation",
        "data": data,
        "method": results.method,
        "backend": results.backend,
        "tracks": len(results.tracks),
        "separation_s": sum(r.separation_s for r in results.tracks),
        "metrics_s": sum(r.metrics_s for r in results.tracks),
    }
    write_json({**meta, "metrics": METRIC_NOTES, "summary": summary.to_dict(orient="records")}, out / "summary.json")
    return _html_report(results, table, summary, meta).write(out / "report.html")


def _html_report(
    results: SeparationResults, table: pd.DataFrame, summary: pd.DataFrame, meta: dict[str, object]
) -> HtmlReport:
    page = HtmlReport(f"Separation: {results.method or 'baselines'}")
    page.paragraph(
        f"Data: {meta['data']} · tracks: {meta['tracks']} · BSSEval backend: {results.backend} · "
        f"separation {meta['separation_s']:.1f} s, metrics {meta['metrics_s']:.1f} s"
    )
    page.heading("Summary").table(summary)
    if not summary.empty:
        page.image(bar_chart(summary, METRICS, group="stem", hue="method"), "Summary per stem and method (dB)")
    page.heading("Metrics").definitions(METRIC_NOTES)
    page.heading("Per track").table(table)
    for example in results.examples:
        rows = [
            (stem, [("reference", example.references[stem]), (example.method, example.estimates[stem])])
            for stem in example.references
        ]
        page.heading(f"Spectrograms: {example.track}", level=3)
        page.image(spectrogram_grid(rows, example.sample_rate), f"{example.track}: reference and estimate per stem")
    return page


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The suite's command-line options."""
    parser.add_argument("--data", required=True, help="track folder, .stem.mp4 file, or data set root")
    parser.add_argument("--model", help="separation model name or checkpoint path (omit to score baselines only)")
    parser.add_argument("--out", required=True, help="report folder to create")
    parser.add_argument("--backend", choices=BACKENDS, default="fast", help="BSSEval implementation (default fast)")
    parser.add_argument("--stems", nargs="+", help="stems to score (default: all the model gives)")
    parser.add_argument("--max-tracks", type=int, help="score only the first N tracks")
    parser.add_argument("--examples", type=int, default=1, help="tracks with spectrogram plots (default 1)")
    parser.add_argument("--device", default=None, help="cpu or cuda for the model (default: cuda when available)")
    parser.add_argument("--metrics-device", default="cpu", help="cpu or cuda for BSSEval (default cpu)")
    parser.add_argument("--no-baselines", action="store_true", help="skip the mixture/N, mixture and zeros rows")
    parser.add_argument("--overwrite", action="store_true", help="replace the files of an existing report folder")
    parser.add_argument("--store", action="store_true",
                        help="write the summary into the model's metrics file (a shipped model's "
                             "deconstruct/models/weights/<name>.metrics.json, or <checkpoint>.metrics.json)")


def run(args: argparse.Namespace) -> int:
    """Run the suite from parsed command-line options and write the report folder."""
    out = prepare_output_dir(Path(args.out), overwrite=args.overwrite)
    tracks = find_tracks(args.data)
    if args.max_tracks is not None:
        tracks = tracks[: max(0, args.max_tracks)]
    separate_fn, method = None, "model"
    if args.model is not None:
        separator = _load_separator(args.model, args.device)
        separate_fn, method = separator.separate, separator.name
    results = evaluate_separation(
        separate_fn, tracks, method=method, baselines=not args.no_baselines, backend=args.backend,
        stems=args.stems, examples=args.examples, device=args.metrics_device,
    )
    write_report(results, out, data=str(args.data))
    print(f"report written to {out}")
    if args.store:
        if args.model is None:
            raise InputError("--store needs --model: the model whose metrics file receives the numbers")
        from eval.store import store_suite_results

        summary = results.summary()
        stored = {"data": Path(args.data).name, "tracks": len(results.tracks), "backend": results.backend,
                  "mean_uSDR_db": summary.groupby("method")["uSDR"].mean().round(3).to_dict(),
                  "summary": summary.to_dict(orient="records")}
        print(f"stored in {store_suite_results(args.model, 'separation_suite', stored)}")
    return 0


def _load_separator(model: str, device: str | None):  # noqa: ANN202 - the stage's type is imported lazily
    try:
        from deconstruct.separation import Separator
    except ImportError as error:
        raise DependencyError(f"the separation stage cannot be imported ({error}); score baselines without --model")
    return Separator(model, device=device)
