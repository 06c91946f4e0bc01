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


def removal_golden(data_root: Path) -> dict[str, float]:
    """SI-SDR (dB) of the default remover's output vs the dry source, on a real `eval` voice recording with a fixed
    delay + distortion chain (names given, as in the oracle evaluation)."""
    from deconstruct.audio import Audio, load_audio
    from deconstruct.effects.chain import Chain, Effect
    from deconstruct.effects.render import render_chain
    from deconstruct.metrics import si_sdr
    from deconstruct.removal import EffectRemover

    dry = load_audio(data_root / "dry_speech" / "cmu_arctic_us_axb_a0004.wav")
    dry = Audio(dry.samples * (0.1 / dry.samples.pow(2).mean().sqrt()), dry.sample_rate)
    chain = Chain((Effect("distortion", {"drive_db": 15.0}), Effect("delay", {"delay_s": 0.25, "feedback": 0.3,
                                                                             "mix": 0.35})))
    wet = torch.as_tensor(render_chain(dry.samples, dry.sample_rate, chain))
    out = EffectRemover(device="cpu").remove(Audio(wet, dry.sample_rate), ["distortion", "delay"], mode="given")
    return {"input_si_sdr_db": round(float(si_sdr(dry.samples[None], wet[None])[0]), 4),
            "output_si_sdr_db": round(float(si_sdr(dry.samples[None], out.audio.samples[None])[0]), 4)}


MEASURES = {"separation": separation_golden, "removal": removal_golden}


def main() -> None:
    from tests.conftest import SHARED_DATA

    torch.set_num_threads(1)
    golden = {name: measure(SHARED_DATA) for name, measure in MEASURES.items()}
    GOLDEN_FILE.write_text(json.dumps(golden, indent=2) + "\n")
    print(json.dumps(golden, indent=2))


if __name__ == "__main__":
    main()
