"""The published separators as ``--list-models`` shows them: scores as published (with their source), licence,
and whether each is cached (or in the local model folder)."""

from __future__ import annotations

import os

ROFORMER_NOTE = ("RoFormer family (--model CKPT --model-config YAML; checkpoints of the Music-Source-Separation-"
                 "Training project, BS- and Mel-Band): BS-RoFormer 9.80 dB average SDR on MUSDB18-HQ without extra "
                 "data (Lu et al., Music Source Separation with Band-Split RoPE Transformer, ICASSP 2024, "
                 "arXiv:2309.02612); licences: those of each checkpoint")
HDEMUCS_NOTE = ("torchaudio HDemucs state dicts of any size (--model FILE.pt), e.g. torchaudio's "
                "HDEMUCS_HIGH_MUSDB(_PLUS) weights saved locally")


def published_rows(model_repo: str | os.PathLike | None = None) -> list[str]:
    """Printable lines, one or two per published model."""
    from deconstruct.separation.backends.demucs_backend import is_cached, model_repo as repo_of
    from deconstruct.separation.backends.demucs_hub import PUBLISHED

    repo = repo_of(model_repo)
    lines = []
    for entry in sorted(PUBLISHED.values(), key=lambda item: item.rank):
        try:
            cached = is_cached(entry.name, repo)
        except Exception:  # an unreadable local folder is reported when it is used, not here
            cached = False
        where = ("in the model folder" if repo is not None else "cached") if cached else "not cached"
        score = f"{entry.sdr_db:.1f} dB SDR" if entry.sdr_db is not None else "no published SDR"
        lines.append(f"  demucs:{entry.name:<20} {len(entry.stems)} stems  {score:<17} {where:<20} {entry.licence}")
        lines.append(f"    {entry.description}; score: {entry.score_note}")
    lines.append(f"  {ROFORMER_NOTE}")
    lines.append(f"  {HDEMUCS_NOTE}")
    return lines
