"""Levels and ambience of the default upmix on real music: loudness vs input, true peak, surround/height energy.

Per render (5.1, 7.1, 7.1.4, binaural; default "surround" placement, common gain and limiter on): loudness
relative to the input (LU), power relative to the input (dB, LFE counted twice), true peak (dBTP), the limiter's
largest gain reduction, surround (Ls+Rs+Lb+Rb) and height energy relative to L+R+C (dB), wall time (s) and the
process's peak resident memory so far (MB; the song is never loaded whole by the renderer).

Inputs (measurement only, eval split): the MUSDB18 preview "Music Delta - 80s Rock" (its four stems), a
10-minute song made by looping a real mix (``mixes_no_stems/kevin_macleod_vibe_ace``) and a loud master whose
true peak is above 0 dBTP (``mixes_no_stems/spleeter_audio_example``), rendered from files on disk with
:meth:`Upmixer.render_files` (block-wise, two passes) as the pipeline does.

Usage::

    python eval/benchmarks/upmix_levels.py [--minutes 10] [--inputs musdb,song,loud]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from deconstruct.spatial import Upmixer

DATA = Path(os.environ.get("DECONSTRUCT_SHARED_DATA", Path(__file__).resolve().parents[3] / "shared" / "data"))
FORMATS = ("5.1", "7.1", "7.1.4", "binaural")


def _group_db(path: Path, labels: tuple[str, ...], group: tuple[str, ...]) -> float | None:
    front = other = 0.0
    with sf.SoundFile(str(path)) as handle:
        for block in handle.blocks(1 << 18, dtype="float64", always_2d=True):
            energy = (block**2).sum(axis=0)
            front += sum(energy[labels.index(c)] for c in ("L", "R", "C"))
            other += sum(energy[i] for i, c in enumerate(labels) if c in group)
    return None if other == 0.0 and not any(c in labels for c in group) else 10 * np.log10(max(other, 1e-30) / front)


def measure(name: str, stem_paths: dict[str, Path], folder: Path) -> None:
    for fmt in FORMATS:
        upmixer = Upmixer(fmt)
        out = folder / f"{name}_{fmt}.wav"
        started = time.perf_counter()
        levels = upmixer.render_files(stem_paths, out, overwrite=True)
        spent = time.perf_counter() - started
        row = f"{name:<22} {fmt:<9} loudness {levels.loudness_lu_vs_input:+6.2f} LU"
        row += f"  power {levels.power_db_vs_input:+6.2f} dB"
        row += f"  true peak {levels.true_peak_dbtp:6.2f} dBTP (input {levels.input_true_peak_dbtp:+.2f})"
        row += f"  gain {levels.gain_db:+5.2f} dB  limiter {levels.limiter_db:4.2f} dB"
        if fmt != "binaural":
            surround = _group_db(out, upmixer.labels, ("Ls", "Rs", "Lb", "Rb"))
            height = _group_db(out, upmixer.labels, ("TFL", "TFR", "TBL", "TBR"))
            row += f"  surround {surround:+6.1f} dB" + (f"  height {height:+6.1f} dB" if fmt == "7.1.4" else "")
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(row + f"  time {spent:6.1f} s  peak RSS {peak_mb:5.0f} MB", flush=True)
        out.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the looped song")
    parser.add_argument("--inputs", default="musdb,song,loud", help="comma-separated: musdb, song, loud")
    args = parser.parse_args()
    inputs = set(args.inputs.split(","))
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, CPU; peak RSS after imports {baseline:.0f} MB")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if "musdb" in inputs:
            musdb = DATA / "musdb18_music_delta_80s_rock"
            stems = {n: musdb / f"{n}.wav" for n in ("vocals", "drums", "bass", "other")}
            measure("musdb 80s rock (stems)", stems, folder)
        if "song" in inputs:
            song, rate = sf.read(DATA / "mixes_no_stems" / "kevin_macleod_vibe_ace.hq.ogg", always_2d=True,
                                 dtype="float32")
            looped = folder / "looped.wav"
            total = int(args.minutes * 60 * rate)
            with sf.SoundFile(str(looped), "w", rate, song.shape[1], subtype="FLOAT") as handle:
                for start in range(0, total, len(song)):
                    handle.write(song[: min(len(song), total - start)])
            measure(f"{args.minutes:g}-min song (mix)", {"mix": looped}, folder)
        if "loud" in inputs:
            loud, rate = sf.read(DATA / "mixes_no_stems" / "spleeter_audio_example.mp3", always_2d=True,
                                 dtype="float32")
            path = folder / "loud.wav"
            sf.write(path, loud, rate, subtype="FLOAT")
            measure("loud master (mix)", {"mix": path}, folder)


if __name__ == "__main__":
    main()
