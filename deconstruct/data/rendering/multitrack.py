"""Synthetic multitracks: composed or score-based music rendered through a GM soundfont, one dry stem per class.

Every item is a fresh piece: :func:`~deconstruct.data.rendering.composition.compose` (or, with probability
``score_probability``, a music21 corpus score) gives the lines, :mod:`~deconstruct.data.rendering.orchestration` picks an
instrument per line, :func:`~deconstruct.data.rendering.soundfont.render_parts` renders every line alone in one pass, vocal
lines are sung by a GM voice patch with vibrato or by a real ``train`` voice recording re-sung through PSOLA
(:mod:`~deconstruct.data.rendering.vocals`), an excerpt of a real ``train`` instrument recording sometimes joins
(:mod:`~deconstruct.data.material.clips`), and each line is levelled and panned before the lines are summed into stems.
The mixture is the sum of the stems, exactly.

Item ``i`` depends only on ``(seed, i)`` and the constructor's arguments: the same pair gives bit-identical audio in
any process, worker or order.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from deconstruct.data.rendering import mixing, orchestration, taxonomy
from deconstruct.data.material.clips import ClipLibrary
from deconstruct.data.rendering.composition import Arrangement, compose
from deconstruct.data.rendering.expression import Expression, with_vibrato
from deconstruct.data.rendering.notes import Part
from deconstruct.data.rendering.soundfont import MAX_PARTS, render_parts
from deconstruct.data.rendering.vocals import VoiceLibrary
from deconstruct.errors import InputError

StemEffect = Callable[[torch.Tensor, int, np.random.Generator], "torch.Tensor | tuple[torch.Tensor, dict]"]
"""A per-stem effect chain: ``(dry [2, T], sample_rate, rng) -> wet [2, T]`` or ``(wet, info)``, same length."""

# Mean active-RMS level (dBFS) of a line by stem class before the mix gain; each line varies ±4 dB around it.
_LEVEL_DB = {"vocals": -16.0, "drums": -17.0, "bass": -18.0}
_DEFAULT_LEVEL_DB = -21.0
# How far from the centre a line's pan may be drawn, by coarse class.
_PAN_SPREAD = {"vocals": 0.15, "drums": 0.1, "bass": 0.05}


@dataclass(frozen=True)
class MultitrackItem:
    """One rendered item.

    Attributes:
        stems: stem name → ``[2, T]`` float32 (wet when effects are set, else dry); the mixture is their sum.
        dry: stem name → ``[2, T]`` the same stems before the effect chains, at the same gain.
        info: what was drawn: source, style, tempo, key, the instrument of every line, effect infos.
    """

    stems: dict[str, torch.Tensor]
    dry: dict[str, torch.Tensor]
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def mixture(self) -> torch.Tensor:
        """The sum of the stems, ``[2, T]``."""
        return torch.stack(list(self.stems.values())).sum(dim=0)


@dataclass(frozen=True)
class _Line:
    """A line of the mix: its part, stem and coarse class, and how it sounds: ``synth`` (the soundfont),
    ``voice`` (a recorded voice sings the part) or ``clip`` (``audio``, an excerpt of a real recording)."""

    part: Part
    stem: str
    coarse: str
    source: str = "synth"
    audio: np.ndarray | None = None


class SyntheticMultitracks(Dataset):
    """Deterministic synthetic multitrack dataset.

    Args:
        seed: base seed; item ``i`` is drawn from ``(seed, i)``.
        num_items: dataset length.
        duration_s: item length in seconds.
        stems: stem set; names from :data:`~deconstruct.data.rendering.taxonomy.FINE_CLASSES` or ``other``
            (e.g. ``("vocals", "drums", "bass", "guitar", "piano", "other")``).
        sample_rate: output rate in Hz.
        effects: optional stem name → :data:`StemEffect` applied to that stem; the dry stem stays available
            through :meth:`item`.
        score_probability: probability that an item's notes come from a music21 corpus score rather than the
            procedural composer.
        silence_probability: probability that a stem is absent from an item (all zeros); never all stems at once.
        recorded_voice_probability: probability that a vocal line is sung by a real ``train`` recording rather than
            a GM voice patch (when recordings are available).
        voice_library: the recorded voices; ``"default"``: the ``train`` voices of the shared data set when present
            (see :meth:`deconstruct.data.rendering.vocals.VoiceLibrary.default`), None: GM voices only.
        clip_probability: probability that an item also holds an excerpt of a real ``train`` instrument recording
            (a guitar take, castanets) as one more line.
        clip_library: those recordings; ``"default"``: found in the shared data set when present, None: none.
        soundfont: soundfont path; found automatically when None.

    Shape:
        ``dataset[i]`` is a dict stem name → float32 tensor ``[2, round(duration_s * sample_rate)]``.
    """

    def __init__(self, seed: int, num_items: int, duration_s: float,
                 stems: Sequence[str] = ("vocals", "drums", "bass", "other"), sample_rate: int = 44100,
                 effects: Mapping[str, StemEffect] | None = None, score_probability: float = 0.2,
                 silence_probability: float = 0.08, recorded_voice_probability: float = 0.5,
                 voice_library: VoiceLibrary | None | str = "default", clip_probability: float = 0.1,
                 clip_library: ClipLibrary | None | str = "default", soundfont: Path | None = None) -> None:
        if num_items < 0:
            raise InputError(f"num_items must be >= 0, got {num_items}")
        if duration_s <= 0:
            raise InputError(f"duration_s must be positive, got {duration_s}")
        self.stems = taxonomy.validate_stems(stems)
        unknown = sorted(set(effects or {}) - set(self.stems))
        if unknown:
            raise InputError(f"effects given for stems not in the set: {', '.join(unknown)}")
        self.seed, self.num_items, self.duration_s = int(seed), int(num_items), float(duration_s)
        self.sample_rate = int(sample_rate)
        self.num_samples = int(round(self.duration_s * self.sample_rate))
        self.effects = dict(effects or {})
        self.score_probability = float(score_probability)
        self.silence_probability = float(silence_probability)
        self.recorded_voice_probability = float(recorded_voice_probability)
        for name, value in (("voice_library", voice_library), ("clip_library", clip_library)):
            if isinstance(value, str) and value != "default":
                raise InputError(f"{name} must be a library, None or 'default', got {value!r}")
        self._voice_library, self._clip_library = voice_library, clip_library
        self.clip_probability = float(clip_probability)
        self.soundfont = soundfont

    def __len__(self) -> int:
        return self.num_items

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return self.item(index).stems

    @property
    def voice_library(self) -> VoiceLibrary | None:
        """The recorded voices (loaded on first use, once per process)."""
        if isinstance(self._voice_library, str):
            self._voice_library = VoiceLibrary.default(self.sample_rate)
        return self._voice_library

    @property
    def clip_library(self) -> ClipLibrary | None:
        """The real instrument recordings (loaded on first use, once per process)."""
        if isinstance(self._clip_library, str):
            self._clip_library = ClipLibrary.default(self.sample_rate)
        return self._clip_library

    def item(self, index: int) -> MultitrackItem:
        """Render item ``index`` with its dry stems and what was drawn."""
        if not 0 <= index < self.num_items:
            raise IndexError(f"item {index} out of range for {self.num_items} items")
        rng = np.random.default_rng([self.seed, index])
        arrangement, source = self._notes(rng)
        segment_start = float(rng.uniform(0.0, max(0.0, arrangement.duration_s - self.duration_s)))
        lines = self._orchestrate(arrangement, rng)
        present = self._present_stems({line.stem for line in lines}, rng)
        lines = [line for line in lines if line.stem in present][:MAX_PARTS] + self._clip_lines(present, rng)
        tracks = self._render(lines, segment_start, rng)

        dry = {stem: np.zeros((2, self.num_samples), dtype=np.float32) for stem in self.stems}
        for line, track in zip(lines, tracks):
            dry[line.stem] += track
        wet, effect_info = self._apply_effects(dry, index)
        gain = self._mix_gain(wet, rng)
        info = {
            "source": source, "style": arrangement.style, "tempo_bpm": arrangement.tempo_bpm,
            "key": arrangement.key, "mode": arrangement.mode, "segment_start_s": segment_start,
            "lines": [{"role": line.part.name, "stem": line.stem, "program": line.part.program,
                       "is_drum": line.part.is_drum, "source": line.source} for line in lines],
            "effects": effect_info, "gain": gain,
        }
        return MultitrackItem(_scaled(wet, gain), _scaled(dry, gain), info)

    # -- drawing -----------------------------------------------------------------------------------------------
    def _notes(self, rng: np.random.Generator) -> tuple[Arrangement, str]:
        length = self.duration_s + 4.0
        if rng.random() < self.score_probability:
            from deconstruct.data.rendering.scores import score_arrangement

            arrangement = score_arrangement(rng, length)
            if arrangement is not None:
                return arrangement, "score"
        return compose(rng, length), "procedural"

    def _present_stems(self, played: set[str], rng: np.random.Generator) -> set[str]:
        """The stems this item keeps: each stem is dropped with ``silence_probability``, but never every stem
        that has a line to play."""
        present = {s for s in self.stems if rng.random() >= self.silence_probability}
        if played and not present & played:
            candidates = sorted(played)
            present.add(candidates[int(rng.integers(len(candidates)))])
        return present

    def _orchestrate(self, arrangement: Arrangement, rng: np.random.Generator) -> list[_Line]:
        """Give each role an instrument and a stem (roles the stem set has no place for are dropped)."""
        lines: list[_Line] = []
        for role, part in arrangement.parts.items():
            if not part.notes or rng.random() >= _ROLE_PROBABILITY.get(role, 1.0):
                continue
            if role == "drums":
                part = part.with_program(orchestration.choose_kit(arrangement.style, rng), is_drum=True)
            elif role == "bass":
                part = part.with_program(orchestration.choose_bass(arrangement.style, rng))
            elif role == "melody" and "vocals" in self.stems and rng.random() < 0.9:
                expression = Expression.draw(rng)
                library = self.voice_library
                if library is not None and len(library) and rng.random() < self.recorded_voice_probability:
                    part, source = part.with_program(orchestration.VOICE_PROGRAMS[0]), "voice"
                else:
                    program = orchestration.VOICE_PROGRAMS[int(rng.integers(len(orchestration.VOICE_PROGRAMS)))]
                    part, source = with_vibrato(part.with_program(program), expression, rng), "synth"
                lines.append(_Line(replace(part, name="melody"), "vocals", "vocals", source))
                continue
            else:
                fine = orchestration.choose_class(role if role in orchestration.ROLE_CLASSES else "counter",
                                                  self.stems, rng)
                part = part.with_program(orchestration.choose_program(role, fine, rng))
            stem = taxonomy.stem_for(part.program, part.is_drum, self.stems)
            if stem is not None:
                lines.append(_Line(_with_dropout(part, rng), stem, taxonomy.coarse_class(part.program, part.is_drum)))
        return lines

    def _clip_lines(self, present: set[str], rng: np.random.Generator) -> list[_Line]:
        """Sometimes one excerpt of a real instrument recording whose stem is present in this item."""
        if rng.random() >= self.clip_probability or self.clip_library is None:
            return []
        classes = {c.fine_class for c in self.clip_library.clips
                   if taxonomy.stem_for_class(c.fine_class, self.stems) in present}
        drawn = self.clip_library.excerpt(self.num_samples, rng, classes)
        if drawn is None:
            return []
        clip, audio = drawn
        stem = taxonomy.stem_for_class(clip.fine_class, self.stems)
        coarse = clip.fine_class if clip.fine_class in taxonomy.COARSE_CLASSES else "other"
        return [_Line(Part(f"clip:{clip.name}", ()), stem, coarse, "clip", audio)]

    def _render(self, lines: list[_Line], segment_start: float, rng: np.random.Generator) -> list[np.ndarray]:
        """Render, level and pan every line: ``[2, T]`` each."""
        synth_lines = [line for line in lines if line.source == "synth"]
        rendered = render_parts([line.part for line in synth_lines], self.num_samples, self.sample_rate,
                                segment_start, self.soundfont) if synth_lines else np.zeros((0, 2, self.num_samples))
        by_line = dict(zip(map(id, synth_lines), rendered))
        tracks = []
        for line in lines:
            if line.source == "voice":
                track = self.voice_library.sing(line.part, self.num_samples, segment_start, rng)
            elif line.source == "clip":
                track = line.audio
            else:
                track = by_line[id(line)]
            level_db = _LEVEL_DB.get(line.coarse, _DEFAULT_LEVEL_DB) + float(rng.uniform(-4.0, 4.0))
            spread = _PAN_SPREAD.get(line.coarse, 0.8)
            tracks.append(mixing.pan(mixing.level(track.astype(np.float32), level_db),
                                     float(rng.uniform(-spread, spread))))
        return tracks

    def _apply_effects(self, dry: dict[str, np.ndarray], index: int) -> tuple[dict[str, np.ndarray], dict]:
        wet, infos = dict(dry), {}
        for position, stem in enumerate(self.stems):
            chain = self.effects.get(stem)
            if chain is None or not np.any(dry[stem]):
                continue
            result = chain(torch.from_numpy(dry[stem].copy()), self.sample_rate,
                           np.random.default_rng([self.seed, index, position, 1]))
            audio, info = result if isinstance(result, tuple) else (result, {})
            audio = torch.as_tensor(audio, dtype=torch.float32)
            if tuple(audio.shape) != (2, self.num_samples):
                raise ValueError(f"the effect chain of stem {stem!r} returned shape {tuple(audio.shape)}, "
                                 f"expected (2, {self.num_samples})")
            wet[stem], infos[stem] = audio.numpy(), info
        return wet, infos

    @staticmethod
    def _mix_gain(stems: dict[str, np.ndarray], rng: np.random.Generator) -> float:
        """One gain for all stems: the mixture at -10 to -20 dBFS RMS, its peak at most 0.99."""
        mixture = np.sum(list(stems.values()), axis=0)
        rms = mixing.active_rms(mixture)
        if rms <= 1e-9:
            return 1.0
        gain = 10.0 ** (float(rng.uniform(-20.0, -10.0)) / 20.0) / rms
        peak = float(np.abs(mixture).max()) * gain
        return gain * min(1.0, 0.99 / peak) if peak > 0 else gain


_ROLE_PROBABILITY = {"drums": 0.97, "bass": 0.95, "chords": 0.9, "pad": 0.45, "counter": 0.4, "melody": 1.0}


def _scaled(stems: dict[str, np.ndarray], gain: float) -> dict[str, torch.Tensor]:
    return {name: torch.from_numpy(audio * np.float32(gain)) for name, audio in stems.items()}


def _with_dropout(part: Part, rng: np.random.Generator, probability: float = 0.15) -> Part:
    """Sometimes silence a stretch of a part (a breakdown, an instrument sitting out some bars)."""
    if rng.random() >= probability or not part.notes:
        return part
    start = float(rng.uniform(0.0, part.end_s))
    stop = start + float(rng.uniform(1.0, 4.0))
    kept = tuple(n for n in part.notes if not start <= n.onset_s < stop)
    return replace(part, notes=kept)

