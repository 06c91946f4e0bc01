"""Markdown tables of the real-song measurements from the report folders of ``python -m eval band``, ``e2e`` and
``wild`` (their ``summary.csv``/``detection.csv``/``per_effect.csv``/``params.csv``/``levels.csv``).

    python eval/benchmarks/real_songs_table.py --band reports/band --e2e reports/e2e --wild reports/wild
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd


def _number(value: float, digits: int = 2) -> str:
    return "n/a" if pd.isna(value) else f"{value:.{digits}f}"


def band_table(folder: Path) -> str:
    """The targets' table: one row per measure, separated stem and true wet stem side by side."""
    summary = pd.read_csv(folder / "summary.csv")
    rows = [("detection macro-F1 (reverb, compressor, distortion, delay, chorus)", "detection macro-F1", 2),
            ("mean ROC-AUC of the five effects' probabilities (threshold-free)", "mean ROC-AUC (threshold-free)", 2),
            ("dry SI-SDR gain, effect on the voice (dB)", "dry SI-SDR gain, effect on source (dB)", 2),
            ("dry SI-SDR gain, no effect (dB)", "dry SI-SDR gain, no effect (dB)", 2),
            ("max \\|RMS change\\| of a dry stem (dB)", "max |RMS change| of a dry stem (dB)", 2),
            ("max \\|loudness change\\| of a dry stem (LU)", "max |loudness change| of a dry stem (LU)", 2),
            ("dry stems outside 3 dB / 3 LU", "dry stems outside 3 dB / 3 LU", 0)]
    lines = ["| measure | target | separated stem | true wet stem (no separation) | trivial baseline |",
             "|---|---|---|---|---|"]
    for model, part in summary.groupby("model", sort=False):
        values = part.pivot_table(index="metric", columns="condition", values="value", sort=False)
        meta = part.drop_duplicates("metric").set_index("metric")
        for label, metric, digits in [row for row in rows if row[1] in meta.index]:
            base = meta.loc[metric]
            baseline = f"{base['baseline']}: {_number(base['baseline_value'], digits)}" if isinstance(
                base["baseline"], str) else ""
            target = base["target"] if isinstance(base["target"], str) else ""
            lines.append(f"| {label} | {target} | {_number(values.loc[metric].get('separated'), digits)} | "
                         f"{_number(values.loc[metric].get('true wet'), digits)} | {baseline} |")
        fpr = part[part["metric"].str.startswith("FPR clean ")].pivot_table(
            index="metric", columns="condition", values="value", sort=False)
        effects = [m.removeprefix("FPR clean ") for m in fpr.index]
        worst = {c: f"{fpr[c].max():.2f} ({effects[int(fpr[c].to_numpy().argmax())]})" for c in fpr.columns}
        lines.append(f"| largest false-positive rate on effect-free voices | <= 0.10 each | "
                     f"{worst.get('separated', 'n/a')} | {worst.get('true wet', 'n/a')} | nothing detected: 0 |")
        lines.insert(0, f"Analysis model: {model}\n")
    return "\n".join(lines)


def e2e_table(folder: Path) -> str:
    """The band-like songs' headline numbers beside their baselines."""
    summary = pd.read_csv(folder / "summary.csv")
    detection = pd.read_csv(folder / "detection.csv")

    def pick(section: str, metric: str, scope: str, baseline: str | None = None) -> pd.Series:
        rows = summary[(summary["section"] == section) & (summary["metric"] == metric) & (summary["scope"] == scope)]
        if baseline is not None:
            rows = rows[rows["baseline"] == baseline]
        return rows.iloc[0]

    stems = [s for s in ("vocals", "drums", "bass", "other") if (summary["scope"] == s).any()]
    lines = ["| measure | pipeline | trivial baseline |", "|---|---|---|"]
    usdr = [pick("separation", "uSDR (dB)", s) for s in stems]
    lines.append(f"| separation uSDR, {' / '.join(stems)} (dB) | {' / '.join(_number(r.value, 1) for r in usdr)} | "
                 f"{usdr[0].baseline}: {' / '.join(_number(r.baseline_value, 1) for r in usdr)} |")
    f1 = pick("detection", "macro F1", "effects present")
    lines.append(f"| effect detection macro-F1 | {_number(f1.value)} | every effect present: "
                 f"{_number(f1.baseline_value)} |")
    fpr = detection.set_index("effect")["fpr"]
    lines.append(f"| false-positive rate per effect ({', '.join(fpr.index)}) | "
                 f"{' / '.join(_number(v) for v in fpr)} | nothing detected: 0 |")
    mae = summary[(summary["section"] == "params") & summary["scope"].str.startswith("all")]
    if len(mae):
        lines.append(f"| parameter MAE, normalised ({mae.iloc[0].scope}) | {_number(mae.iloc[0].value)} | "
                     f"mid-range guess: {_number(mae.iloc[0].baseline_value)} |")
    for metric in ("SI-SNR (dB)", "Multi-Mel-SNR (dB)"):
        row = pick("MSR", metric, "all stems", "separated stem")
        wet = pick("MSR", metric, "all stems", "true wet stem")
        lines.append(f"| dry stems vs true dry, {metric} (MSR measure) | {_number(row.value)} | separated stem "
                     f"untouched: {_number(row.baseline_value)} (true wet stem: {_number(wet.baseline_value)}) |")
    levels = [pick("levels", m, s) for m, s in (("max |RMS change| (dB)", "every dry stem"),
                                               ("max |loudness change| (LU)", "every dry stem"))]
    outside = summary[(summary["section"] == "levels") & (summary["metric"] == "outside 3 dB / 3 LU")].iloc[0]
    lines.append(f"| largest dry-stem RMS / loudness change | {_number(levels[0].value)} dB / "
                 f"{_number(levels[1].value)} LU; {int(outside.value)} {outside.scope} outside 3 dB / 3 LU | "
                 f"stem itself: 0 |")
    resynthesis = [pick("resynthesis", m, "mixture") for m in ("SDR (dB)", "MR-STFT")]
    lines.append(f"| resynthesis vs mixture, SDR / MR-STFT | {_number(resynthesis[0].value, 1)} dB / "
                 f"{_number(resynthesis[1].value, 3)} | sum of dry stems: {_number(resynthesis[0].baseline_value, 1)}"
                 f" dB / {_number(resynthesis[1].baseline_value, 3)} |")
    return "\n".join(lines)


def wild_table(folder: Path) -> str:
    """Per effect: stems detected / unsure, and the spread of its parameters; then the dry-stem level changes."""
    per_effect = pd.read_csv(folder / "per_effect.csv")
    params = pd.read_csv(folder / "params.csv")
    levels = pd.read_csv(folder / "levels.csv")
    lines = ["| effect | detected | unsure | parameters where detected (min / median / max) |", "|---|---|---|---|"]
    for row in per_effect.itertuples():
        spread = params[params["effect"] == row.effect]
        text = "; ".join(f"{p.parameter} {p.min:.3g} / {p.median:.3g} / {p.max:.3g}" for p in spread.itertuples())
        lines.append(f"| {row.effect} | {int(row.detected)} of {int(row.stems)} | {int(row.unsure)} | {text} |")
    lines.append("")
    lines.append(f"Dry stem against stem over {len(levels)} stems: largest |RMS change| "
                 f"{levels['rms_change_db'].abs().max():.2f} dB, |loudness change| "
                 f"{levels['loudness_change_lu'].abs().max():.2f} LU, peak rise {levels['peak_change_db'].max():.2f} "
                 f"dB; {int(levels['outside'].sum())} outside 3 dB / 3 LU.")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--band", type=Path, help="report folder of python -m eval band")
    parser.add_argument("--e2e", type=Path, help="report folder of python -m eval e2e")
    parser.add_argument("--wild", type=Path, help="report folder of python -m eval wild")
    args = parser.parse_args()
    for title, folder, make in (("Voice in a band", args.band, band_table), ("Band-like songs", args.e2e, e2e_table),
                                ("Real songs without stems", args.wild, wild_table)):
        if folder is not None:
            print(f"### {title}\n\n{make(folder)}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
