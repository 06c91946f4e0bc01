"""The ``deconstruct`` command line.

Exit codes: 0 success; 1 other deconstruct error; 2 bad input or usage; 3 output problem (disk full included);
4 model problem; 5 missing dependency; 130 interrupted (Ctrl-C), 143 terminated (SIGTERM). An interrupted or
failed run leaves the output folder as it found it.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from pathlib import Path

from deconstruct.errors import DeconstructError, InputError

_IMPORTED = time.perf_counter()

EPILOG = """examples:
  deconstruct song.wav -o out/                 separate, analyse and remove effects with the shipped models
  deconstruct song.wav -o out/ --stages separate             stems only
  deconstruct song.wav -o out/ --remove none   analyse only: dry/ stems are exact copies of the stems
  deconstruct song.wav -o out/ --upmix 5.1,binaural          also render the dry stems to 5.1 and binaural
  deconstruct song.wav -o out/ --bit-depth 16                16-bit files (one common gain if they would clip)
  deconstruct song.wav -o out/ --remix mix.json              also a stereo remix with the settings below
  deconstruct song.mp3 -o out/ --overwrite     replace earlier results in out/
  deconstruct --list-models                    shipped and published models, scores, licences, cached or not
  deconstruct song.wav -o out/ --model demucs:htdemucs_6s --upmix 5.1     six stems (guitar, piano) with demucs
  deconstruct song.wav -o out/ --model demucs:htdemucs_ft --model-repo models/    offline, from a local folder
  deconstruct song.wav -o out/ --model bs.ckpt --model-config bs.yaml          a BS-/Mel-Band RoFormer checkpoint
  deconstruct song.wav -o out/ --model best    the best published model already cached (else the shipped one)

remix settings (--remix SETTINGS.json), every key optional:
  {"stems": {"vocals": {"gain_db": 2.0, "pan": -0.3, "width_deg": 30, "mute": false, "solo": false},
             "drums": {"gain_db": -3.0}},
   "master_gain_db": 0.0}
  gain_db, master_gain_db: dB in [-120, 24]; pan: -1 (left) .. +1 (right); width_deg: 0..360 or null (the
  recorded image); mute/solo: true/false; stem names: those of the separation model (see --list-models)

exit codes: 0 ok, 1 error, 2 bad input or usage, 3 output problem (disk full too), 4 model problem,
5 missing dependency, 130 interrupted, 143 terminated; a failed run leaves the output folder as it was"""


def build_parser() -> argparse.ArgumentParser:
    from deconstruct.commands import help_text

    parser = argparse.ArgumentParser(
        prog="deconstruct", epilog=f"{help_text()}\n\n{EPILOG}", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Take a finished song apart: separate it into stems, find the effects on each stem, remove "
                    "them, and optionally upmix or remix the dry stems. Writes stems/, dry/, render/ and report.json.")
    parser.add_argument("song", nargs="?", help="input audio: WAV, FLAC, OGG, MP3 or .stem.mp4; mono or stereo, any rate")
    parser.add_argument("-o", "--out", help="output folder (created if missing); gets stems/<name>.wav and report.json")
    parser.add_argument("--model", help="separation model: a shipped name (see --list-models), a checkpoint path, "
                                        "demucs:NAME (a published demucs model or bag), or best (the best published "
                                        "model that is cached, else the shipped default)")
    parser.add_argument("--model-repo", metavar="DIR",
                        help="load demucs:NAME from this local folder (demucs's layout: <sig>-<checksum>.th and "
                             "<name>.yaml files), fully offline; default: $DECONSTRUCT_MODEL_REPO, else demucs's "
                             "caches, downloading on first use")
    parser.add_argument("--model-config", metavar="YAML",
                        help="the YAML config of a RoFormer checkpoint given with --model (BS- or Mel-Band RoFormer, "
                             "Music-Source-Separation-Training layout)")
    parser.add_argument("--analysis-model", help="effect analysis model: a shipped name or a checkpoint path")
    parser.add_argument("--removal-model", help="effect removal model: a shipped name, a checkpoint path or dsp-only")
    parser.add_argument("--stages", default="separate,analyze,remove",
                        help="comma-separated stages to run (default: separate,analyze,remove; remove needs analyze)")
    parser.add_argument("--remove", default="safe", choices=["safe", "all", "none"],
                        help="effect removal policy: safe (default) removes the confidently detected effects, each "
                             "kept only if it passes its checks (resynthesis, loudness/RMS within 3 LU/3 dB, no new "
                             "peak); all removes every detected or unsure effect, checks recorded but not enforced; "
                             "none removes nothing (dry/ holds exact copies of the stems)")
    parser.add_argument("--upmix", action="append", default=[], metavar="FORMAT",
                        help="also render the dry stems to 2.0, 5.1, 7.1, 7.1.4, binaural, foa, hoa2 or hoa3 "
                             "(render/<format>.wav with its WAVE channel mask); repeat or comma-separate")
    parser.add_argument("--placement", default="surround",
                        help="where stems sit in an upmix: a preset (surround: the front image kept, the song's own "
                             "ambience and removed reverb around the listener; stage: front only; immersive) or a "
                             "JSON file with per-stem azimuth_deg, elevation_deg, width_deg, gain_db and extraction")
    parser.add_argument("--hrtf", help="SOFA file for binaural rendering (default: the shipped MIT KEMAR set)")
    parser.add_argument("--remix", metavar="SETTINGS.json",
                        help="render a stereo remix (render/remix.wav) of the dry stems; SETTINGS.json: "
                             '{"stems": {"vocals": {"gain_db": 2.0, "pan": -0.3, "width_deg": 30, "mute": false, '
                             '"solo": false}}, "master_gain_db": 0.0} (every key optional; gain_db and '
                             "master_gain_db in [-120, 24] dB, pan in [-1 left, +1 right], width_deg in [0, 360] "
                             "or null; stems must be ones the separation model gives); checked before any stage runs")
    parser.add_argument("--device", choices=["cpu", "cuda"], help="where to run the models (default: cuda if present)")
    parser.add_argument("--overwrite", action="store_true", help="replace earlier results in the output folder")
    parser.add_argument("--bit-depth", default="float32", choices=["float32", "24", "16"],
                        help="sample format of every file written (stems, dry stems, renders): float32 (default, "
                             "exact levels, never clipped) or dithered 24/16-bit PCM; when PCM would clip, one "
                             "common gain lowers all stems and dry stems together (report.json: pcm_gain_db)")
    parser.add_argument("--headroom-db", type=float, metavar="DB",
                        help="with --bit-depth 16/24: lower every file by DB decibels instead of the automatic gain")
    parser.add_argument("--shifts", type=int, default=0, help="test-time random shifts to average (slower, smoother)")
    parser.add_argument("--chunk", type=float, default=20.0, help="chunk length in seconds for chunked inference")
    parser.add_argument("--list-models", action="store_true", help="list available models with their metrics and exit")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars and no summary line")
    parser.add_argument("--version", action="version", version=f"deconstruct {_version()}")
    return parser


def list_models(model_repo: str | None = None) -> None:
    from deconstruct.models.registry import list_models as rows
    from deconstruct.separation.backends.catalogue import published_rows

    for row in rows():
        flag = "*" if row["default"] else " "
        metrics = ", ".join(f"{key} {value}" for key, value in row["metrics"].items())
        print(f"{flag} {row['name']:<28} {row['stage']:<11} {row['source']:<8} {metrics}")
        if row["description"]:
            print(f"    {row['description']}")
    print("\npublished separators (--model demucs:NAME; deconstruct fetch demucs:NAME downloads ahead):")
    for line in published_rows(model_repo):
        print(line)


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    if args.list_models:
        list_models(args.model_repo)
        return 0
    if not args.song or not args.out:
        parser.print_usage(sys.stderr)
        print("deconstruct: error: give an input song and an output folder: deconstruct SONG -o OUT", file=sys.stderr)
        return 2
    if args.chunk <= 2.0:
        print("deconstruct: error: --chunk must be longer than 2 seconds", file=sys.stderr)
        return 2
    from tqdm import tqdm

    from deconstruct.pipeline import Deconstructor
    from deconstruct.streaming import FileReader

    from deconstruct.outputs import check_output_folder

    FileReader(args.song).close()  # validate input and output before any model loads
    check_output_folder(args.out, overwrite=args.overwrite)
    if args.headroom_db is not None and args.bit_depth == "float32":
        raise InputError("--headroom-db applies to 16/24-bit output; add --bit-depth 16 or 24")
    stages = tuple(stage.strip() for stage in args.stages.split(",") if stage.strip())
    upmix = tuple(fmt.strip() for item in args.upmix for fmt in item.split(",") if fmt.strip())
    if args.remix and not Path(args.remix).is_file():
        raise InputError(f"{args.remix}: no such remix settings file")
    if args.model_config is not None and args.model is None:
        raise InputError("--model-config goes with --model CHECKPOINT (the RoFormer checkpoint it describes)")
    if args.model_repo is not None and not (args.model or "").startswith("demucs:") and args.model != "best":
        raise InputError("--model-repo holds demucs models: add --model demucs:NAME (or --model best)")
    from deconstruct.separation.backends import choose

    choice = choose(args.model, args.model_repo, args.model_config)
    if not args.quiet:
        print(f"deconstruct: separator {choice.model or runner_default_name()}: {choice.reason}", file=sys.stderr)
    runner = Deconstructor(args.model, stages=stages, device=args.device, shifts=args.shifts, chunk_s=args.chunk,
                           analysis_model=args.analysis_model, removal_model=args.removal_model, upmix=upmix,
                           placement=args.placement, hrtf=args.hrtf, remix=args.remix, model_repo=args.model_repo,
                           model_config=args.model_config, remove=args.remove,
                           log=None if args.quiet else lambda line: print(f"deconstruct: {line}", file=sys.stderr))

    def progress(description: str, total: int):
        return tqdm(total=total, desc=description, unit="smp", unit_scale=True, disable=args.quiet)

    out = runner.run_to_folder(args.song, args.out, overwrite=args.overwrite, bit_depth=args.bit_depth,
                               progress=progress, headroom_db=args.headroom_db, startup_s=process_age_s())
    if not args.quiet:
        print(f"wrote {Path(out) / 'report.json'}: stems ({', '.join(runner.separator.stems)}), stages "
              f"{', '.join(runner.stages)}{', renders ' + ', '.join(upmix) if upmix else ''}")
    return 0


def _version() -> str:
    from deconstruct import __version__

    return __version__


def process_age_s() -> float:
    """Seconds since this process started (interpreter start-up and imports included)."""
    import os

    try:
        fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        started = int(fields[19]) / os.sysconf("SC_CLK_TCK")
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return max(uptime - started, 0.0)
    except (OSError, ValueError, IndexError):
        return time.perf_counter() - _IMPORTED


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the process is so that a run cleans up as after Ctrl-C."""


def _terminate(signum, frame) -> None:
    raise Terminated()


def runner_default_name() -> str:
    """The shipped default separation model's name (what runs when no --model is given)."""
    from deconstruct.models.registry import default_model

    return default_model("separation")


def main(argv: list[str] | None = None) -> int:
    from deconstruct.commands import dispatch

    argv = sys.argv[1:] if argv is None else list(argv)
    code = dispatch(argv)  # a subcommand only as the first argument
    if code is not None:
        return code
    parser = build_parser()
    args = parser.parse_args(argv)
    handles_signals = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if handles_signals else None
    try:
        return run(args, parser)
    except DeconstructError as error:
        print(f"deconstruct: error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt as interrupt:
        print("deconstruct: interrupted; no partial results were left", file=sys.stderr)
        return 143 if isinstance(interrupt, Terminated) else 130
    finally:
        if handles_signals:
            signal.signal(signal.SIGTERM, previous)


def entry() -> None:
    """The console script: :func:`main`, then exit at once (the interpreter's teardown of torch takes seconds)."""
    import os

    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    entry()
