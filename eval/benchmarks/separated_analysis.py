"""Effect detection on separated stems, the band protocol's analysis part alone (no removal), for several analyzers.

The items are those of ``python -m eval band`` (:func:`eval.band_suite.build_items`: an ``eval`` voice or
instrument with one effect at RemFX's ranges or none, in equal numbers, 3 dB under a real band). Each mixture is
separated once by the shipped separator; every analyzer then reads the source's separated stem (``separated``)
and the true effected source (``true wet``, no separation). Scores over reverb, compressor, distortion, delay and
chorus: per-effect precision/recall/F1 and their macro-F1 beside the "every effect present" baseline; the
false-positive rate of every catalog effect on items whose source carries no effect; how many decisions were
"unsure". A detection is the analyzer's own decision (``detected``: at or above its threshold, no veto).

    python -m eval.benchmarks.separated_analysis --items 96 --model default --model runs/x/candidate.pt \\
        --out reports/separated_analysis.json [--store]

``--store`` writes each model's scores into its metrics file (section ``separated_analysis``), where the index's
headline can point.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from deconstruct.analysis import EffectAnalyzer
from deconstruct.effects.catalog import EFFECT_NAMES
from deconstruct.separation import Separator

PROTOCOL_EFFECTS = ("reverb", "compressor", "distortion", "delay", "chorus")


def scores(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Detection scores of rows ``{"truth": name | None, "detected": {effect: bool}, "decision": {...}}``."""
    per_effect, baseline = {}, {}
    for name in PROTOCOL_EFFECTS:
        truth = np.array([r["truth"] == name for r in rows])
        predicted = np.array([r["detected"][name] for r in rows])
        tp = int((truth & predicted).sum())
        precision = tp / int(predicted.sum()) if predicted.any() else 0.0
        recall = tp / int(truth.sum()) if truth.any() else 0.0
        f1 = 2 * tp / (int(predicted.sum()) + int(truth.sum())) if predicted.any() or truth.any() else 0.0
        per_effect[name] = {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4),
                            "support": int(truth.sum())}
        prevalence = float(truth.mean())
        baseline[name] = 2 * prevalence / (1 + prevalence)
    clean = [r for r in rows if r["truth"] is None]
    fpr = {name: round(float(np.mean([r["detected"][name] for r in clean])), 4) if clean else None
           for name in EFFECT_NAMES}
    unsure = {name: int(sum(r["decision"][name] == "unsure" for r in rows)) for name in EFFECT_NAMES}
    return {"items": len(rows), "macro_f1": round(float(np.mean([s["f1"] for s in per_effect.values()])), 4),
            "all_present_baseline_macro_f1": round(float(np.mean(list(baseline.values()))), 4),
            "per_effect": per_effect, "fpr_clean": fpr,
            "fpr_clean_max_protocol": max(fpr[n] for n in PROTOCOL_EFFECTS) if clean else None,
            "unsure_decisions": unsure}


def analyse(analyzer: EffectAnalyzer, samples: torch.Tensor, sample_rate: int) -> tuple[dict, dict, dict]:
    result = analyzer.analyze_tensor(samples, sample_rate)
    return ({e.name: bool(e.detected) for e in result}, {e.name: getattr(e, "decision", "detected" if e.detected
                                                                          else "absent") for e in result},
            {e.name: round(float(e.probability), 4) for e in result})


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    from eval.band_suite import build_items

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=96, help="items (a multiple of 6 balances the classes)")
    parser.add_argument("--duration", type=float, default=6.0, help="item length, s")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", action="append", default=[],
                        help="analysis model (name, path or 'default'); repeat to compare")
    parser.add_argument("--voices-only", action="store_true", help="leave the instrument sources out")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, help="write the scores and per-item rows as JSON")
    parser.add_argument("--store", action="store_true",
                        help="write each model's scores into its metrics file (section separated_analysis)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    started = time.time()
    items = build_items(items=args.items, duration_s=args.duration, seed=args.seed,
                        instruments=not args.voices_only)
    separator = Separator(device="cpu")
    models = args.model or ["default"]
    analyzers = {m: EffectAnalyzer(None if m == "default" else m, device="cpu") for m in models}
    rows: dict[str, dict[str, list]] = {m: {"separated": [], "true wet": []} for m in models}
    for item in items:
        stem = separator.separate(item.mixture)[item.stem]
        truth = item.effect.name if item.effect is not None else None
        for model, analyzer in analyzers.items():
            for condition, audio in (("separated", stem), ("true wet", item.wet)):
                detected, decision, probability = analyse(analyzer, audio.samples, audio.sample_rate)
                rows[model][condition].append({"item": item.name, "source": item.source, "band": item.band_name,
                                               "truth": truth, "detected": detected, "decision": decision,
                                               "probability": probability})
    report = {"protocol": {"items": len(items), "duration_s": args.duration, "seed": args.seed,
                           "voices_only": args.voices_only, "separator": separator.name},
              "models": {m: {"name": analyzers[m].name, **{c: scores(r) for c, r in rows[m].items()}}
                         for m in models},
              "wall_s": round(time.time() - started, 1)}
    for model in models:
        for condition in ("separated", "true wet"):
            s = report["models"][model][condition]
            fpr = ", ".join(f"{n} {s['fpr_clean'][n]:.2f}" for n in PROTOCOL_EFFECTS)
            print(f"{analyzers[model].name:28s} {condition:10s} macro-F1 {s['macro_f1']:.3f} "
                  f"(all-present {s['all_present_baseline_macro_f1']:.3f}); FPR on clean: {fpr}")
    if args.store:
        from eval.store import store_suite_results

        for model in models:
            target = analyzers[model].name if model == "default" else model
            scores_of = {"protocol": report["protocol"], **{c: report["models"][model][c] for c in rows[model]}}
            print(f"stored in {store_suite_results(target, 'separated_analysis', scores_of)}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({**report, "rows": rows}, indent=1))
    return report


if __name__ == "__main__":
    main()
