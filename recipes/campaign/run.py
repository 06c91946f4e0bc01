"""One accelerator campaign in one command: inside ``--minutes`` train reverb removal, then chorus removal (then
the analyzer on separated-stem material when it is carried), measure every candidate beside the shipped model on
``eval``-split material, and leave at most 8 files in ``--out`` (see recipes/campaign/README.md).

    python recipes/campaign/prepare.py --out cache/campaign-bundle.pt          # CPU, before the trip
    PYTHONPATH=. python recipes/campaign/run.py --minutes 5 --out out/campaign --bundle cache/campaign-bundle.pt
    python recipes/campaign/run.py --minutes 1 --out /tmp/campaign --smoke      # the same path on the CPU

Nothing here imports soundfile or pedalboard when ``--bundle`` is given.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # runs from a source tree (PYTHONPATH=. not needed)

from deconstruct.train import campaign as C  # noqa: E402
from deconstruct.train.campaign_data import EFFECTS, bundle_summary, load_bundle  # noqa: E402

SHARES = {"reverb": 0.6, "chorus": 0.4}
"""Shares of the training time (after set-up and evaluation reserves) per effect."""
SETTINGS = {
    "full": {"batch_size": 32, "item_s": 4.0, "lr": 1e-3, "eval_cases": 24, "eval_s": 4.0, "save_every_s": 45.0},
    "smoke": {"batch_size": 2, "item_s": 0.5, "lr": 3e-3, "eval_cases": 2, "eval_s": 0.5, "save_every_s": 1e9,
              "max_steps": 3},
}


def _bundle(args: argparse.Namespace, log) -> dict:
    if args.bundle:
        if not args.bundle.is_file():
            raise SystemExit(f"error: bundle {args.bundle} not found; make it with recipes/campaign/prepare.py")
        return load_bundle(args.bundle)
    from deconstruct.train.campaign_data import prepare_bundle, synthetic_bundle

    try:
        if args.smoke:
            return prepare_bundle(synthetic_rooms=4, freeverb_train=2, freeverb_eval=2, max_dry_s=5.0)
        return prepare_bundle()
    except Exception as error:  # no shared data (or no soundfile/pedalboard here)
        if not args.smoke:
            raise SystemExit(f"error: no bundle given and none could be prepared here ({error}); run "
                             "recipes/campaign/prepare.py on a machine with the shared data and pass --bundle")
        log(f"no shared data ({error}); synthesised material")
        return synthetic_bundle()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, required=True, help="wall-clock budget of the whole campaign")
    parser.add_argument("--out", type=Path, required=True, help="output folder (at most 8 files)")
    parser.add_argument("--bundle", type=Path, default=None, help="material made by recipes/campaign/prepare.py")
    parser.add_argument("--smoke", action="store_true", help="tiny networks, a few steps, on the CPU")
    parser.add_argument("--effects", default=",".join(EFFECTS), help="comma-separated subset of reverb,chorus")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    started = time.monotonic()
    deadline = started + 60.0 * args.minutes
    args.out.mkdir(parents=True, exist_ok=True)
    log_file = (args.out / "log.txt").open("a")

    def log(message: str) -> None:
        line = f"[{time.monotonic() - started:7.1f} s] {message}"
        print(line, flush=True)
        log_file.write(line + "\n")
        log_file.flush()

    size = "smoke" if args.smoke else "full"
    settings = SETTINGS[size]
    device = torch.device("cuda" if torch.cuda.is_available() and not args.smoke else "cpu")
    if device.type == "cpu":
        torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
    bundle = _bundle(args, log)
    effects = [e for e in args.effects.split(",") if e]
    record: dict = {"minutes": args.minutes, "size": size, "device": str(device),
                    "torch": torch.__version__, "bundle": bundle_summary(bundle), "models": {}}
    shipped_name, _, _ = C.shipped_removal(bundle)
    record["shipped_removal"] = shipped_name
    C.write_json(args.out / "campaign.json", record)
    log(f"device {device}; bundle {record['bundle']}")
    winners: dict = {}
    reserve_s = 20.0 if args.smoke else 45.0  # per effect: evaluation and saving
    for number, effect in enumerate(effects):
        left = deadline - time.monotonic()
        shares = sum(SHARES[e] for e in effects[number:])
        budget = max(1.0, (left - reserve_s * (len(effects) - number)) * SHARES[effect] / shares)
        spec = C.ARCHITECTURES[size][effect]
        entry: dict = {"architecture": spec, "budget_s": round(budget, 1), "data": "train split (device-made)"}
        record["models"][f"removal/{effect}"] = entry
        log(f"{effect}: training for {budget:.0f} s")
        cases = C.eval_cases(bundle, effect, settings["eval_cases"], settings["eval_s"])
        shipped = C.evaluate(C.shipped_network(bundle, effect), cases, device)
        entry["shipped"] = shipped
        path = args.out / f"{effect}-candidate.pt"

        def save(net, step, effect=effect, spec=spec, path=path, entry=entry):
            entry["steps"] = step
            C.network_checkpoint(path, effect, spec, net, {"campaign": dict(entry)}, half=True)
            C.write_json(args.out / "campaign.json", record)

        net, steps, seconds = C.train_candidate(
            effect, spec, bundle, device, budget, settings["batch_size"], settings["item_s"], settings["lr"],
            args.seed + number, save, settings["save_every_s"], settings.get("max_steps"), log)
        candidate = C.evaluate(net, cases, device)
        beats = (candidate.get("gain_db", 0.0) > shipped.get("gain_db", 0.0) + 0.1
                 and candidate.get("lacks_max_loss_db", 0.0) <= 1.0)
        entry.update(steps=steps, seconds=round(seconds, 3), candidate=candidate, beats_shipped=beats,
                     eval_data=f"eval split: {len(cases)} cases of {settings['eval_s']} s")
        save(net, steps)
        log(f"{effect}: {steps} steps, candidate {candidate}, shipped {shipped}, beats shipped: {beats}")
        if beats:
            winners[effect] = (spec, net.cpu())
            C.merged_removal(args.out / "removal-candidate.pt", bundle, winners, {"campaign": record["models"]})
    record["models"]["analysis"] = {
        "skipped": "the separated-stem analysis material is rendered on the CPU with the shipped separator "
                   "(recipes/effect_classifier/separated_material.py): its feature banks (about 360 MB, plus 240 MB of "
                   "clean-recording banks the same model keeps training on) exceed the 64 MiB that can be carried, "
                   "and rendering it on the accelerator needs the CPU-only effect renderers; train the analyzer with "
                   "recipes/effect_classifier/separated.yaml on a CPU run"}
    record["seconds"] = round(time.monotonic() - started, 3)
    C.write_json(args.out / "campaign.json", record)
    log(f"done in {record['seconds']} s; winners: {', '.join(winners) or 'none'}")
    log_file.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
