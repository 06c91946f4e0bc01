"""Real songs without stems: does the analysis answer the same thing everywhere, and does removal keep levels?

The shipped example (``deconstruct/examples/slow_motion_dream_excerpt.mp3``) and every full mix of the
``mixes_no_stems`` folder of the shared data (``eval`` split; a file identical to one already listed counts once),
or the songs given, go through the user's command-line
path (:meth:`~deconstruct.pipeline.Deconstructor.run_to_folder`: streamed separation, analysis, removal under the
pipeline's policy, ``report.json``). There is no truth to score against; the suite reports what a listener would
check first:

- per effect: on how many stems it was detected, on how many the analysis was unsure, its mean probability, and
  the spread (min, median, max) of each parameter over the stems where it was detected. An analyzer that detects
  one effect with near-identical parameters on every stem of every song is answering a constant;
- every dry stem against its stem (:mod:`eval.levels`): RMS, loudness and peak change; a stem whose RMS or
  loudness moved by more than 3 dB / 3 LU is flagged.

    python -m eval wild --out reports/wild
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from deconstruct.errors import InputError

__all__ = ["WildResults", "add_arguments", "default_songs", "evaluate_wild", "run", "run_wild_suite",
           "summarise_wild", "unique_files"]

EXAMPLE = Path(__file__).resolve().parents[1] / "deconstruct" / "examples" / "slow_motion_dream_excerpt.mp3"
MIXES_FOLDER = "mixes_no_stems"
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3")


@dataclass(frozen=True)
class WildResults:
    """The suite's tables.

    Attributes:
        effects: one row per (song, stem, effect): probability, threshold, decision, detected, parameters (JSON).
        levels: one row per (song, stem): :func:`eval.levels.level_change` of the dry stem, and the removals kept.
        meta: songs, models, wall time.
    """

    effects: pd.DataFrame
    levels: pd.DataFrame
    meta: dict[str, Any] = field(default_factory=dict)


def default_songs(data: str | Path | None = None) -> list[Path]:
    """The shipped example, then every audio file of the shared data's ``mixes_no_stems`` folder, sorted; a file
    whose bytes equal an earlier one's is listed once.

    Raises:
        InputError: neither is there.
    """
    from eval.accompaniment import data_root

    songs = [EXAMPLE] if EXAMPLE.is_file() else []
    try:
        folder = data_root(data) / MIXES_FOLDER
    except InputError:
        folder = None
    if folder is not None and folder.is_dir():
        songs += sorted(p for p in folder.iterdir() if p.suffix.lower() in AUDIO_SUFFIXES)
    if not songs:
        raise InputError("no song: the shared data has no mixes_no_stems folder and the example is missing; "
                         "give song files")
    return unique_files(songs)


def unique_files(paths: Sequence[Path]) -> list[Path]:
    """``paths`` without the files whose content (sha256) equals an earlier one's, order kept."""
    import hashlib

    seen, out = set(), []
    for path in paths:
        digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
        if digest not in seen:
            seen.add(digest)
            out.append(Path(path))
    return out


def _read(path: Path):
    from deconstruct.audio import load_audio

    return load_audio(path)


def _song_rows(name: str, folder: Path) -> tuple[list[dict], list[dict]]:
    """The rows of one song from its result folder (``report.json``, ``stems/``, ``dry/``)."""
    from eval.levels import level_change

    report = json.loads((folder / "report.json").read_text())
    effects, levels = [], []
    for stem, entry in report["stems"].items():
        for estimate in entry.get("analysis", {}).get("effects", []):
            detected = bool(estimate.get("detected"))
            effects.append({"song": name, "stem": stem, "effect": estimate["name"],
                            "probability": float(estimate["probability"]),
                            "threshold": estimate.get("threshold"),
                            "decision": estimate.get("decision") or ("detected" if detected else "absent"),
                            "detected": int(detected), "params": json.dumps(estimate.get("params", {}))})
        dry = entry.get("dry", {}).get("file")
        if dry is None:
            continue
        removal = entry.get("removal", {})
        levels.append({"song": name, "stem": stem, "removed": "+".join(removal.get("kept", [])),
                       "rejected": "+".join(removal.get("rejected", [])),
                       **level_change(_read(folder / entry["file"]), _read(folder / dry))})
    return effects, levels


def evaluate_wild(deconstructor: Any, songs: Sequence[str | Path], folder: str | Path | None = None,
                  log: Callable[[str], None] | None = None) -> WildResults:
    """Run ``deconstructor`` on every song file into ``folder/<song>/`` (a temporary folder when ``None``).

    Args:
        deconstructor: a :class:`~deconstruct.pipeline.Deconstructor` with the analyze and remove stages.
        songs: song files.
        folder: where each song's result folder goes (kept), or ``None``.
        log: progress callback.
    """
    if deconstructor.analyzer is None or not deconstructor.removes:
        raise InputError("the wild suite needs the analyze and remove stages")
    effects, levels, names = [], [], []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="wild-") as scratch:
        base = Path(folder) if folder is not None else Path(scratch)
        for song in map(Path, songs):
            name = song.name
            names.append(name)
            began = time.perf_counter()
            out = base / song.stem.replace(" ", "_")
            deconstructor.run_to_folder(song, out, overwrite=True)
            part_effects, part_levels = _song_rows(name, out)
            effects += part_effects
            levels += part_levels
            if log:
                log(f"{name}: {time.perf_counter() - began:.0f} s")
    meta = {"suite": "wild", "songs": names, "models": deconstructor._models(),
            "seconds": round(time.perf_counter() - started, 1)}
    return WildResults(pd.DataFrame(effects), pd.DataFrame(levels), meta)


def _spread(values: pd.Series) -> str:
    return f"{values.min():.3g} / {values.median():.3g} / {values.max():.3g}"


def summarise_wild(results: WildResults) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per effect: stems detected and unsure out of all stems, mean probability, probability spread; and per
    (effect, parameter) over the detected stems: count and min / median / max."""
    effects = results.effects
    total = effects.groupby(["song", "stem"]).ngroups
    per_effect = effects.groupby("effect", sort=False).agg(
        detected=("detected", "sum"), unsure=("decision", lambda d: int((d == "unsure").sum())),
        mean_probability=("probability", "mean"),
        probability_spread=("probability", _spread)).reset_index()
    per_effect.insert(1, "stems", total)
    params = []
    for row in effects[effects["detected"] > 0].itertuples():
        for name, value in json.loads(row.params).items():
            params.append({"effect": row.effect, "parameter": name, "value": float(value)})
    table = pd.DataFrame(params, columns=["effect", "parameter", "value"])
    spread = table.groupby(["effect", "parameter"], sort=False)["value"].agg(
        count="size", min="min", median="median", max="max").reset_index()
    return per_effect, spread


def run_wild_suite(songs: Sequence[str | Path] | None = None, separation_model: str | Path | None = None,
                   analysis_model: str | Path | None = None, removal_model: str | Path | None = None,
                   data: str | Path | None = None, out: str | Path | None = None, device: str | None = None,
                   options: Mapping[str, Any] | None = None, overwrite: bool = False,
                   log: Callable[[str], None] | None = None) -> tuple[pd.DataFrame, pd.DataFrame, WildResults]:
    """Deconstruct the songs (default: :func:`default_songs`) and summarise; with ``out``, write ``effects.csv``,
    ``levels.csv``, ``per_effect.csv``, ``params.csv``, ``summary.json`` and every song's folder under ``songs/``.

    Returns:
        ``(per effect, parameter spread, results)``.
    """
    from deconstruct.pipeline import Deconstructor
    from eval.report_folder import prepare_output_dir, write_csv, write_json

    chosen = [Path(song) for song in songs] if songs else default_songs(data)
    missing = [str(song) for song in chosen if not song.is_file()]
    if missing:
        raise InputError(f"no such song file: {', '.join(missing)}")
    folder = prepare_output_dir(Path(out), overwrite=overwrite) if out is not None else None
    deconstructor = Deconstructor(separation_model, device=device, analysis_model=analysis_model,
                                  removal_model=removal_model, **dict(options or {}))
    results = evaluate_wild(deconstructor, chosen, folder / "songs" if folder is not None else None, log)
    per_effect, spread = summarise_wild(results)
    if folder is not None:
        for name, table in (("effects", results.effects), ("levels", results.levels), ("per_effect", per_effect),
                            ("params", spread)):
            write_csv(table, folder / f"{name}.csv")
        write_json({**results.meta, "per_effect": per_effect.to_dict(orient="records"),
                    "outside_limits": int(results.levels["outside"].sum())}, folder / "summary.json")
    return per_effect, spread, results


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``python -m eval wild``."""
    parser.add_argument("songs", nargs="*", help="song files (default: the shared mixes_no_stems and the example)")
    parser.add_argument("--separation-model", default=None, help="separation model name or checkpoint path")
    parser.add_argument("--analysis-model", default=None, help="analysis model name or checkpoint path")
    parser.add_argument("--removal-model", default=None, help="removal model name, checkpoint path or dsp-only")
    parser.add_argument("--remove", choices=("safe", "all", "none"), default=None,
                        help="the pipeline's removal policy (default: the pipeline's default)")
    parser.add_argument("--data", default=None, help="shared data folder holding splits.json (default: found)")
    parser.add_argument("--out", default=None, help="report folder to create (default: print only)")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    parser.add_argument("--overwrite", action="store_true", help="write into a report folder that has files")


def run(args: argparse.Namespace) -> int:
    """Run the suite and print per effect its detections and parameter spread, and every dry stem's level change
    (flagged when outside 3 dB / 3 LU)."""
    per_effect, spread, results = run_wild_suite(
        args.songs, args.separation_model, args.analysis_model, args.removal_model, args.data, args.out,
        args.device, {"remove": args.remove} if args.remove else None, args.overwrite, log=print)
    levels = results.levels.assign(flag=results.levels["outside"].map({True: "OUTSIDE 3 dB / 3 LU", False: ""}))
    columns = ["song", "stem", "removed", "rejected", "stem_loudness_lufs", "rms_change_db", "loudness_change_lu",
               "peak_change_db", "flag"]
    with pd.option_context("display.width", 220, "display.max_rows", 500, "display.max_colwidth", 40,
                           "display.precision", 3):
        print(f"\nPer effect, over {per_effect['stems'].iloc[0]} stems of {len(results.meta['songs'])} songs:")
        print(per_effect.to_string(index=False))
        print("\nParameters where detected (count, min, median, max):")
        print(spread.to_string(index=False) if len(spread) else "  nothing detected")
        print("\nDry stem against stem:")
        print(levels[columns].to_string(index=False))
    flagged = int(results.levels["outside"].sum())
    print(f"\n{flagged} of {len(levels)} dry stems outside 3 dB / 3 LU")
    if args.out:
        print(f"report written to {args.out}")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m eval.wild_suite", description=__doc__.splitlines()[0])
    add_arguments(parser)
    raise SystemExit(run(parser.parse_args()))
