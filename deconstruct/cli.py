"""The ``deconstruct`` command line.

Exit codes: 0 success; 1 other deconstruct error; 2 bad input or usage; 3 output problem; 4 model problem;
5 missing dependency; 130 interrupted.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from deconstruct.errors import DeconstructError, InputError

EPILOG = """examples:
  deconstruct song.wav -o out/                 separate, analyse and remove effects with the shipped models
  deconstruct song.wav -o out/ --stages separate             stems only
  deconstruct song.wav -o out/ --upmix 5.1,binaural          also render the dry stems to 5.1 and binaural
  deconstruct song.mp3 -o out/ --overwrite     replace earlier results in out/
  deconstruct --list-models                    shipped models and their measured metrics

exit codes: 0 ok, 1 error, 2 bad input or usage, 3 output problem, 4 model problem, 5 missing dependency,
130 interrupted"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="deconstruct", epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Take a finished song apart: separate it into stems, find the effects on each stem, remove "
                    "them, and optionally upmix or remix the dry stems. Writes stems/, dry/, render/ and report.json.")
    parser.add_argument("song", nargs="?", help="input audio: WAV, FLAC, OGG, MP3 or .stem.mp4; mono or stereo, any rate")
    parser.add_argument("-o", "--out", help="output folder (created if missing); gets stems/<name>.wav and report.json")
    parser.add_argument("--model", help="separation model: a shipped name (see --list-models) or a checkpoint path")
    parser.add_argument("--analysis-model", help="effect analysis model: a shipped name or a checkpoint path")
    parser.add_argument("--removal-model", help="effect removal model: a shipped name, a checkpoint path or dsp-only")
    parser.add_argument("--stages", default="separate,analyze,remove",
                        help="comma-separated stages to run (default: separate,analyze,remove; remove needs analyze)")
    parser.add_argument("--upmix", action="append", default=[], metavar="FORMAT",
                        help="also render the dry stems to 2.0, 5.1, 7.1, 7.1.4, binaural, foa, hoa2 or hoa3 "
                             "(render/<format>.wav with its WAVE channel mask); repeat or comma-separate")
    parser.add_argument("--placement", default="surround",
                        help="where stems sit in an upmix: a preset (surround: the front image kept, the song's own "
                             "ambience and removed reverb around the listener; stage: front only; immersive) or a "
                             "JSON file with per-stem azimuth_deg, elevation_deg, width_deg, gain_db and extraction")
    parser.add_argument("--hrtf", help="SOFA file for binaural rendering (default: the shipped MIT KEMAR set)")
    parser.add_argument("--remix", metavar="SETTINGS.json",
                        help="render a stereo remix (render/remix.wav) with per-stem gain_db, pan, mute, solo")
    parser.add_argument("--device", choices=["cpu", "cuda"], help="where to run the models (default: cuda if present)")
    parser.add_argument("--overwrite", action="store_true", help="replace earlier results in the output folder")
    parser.add_argument("--bit-depth", default="float32", choices=["float32", "24", "16"],
                        help="output sample format: float32 (default, never clipped) or dithered 24/16-bit PCM")
    parser.add_argument("--shifts", type=int, default=0, help="test-time random shifts to average (slower, smoother)")
    parser.add_argument("--chunk", type=float, default=20.0, help="chunk length in seconds for chunked inference")
    parser.add_argument("--list-models", action="store_true", help="list available models with their metrics and exit")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    return parser


def list_models() -> None:
    from deconstruct.models.registry import list_models as rows

    for row in rows():
        flag = "*" if row["default"] else " "
        metrics = ", ".join(f"{key} {value}" for key, value in row["metrics"].items())
        print(f"{flag} {row['name']:<28} {row['stage']:<11} {row['source']:<8} {metrics}")
        if row["description"]:
            print(f"    {row['description']}")


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    if args.list_models:
        list_models()
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

    from deconstruct.outputs import OutputFolder

    total = FileReader(args.song).num_samples  # validate input and output before any model loads
    OutputFolder(args.out, overwrite=args.overwrite)
    stages = tuple(stage.strip() for stage in args.stages.split(",") if stage.strip())
    upmix = tuple(fmt.strip() for item in args.upmix for fmt in item.split(",") if fmt.strip())
    if args.remix and not Path(args.remix).is_file():
        raise InputError(f"{args.remix}: no such remix settings file")
    runner = Deconstructor(args.model, stages=stages, device=args.device, shifts=args.shifts, chunk_s=args.chunk,
                           analysis_model=args.analysis_model, removal_model=args.removal_model, upmix=upmix,
                           placement=args.placement, hrtf=args.hrtf, remix=args.remix)
    with tqdm(total=total, unit="smp", unit_scale=True, disable=args.quiet, desc="separating") as bar:
        out = runner.run_to_folder(args.song, args.out, overwrite=args.overwrite, bit_depth=args.bit_depth,
                                   progress=lambda done, _: bar.update(done - bar.n))
    if not args.quiet:
        print(f"wrote {Path(out) / 'report.json'}: stems ({', '.join(runner.separator.stems)}), stages "
              f"{', '.join(runner.stages)}{', renders ' + ', '.join(upmix) if upmix else ''}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return run(args, parser)
    except DeconstructError as error:
        print(f"deconstruct: error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("deconstruct: interrupted; no partial results were left", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
