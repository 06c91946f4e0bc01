"""The project's stem names for what other models call their outputs.

Published models name their outputs freely ("Vocals", "instrum", "no_vocals", "Guitars"...). Every later stage,
the placement presets and the report use one spelling: lower case, singular as the MUSDB set has it (``vocals``,
``drums``, ``bass``, ``other``, ``guitar``, ``piano``), ``accompaniment`` for everything-but-vocals. Names not
known here are kept, made file-safe (lower case, ``_`` for anything but letters, digits, ``-`` and ``_``).
"""

from __future__ import annotations

import re

ALIASES = {
    "vocals": "vocals", "vocal": "vocals", "voice": "vocals", "voices": "vocals", "vox": "vocals",
    "singing": "vocals", "lead_vocals": "vocals",
    "instrum": "accompaniment", "instrumental": "accompaniment", "instrumentals": "accompaniment",
    "inst": "accompaniment", "accompaniment": "accompaniment", "no_vocals": "accompaniment",
    "novocals": "accompaniment", "karaoke": "accompaniment", "music": "accompaniment", "backing": "accompaniment",
    "drums": "drums", "drum": "drums", "percussion": "drums",
    "bass": "bass", "basses": "bass",
    "other": "other", "others": "other", "rest": "other",
    "guitar": "guitar", "guitars": "guitar",
    "piano": "piano", "pianos": "piano", "keys": "piano", "keyboard": "piano", "keyboards": "piano",
}


def normalise_stem_name(name: str) -> str:
    """The project's name for one model output name (``"Vocals"`` → ``vocals``, ``"instrum"`` → ``accompaniment``)."""
    key = re.sub(r"[^a-z0-9_-]+", "_", str(name).strip().lower()).strip("_")
    return ALIASES.get(key, ALIASES.get(key.replace("-", "_"), key or "stem"))


def normalise_stem_names(names: list[str]) -> list[str]:
    """Normalise every name; a name that would repeat gets ``_2``, ``_3``... so files stay distinct."""
    out: list[str] = []
    for name in names:
        base = normalise_stem_name(name)
        candidate, index = base, 2
        while candidate in out:
            candidate, index = f"{base}_{index}", index + 1
        out.append(candidate)
    return out
