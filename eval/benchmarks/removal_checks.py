"""How the removal checks treat genuine and false removals, with the true parameters (oracle) on real dry audio.

For each effect (RemFX-style ranges) and each `eval`-split dry recording, a random setting is rendered onto the
recording, levelled to a random RMS in the data engine's range; the remover then undoes it with the true
parameters (``checks="off"``: the raw inverse; ``checks="enforce"``: the safe policy). A second case applies the
same removal to the *dry* recording (a false detection). Printed per effect: how often the checks keep the
removal, the raw inverse's loudness change, the SI-SDR gain over the wet input with and without the checks (and
over the kept removals alone), the lowest SI-SDR of a kept false removal against the dry input it changed
(untouched would be infinite), and the median gain of the level-preserving removals (``level_match_db``).
With ``--reanalyze`` the safe policy's re-analysis check runs too (the shipped analyzer on each dry estimate), and
the false removals kept are split by whether the analyzer detects the effect on the dry input at all (only those
reach a removal in the pipeline).

Usage::

    python eval/benchmarks/removal_checks.py [--cases 6] [--seconds 6] [--model dsp-only] [--reanalyze]
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from deconstruct.audio import Audio, loudness_lufs, resample
from deconstruct.effects.catalog import CATALOG, EffectEstimate
from deconstruct.effects.chain import Chain, Effect
from deconstruct.effects.render import render_chain
from deconstruct.metrics.sdr import si_sdr
from deconstruct.removal import EffectRemover

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
RATE = 44100
EFFECTS = ("eq", "compressor", "distortion", "delay", "limiter")
LEVEL_DB = (-24.0, -12.0)


def eval_dry_recordings() -> list[Path]:
    """The `eval` split's dry voices and instruments."""
    splits = json.loads((DATA / "splits.json").read_text())
    return [DATA / p for p in splits["eval"] if p.startswith(("dry_speech/", "dry_vocals/", "dry_instruments/"))]


def load_excerpt(path: Path, seconds: float) -> torch.Tensor:
    """The loudest ``seconds`` of a recording, mono ``[1, T]`` at 44.1 kHz."""
    data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    mono = resample(torch.from_numpy(data.mean(axis=1).copy())[None], rate, RATE)
    length = min(mono.shape[-1], int(seconds * RATE))
    hop = max(1, length // 4)
    starts = range(0, max(1, mono.shape[-1] - length + 1), hop)
    start = max(starts, key=lambda s: float(mono[:, s:s + length].square().mean()))
    return mono[:, start:start + length].contiguous()


def random_setting(name: str, rng: np.random.Generator) -> dict[str, float]:
    """A setting of ``name`` uniform in normalised catalog units (EQ: one peaking band of 3-12 dB)."""
    spec = CATALOG[name]
    if name == "eq":
        gain = float(rng.choice([-1.0, 1.0]) * rng.uniform(3.0, 12.0))
        return {"peak1_gain_db": gain, "peak1_center_hz": float(spec.param("peak1_center_hz").denormalise(
            rng.uniform())), "peak1_q": float(spec.param("peak1_q").denormalise(rng.uniform()))}
    return {p.name: float(p.denormalise(rng.uniform())) for p in spec.params}


def measure(remover: EffectRemover, cases: int, seconds: float, seed: int, reanalyze=None) -> list[dict]:
    rng = np.random.default_rng(seed)
    rows = []
    for path in eval_dry_recordings():
        source = load_excerpt(path, seconds)
        for name in EFFECTS:
            for _ in range(cases):
                level = rng.uniform(*LEVEL_DB)
                dry = source * (10 ** (level / 20) / float(source.square().mean().sqrt()))
                params = random_setting(name, rng)
                wet = render_chain(dry, RATE, Chain((Effect(name, params),)))
                estimate = [EffectEstimate(name, 1.0, params)]
                raw = remover.remove(Audio(wet, RATE), estimate, checks="off").audio.samples
                safe = remover.remove(Audio(wet, RATE), estimate, checks="enforce", reanalyze=reanalyze)
                false = remover.remove(Audio(dry, RATE), estimate, checks="enforce", reanalyze=reanalyze)
                base = float(si_sdr(dry, wet).mean())
                rows.append({
                    "effect": name, "recording": path.name, "kept": bool(safe.applied),
                    "false_kept": bool(false.applied),
                    "raw_loudness_change_lu": loudness_lufs(Audio(raw, RATE)) - loudness_lufs(Audio(wet, RATE)),
                    "raw_gain_db": float(si_sdr(dry, raw).mean()) - base,
                    "safe_gain_db": float(si_sdr(dry, safe.audio.samples).mean()) - base,
                    "kept_gain_db": float(si_sdr(dry, safe.audio.samples).mean()) - base if safe.applied else None,
                    "false_si_sdr": float(si_sdr(dry, false.audio.samples).mean()) if false.applied else None,
                    "false_detected": bool(reanalyze is not None and false.applied
                                           and reanalyze(Audio(dry, RATE))[name].decision == "detected"),
                    "level_match_db": [s.removal.level_match_db for s in safe.steps
                                       if s.removal.level_match_db is not None],
                    "reason": safe.steps[0].removal.note if safe.steps and not safe.applied else "",
                })
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=6, help="settings per effect and recording")
    parser.add_argument("--seconds", type=float, default=6.0, help="excerpt length, s")
    parser.add_argument("--model", default="dsp-only", help="removal model")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--reanalyze", action="store_true", help="also the re-analysis check (shipped analyzer)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    reanalyze = None
    if args.reanalyze:
        from deconstruct.analysis import EffectAnalyzer

        reanalyze = EffectAnalyzer(device="cpu").analyze
    rows = measure(EffectRemover(args.model), args.cases, args.seconds, args.seed, reanalyze)
    print(f"{len(eval_dry_recordings())} eval dry recordings x {args.cases} settings per effect, oracle parameters, "
          f"removal model {args.model}{', with re-analysis' if args.reanalyze else ''}")
    print("| effect | kept by the checks | kept on dry input (false detection) | raw inverse loudness change "
          "(median, LU) | SI-SDR gain raw | SI-SDR gain safe | SI-SDR gain of the kept | lowest SI-SDR of a kept false "
          "removal vs its dry input | level match (median, dB) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name in EFFECTS:
        mine = [r for r in rows if r["effect"] == name]
        kept = sum(r["kept"] for r in mine)
        false = sum(r["false_kept"] for r in mine)
        change = float(np.median([r["raw_loudness_change_lu"] for r in mine]))
        raw = float(np.mean([r["raw_gain_db"] for r in mine]))
        safe = float(np.mean([r["safe_gain_db"] for r in mine]))
        gains = [r["kept_gain_db"] for r in mine if r["kept_gain_db"] is not None]
        matches = [m for r in mine for m in r["level_match_db"]]
        kept_gain = f"{float(np.mean(gains)):+.2f} dB" if gains else "-"
        match = f"{float(np.median(matches)):+.1f}" if matches else "-"
        falses = [r["false_si_sdr"] for r in mine if r["false_si_sdr"] is not None]
        worst = f"{min(falses):.1f} dB" if falses else "-"
        detected = sum(r["false_detected"] for r in mine)
        false_cell = f"{false}/{len(mine)}" + (f" ({detected} detected by the analysis)" if reanalyze else "")
        print(f"| {name} | {kept}/{len(mine)} | {false_cell} | {change:+.1f} | {raw:+.2f} dB | "
              f"{safe:+.2f} dB | {kept_gain} | {worst} | {match} |")
    reasons: dict[str, int] = {}
    for row in rows:
        for failure in ("resynthesis", "loudness", "RMS", "peak"):
            if failure in row["reason"].split("rejected:")[-1]:
                reasons[failure] = reasons.get(failure, 0) + 1
    print("rejections naming each check:", ", ".join(f"{k} {v}" for k, v in reasons.items()) or "none")
    finite = [r["raw_loudness_change_lu"] for r in rows if math.isfinite(r["raw_loudness_change_lu"])]
    print(f"raw inverse loudness change over all cases: {min(finite):+.1f} .. {max(finite):+.1f} LU")


if __name__ == "__main__":
    main()
