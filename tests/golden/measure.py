"""Golden metrics of the shipped models on fixed real audio (../shared/data), recomputed by the golden tests.

    python -m tests.golden.measure          # rewrite golden.json after a deliberate model change
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

GOLDEN_FILE = Path(__file__).with_name("golden.json")
MUSDB_PREVIEW = "musdb18_music_delta_80s_rock"
EXCERPT_S = 4.0


def separation_golden(data_root: Path) -> dict[str, float]:
    """Whole-excerpt SDR (dB) per stem of the default separator on the first 4 s of the real MUSDB18 preview."""
    from deconstruct.audio import load_audio
    from deconstruct.metrics import global_sdr
    from deconstruct.separation import Separator

    folder = data_root / MUSDB_PREVIEW
    length = int(EXCERPT_S * 44100)
    mixture = load_audio(folder / "mixture.wav")
    mixture = type(mixture)(mixture.samples[:, :length], mixture.sample_rate)
    separator = Separator(device="cpu")
    stems = separator.separate(mixture)
    scores = {}
    for name, estimate in stems.items():
        reference = load_audio(folder / f"{name}.wav").samples[:, :length]
        scores[name] = round(float(global_sdr(reference[None, None], estimate.samples[None, None])[0, 0]), 4)
    return scores


MEASURES = {"separation": separation_golden}


def main() -> None:
    from tests.conftest import SHARED_DATA

    torch.set_num_threads(1)
    golden = {name: measure(SHARED_DATA) for name, measure in MEASURES.items()}
    GOLDEN_FILE.write_text(json.dumps(golden, indent=2) + "\n")
    print(json.dumps(golden, indent=2))


if __name__ == "__main__":
    main()
