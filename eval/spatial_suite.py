"""Spatial-stage checks as numbers: fold-down compatibility, loudspeaker placement, power, binaural, ambisonics.

Runs on the real MUSDB18 "Music Delta - 80s Rock" stems (measurement only; they are in the eval split) when the
shared data set is beside the repository (or ``DECONSTRUCT_SHARED_DATA`` points to it), on synthetic noise stems
otherwise.

Usage::

    python eval/spatial_suite.py            # prints the table
    python eval/spatial_suite.py --csv out.csv
"""

from __future__ import annotations

import argparse
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import torch

from deconstruct.audio import Audio, load_audio
from deconstruct.spatial import (
    DEFAULT_SOFA,
    AllRadDecoder,
    Upmixer,
    downmix,
    get_loudspeaker_layout,
    remix,
)
from deconstruct.spatial.spherical_harmonics import real_sh_sn3d

LOUDSPEAKER_LAYOUTS = ("2.0", "5.1", "7.1", "7.1.4")
STAGE_ON_THE_CONSOLE = {"vocals": {"width_deg": 0}, "bass": {"width_deg": 0}}
MUSDB_TRACK = "musdb18_music_delta_80s_rock"
SECONDS = 3.0


def _shared_data() -> Path:
    from deconstruct.data.material.recordings import shared_data_root

    return shared_data_root(require_splits=False)


def load_stems(seconds: float = SECONDS) -> tuple[dict[str, Audio], str]:
    """The first ``seconds`` of the real MUSDB stems, or synthetic stems when the data set is absent."""
    folder = _shared_data() / MUSDB_TRACK
    names = ("vocals", "drums", "bass", "other")
    if all((folder / f"{name}.wav").exists() for name in names):
        stems = {}
        for name in names:
            audio = load_audio(folder / f"{name}.wav")
            stems[name] = Audio(audio.samples[:, : int(seconds * audio.sample_rate)].contiguous(), audio.sample_rate)
        return stems, MUSDB_TRACK
    rng = np.random.default_rng(0)
    length = int(seconds * 44100)
    stems = {}
    for name, correlation in zip(names, (0.95, 0.5, 0.99, 0.3)):
        common, side = rng.standard_normal(length), rng.standard_normal(length)
        pair = np.stack([common, correlation * common + np.sqrt(1 - correlation**2) * side]) * 0.1
        stems[name] = Audio(torch.tensor(pair, dtype=torch.float32), 44100)
    return stems, "synthetic noise"


def _energy(samples: torch.Tensor) -> float:
    return float((samples.double() ** 2).sum())


def _row(check: str, case: str, value: float, unit: str, threshold: float, passed: bool) -> dict:
    return {"check": check, "case": case, "value": value, "unit": unit, "threshold": threshold, "passed": passed}


def check_fold_down(stems: dict[str, Audio]) -> list[dict]:
    """Per stem: largest |level difference| (dB, per channel) of the BS.775 fold-down vs the stereo remix."""
    rows = []
    for layout in ("5.1", "7.1.4"):
        renders = Upmixer(layout, "stage", ambience=False).render_dry(stems)
        for name, render in renders.items():
            folded = downmix(render, layout).samples
            settings = {"stems": {name: STAGE_ON_THE_CONSOLE[name]}} if name in STAGE_ON_THE_CONSOLE else None
            stereo = remix({name: stems[name]}, settings).samples
            worst = max(abs(10 * np.log10(_energy(folded[c]) / _energy(stereo[c]))) for c in range(2))
            rows.append(_row("fold-down vs stereo remix", f"{layout} {name}", worst, "dB", 1.0, worst <= 1.0))
    return rows


def check_speaker_isolation() -> list[dict]:
    """Per layout: the largest energy (dB re the target) leaking off a loudspeaker a stem is placed at."""
    stem = {"x": Audio(torch.randn(1, 4410, generator=torch.Generator().manual_seed(0)), 44100)}
    rows = []
    for name in LOUDSPEAKER_LAYOUTS:
        layout = get_loudspeaker_layout(name)
        worst = -np.inf
        for index in layout.main_indices:
            s = layout.speakers[index]
            direction = {"azimuth_deg": s.azimuth_deg, "elevation_deg": s.elevation_deg, "width_deg": 0}
            placement = {"stems": {"x": direction}}
            out = Upmixer(name, placement, ambience=False, lfe=False, levels=False).render(stem).samples
            leak = _energy(out) - _energy(out[index])
            worst = max(worst, 10 * np.log10(max(leak, 1e-30) / _energy(out[index])))
        rows.append(_row("placement at a loudspeaker: leakage", name, worst, "dB", -100.0, worst <= -100.0))
    return rows


def check_default_fold_down(stems: dict[str, Audio]) -> list[dict]:
    """The default (ambience-extracting) 5.1 upmix folded down by BS.775 vs the mix (sum of the stems), per channel."""
    mix = sum(audio.samples for audio in stems.values())
    folded = downmix(Upmixer("5.1", levels=False, lfe=False).render(stems), "5.1").samples
    worst = max(abs(10 * np.log10(_energy(folded[c]) / _energy(mix[c]))) for c in range(2))
    return [_row("default 5.1 fold-down vs mix", "surround preset", worst, "dB", 1.0, worst <= 1.0)]


def check_power(stems: dict[str, Audio]) -> list[dict]:
    """Per placement and stem: spread (max - min, dB) of the dry power over 2.0/5.1/7.1/7.1.4, LFE excluded."""
    rows = []
    for placement in ("stage", "immersive"):
        levels: dict[str, list[float]] = {name: [] for name in stems}
        for layout in LOUDSPEAKER_LAYOUTS:
            upmixer = Upmixer(layout, placement, ambience=False)
            main = [i for i, label in enumerate(upmixer.labels) if label != "LFE"]
            for name, render in upmixer.render_dry(stems).items():
                levels[name].append(10 * np.log10(_energy(render.samples[main])))
        for name, values in levels.items():
            spread = max(values) - min(values)
            rows.append(_row("dry power across layouts", f"{placement} {name}", spread, "dB", 0.5, spread <= 0.5))
    return rows


def check_binaural() -> list[dict]:
    """Relative error vs convolution with the nearest measured HRIR pair; ILD and ITD at +-90 degrees."""
    with h5py.File(DEFAULT_SOFA, "r") as sofa:
        positions, irs = sofa["SourcePosition"][()], sofa["Data.IR"][()]
    signal = torch.randn(1, 4410, generator=torch.Generator().manual_seed(1))
    stem = {"x": Audio(signal, 44100)}
    rows, worst = [], 0.0
    for azimuth, elevation in ((0, 0), (33, 7), (-120, 25), (170, -35), (90, 0), (-90, 0)):
        placement = {"stems": {"x": {"azimuth_deg": azimuth, "elevation_deg": elevation, "width_deg": 0}}}
        out = Upmixer("binaural", placement, ambience=False, levels=False, diffuse_field=False).render(stem).samples
        out = out.double().numpy()
        a, e = np.radians(positions[:, 0]), np.radians(positions[:, 1])
        cosine = np.sin(e) * np.sin(np.radians(elevation)) + np.cos(e) * np.cos(np.radians(elevation)) * np.cos(
            a - np.radians(azimuth)
        )
        pair = irs[int(np.argmax(cosine))]
        x = signal[0].double().numpy()
        reference = np.stack([np.convolve(x, pair[ear])[: x.size] for ear in range(2)])
        worst = max(worst, float(np.linalg.norm(out - reference) / np.linalg.norm(reference)))
        if abs(azimuth) == 90:
            ild = 10 * np.log10(np.sum(out[0] ** 2) / np.sum(out[1] ** 2))
            lag = int(np.argmax(np.correlate(out[1], out[0], mode="full"))) - (x.size - 1)
            itd_ms = 1000 * lag / 44100
            sign = 1 if azimuth > 0 else -1
            rows.append(_row("binaural ILD (left - right)", f"az {azimuth:+d}", ild, "dB", 0.0, sign * ild > 0))
            rows.append(
                _row("binaural ITD (right lags left)", f"az {azimuth:+d}", itd_ms, "ms", 0.0, sign * itd_ms > 0)
            )
    rows.insert(0, _row("binaural vs nearest-HRIR convolution", "6 directions", worst, "relative", 1e-4, worst <= 1e-4))
    return rows


def _closed_form_sn3d(azimuth: np.ndarray, elevation: np.ndarray) -> np.ndarray:
    a, e = np.radians(azimuth), np.radians(elevation)
    x, y, z = np.cos(a) * np.cos(e), np.sin(a) * np.cos(e), np.sin(e)
    s3, s15 = np.sqrt(3), np.sqrt(15)
    return np.stack(
        [np.ones_like(x), y, z, x, s3 * x * y, s3 * y * z, (3 * z**2 - 1) / 2, s3 * x * z, s3 / 2 * (x**2 - y**2),
         np.sqrt(5 / 8) * y * (3 * x**2 - y**2), s15 * x * y * z, np.sqrt(3 / 8) * y * (5 * z**2 - 1),
         z * (5 * z**2 - 3) / 2, np.sqrt(3 / 8) * x * (5 * z**2 - 1), s15 / 2 * z * (x**2 - y**2),
         np.sqrt(5 / 8) * x * (x**2 - 3 * y**2)],
        axis=-1,
    )


def check_ambisonics() -> list[dict]:
    """SH encoding error per order; per order, 7.1.4 loudspeakers that get the most energy of a source at them."""
    rng = np.random.default_rng(0)
    azimuth, elevation = rng.uniform(-180, 180, 2000), rng.uniform(-90, 90, 2000)
    rows = []
    layout = get_loudspeaker_layout("7.1.4")
    for order in (1, 2, 3):
        channels = (order + 1) ** 2
        expected = _closed_form_sn3d(azimuth, elevation)[:, :channels]
        error = float(np.abs(real_sh_sn3d(order, azimuth, elevation) - expected).max())
        rows.append(_row("SH gains vs closed form", f"order {order}", error, "abs", 1e-6, error <= 1e-6))
        decoder = AllRadDecoder(order, layout)
        hits, shares = 0, []
        for index in layout.main_indices:
            s = layout.speakers[index]
            energies = decoder.gains(real_sh_sn3d(order, s.azimuth_deg, s.elevation_deg)) ** 2
            hits += int(np.argmax(energies) == index)
            shares.append(energies[index] / energies.sum())
        count = len(layout.main_indices)
        rows.append(
            _row("7.1.4 decode: loudest at source", f"order {order}", hits / count, "fraction", 1.0, hits == count)
        )
        rows.append(_row("7.1.4 decode: energy share at source (min, informative)", f"order {order}",
                         float(min(shares)), "fraction", float("nan"), True))
    return rows


def run_spatial_suite(seconds: float = SECONDS) -> pd.DataFrame:
    """Run every spatial check.

    Returns:
        One row per measurement: ``check``, ``case``, ``value``, ``unit``, ``threshold``, ``passed``, ``stems``.
    """
    torch.set_num_threads(1)
    stems, source = load_stems(seconds)
    rows = (
        check_fold_down(stems)
        + check_default_fold_down(stems)
        + check_speaker_isolation()
        + check_power(stems)
        + check_binaural()
        + check_ambisonics()
    )
    table = pd.DataFrame(rows)
    table["stems"] = source
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", type=Path, help="also write the table as CSV")
    parser.add_argument("--seconds", type=float, default=SECONDS, help="stem excerpt length (s)")
    args = parser.parse_args()
    table = run_spatial_suite(args.seconds)
    with pd.option_context("display.max_rows", None, "display.width", 140, "display.float_format", "{:.3g}".format):
        print(table.drop(columns="stems").to_string(index=False))
    print(f"\nstems: {table['stems'].iloc[0]}; {int(table['passed'].sum())}/{len(table)} checks passed")
    if args.csv:
        table.to_csv(args.csv, index=False)


if __name__ == "__main__":
    main()
