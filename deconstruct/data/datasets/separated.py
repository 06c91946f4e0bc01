"""Analysis material in the analyzer's real domain: separated stems labelled by their own pre-mix effect chains.

The analyzer runs on what the separator outputs (bleed from the neighbours, musical noise, phasiness), so it is
trained and calibrated there. A *song* is built from ``train``-split material only, mixed, separated with the
shipped separator, and every separated stem is cut into analysis windows whose labels are the chain of that stem
before the mix:

- ``band`` songs: a data-engine multitrack (vocals, drums, bass, other) whose stems each carry a random chain of
  0..``max_effects`` catalog effects (uniform parameters in the catalog ranges, ``train`` rooms for convolution
  reverb);
- ``protocol`` songs: a voice (a ``train`` recording repeated with gaps, or a sung data-engine vocal line) or a
  ``train`` instrument recording, carrying one effect at the catalog's (RemFX) ranges or none, in equal numbers,
  mixed ``level_offset_db`` (3 dB by default) under a band of data-engine stems that carry random chains; the band
  stem of the target's role is left out, so the separated stem of that role holds the target only;
- ``rawstems`` songs (when ``rawstems.root`` is set): an excerpt of a RawStems song (real, unprocessed stems, see
  :mod:`deconstruct.data.material.rawstems`), every stem through a random chain.

Labels follow the stem's own chain only, so effects on the neighbours (heard as bleed) never count: a separated
stem whose true stem is silent, or more than :data:`BLEED_DB` below what the separator put there, is labelled
"no effect" (stem-wise and window-wise).

The cache: each part (``train``, ``valid``) is cut into shards of songs, and each shard is one file of float16
feature views (the analyzer's :class:`~deconstruct.analysis.features.EffectFeatures`) with labels, parameter
targets and, per window, the id of its stem (so validation can aggregate windows the way the analyzer does). The
folder name hashes every setting (material, features, separator weights), shards are written atomically, and a
shard on disk is never rebuilt: an interrupted build resumes where it stopped. Song ``i`` of a shard depends only
on ``(seed, shard, i)``.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from deconstruct.analysis.features import EffectFeatures, FeatureConfig
from deconstruct.analysis.layout import targets_from_chain
from deconstruct.analysis.windows import active_windows, cut_windows
from deconstruct.audio import load_audio, resample
from deconstruct.data.material.recordings import shared_data_root, train_instrument_files, train_voice_files
from deconstruct.data.rendering import mixing
from deconstruct.effects.catalog import EFFECT_NAMES
from deconstruct.effects.chain import Chain, sample_chain
from deconstruct.effects.render import render_chain
from deconstruct.errors import InputError

__all__ = [
    "BLEED_DB",
    "KINDS",
    "PROTOCOL_EFFECTS",
    "STEM_ROLES",
    "MaterialSpec",
    "SeparatedBank",
    "Song",
    "build_material_shard",
    "material_folder",
    "material_shard_path",
    "prepare_material",
    "song_windows",
]

STEM_ROLES = ("vocals", "drums", "bass", "other")
"""The stems of the shipped separator; every one of them is labelled."""
PROTOCOL_EFFECTS = ("reverb", "compressor", "distortion", "delay", "chorus")
"""The effects a protocol song's target carries (one of them, or none)."""
KINDS = ("band", "protocol", "rawstems")
BLEED_DB = -15.0
"""A true stem this far (dB) below its separated stem, or silent (below :data:`SILENT_DB`), counts as absent."""
SILENT_DB = -50.0
TRAINING_KEYS = ("labels", "targets", "mask")
_RUN_KEYS = ("cache_dir", "wait_for_build")  # how a run reads the material, not what the material is
_FINE_TO_ROLE = {"drums": "drums", "bass": "bass", "vocals": "vocals"}


@dataclass(frozen=True)
class MaterialSpec:
    """How one part of the material is drawn (the ``data.separated`` section of a recipe config, merged with the
    part's own keys).

    Attributes:
        seed: part seed; song ``i`` of shard ``k`` depends only on ``(seed, k, i)``.
        songs: songs in the part.
        shards: files the part is cut into (each built and cached alone).
        duration_s: song length, s.
        shares: kind → relative frequency (``band``, ``protocol``, ``rawstems``).
        max_effects: most effects per stem in band and rawstems songs.
        level_offset_db: range of the protocol target's level relative to the band (wet active RMS), dB.
        recording_share: share of protocol targets that are real ``train`` recordings (else sung engine vocals).
        instrument_share: share of the real-recording targets that are instruments rather than voices.
        windows_per_stem: most analysis windows kept per separated stem (drawn at random among the active ones).
        convolution_probability: share of reverbs that convolve a ``train`` room response.
        rawstems_root, rawstems_file_list: a RawStems folder and optional split file (for ``rawstems`` songs).
        separator: separation model (``None``: the shipped default).
        engine: extra settings of the synthetic multitrack engine.
    """

    seed: int
    songs: int
    shards: int = 1
    duration_s: float = 6.0
    shares: Mapping[str, float] = field(default_factory=lambda: {"band": 0.6, "protocol": 0.4})
    max_effects: int = 3
    level_offset_db: tuple[float, float] = (-6.0, 0.0)
    recording_share: float = 0.5
    instrument_share: float = 0.25
    windows_per_stem: int = 3
    convolution_probability: float = 0.5
    rawstems_root: str | None = None
    rawstems_file_list: str | None = None
    separator: str | None = None
    engine: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_config(cls, config: Mapping[str, Any], part: str) -> "MaterialSpec":
        """The spec of a part: ``config["data"]["separated"]`` with its ``part`` section laid over it."""
        section = dict(config["data"]["separated"])
        merged = {k: v for k, v in section.items() if k not in ("train", "valid", *_RUN_KEYS)}
        merged.update(section[part])
        rawstems = merged.pop("rawstems", None) or {}
        if rawstems.get("root"):
            merged["rawstems_root"] = str(rawstems["root"])
            merged["rawstems_file_list"] = rawstems.get("file_list")
            merged.setdefault("shares", {**cls.__dataclass_fields__["shares"].default_factory(),
                                         "rawstems": float(rawstems.get("share", 0.3))})
            merged["shares"] = {**merged["shares"], "rawstems": float(rawstems.get("share", 0.3))}
        if "level_offset_db" in merged:
            merged["level_offset_db"] = tuple(merged["level_offset_db"])
        unknown = set(merged) - set(cls.__dataclass_fields__)
        if unknown:
            raise InputError(f"data.separated: unknown settings {sorted(unknown)}; "
                             f"known: {sorted(cls.__dataclass_fields__)}")
        spec = cls(**merged)
        if spec.shares.get("rawstems", 0.0) > 0 and not spec.rawstems_root:
            raise InputError("data.separated: rawstems songs need rawstems.root (the RawStems folder)")
        if not set(spec.shares) <= set(KINDS) or sum(spec.shares.values()) <= 0:
            raise InputError(f"data.separated.shares: give positive shares of {', '.join(KINDS)}")
        return spec

    @property
    def songs_per_shard(self) -> int:
        return math.ceil(int(self.songs) / int(self.shards))


@dataclass(frozen=True)
class Song:
    """A mix with known stems.

    Attributes:
        mixture: ``[2, T]`` the sum of ``wet``.
        wet: role → ``[2, T]`` true stems after their chains (roles the song lacks are absent).
        chains: role → the chain applied to that stem.
        kind: ``band``, ``protocol`` or ``rawstems``.
        target: the protocol song's target role (``None`` otherwise).
        info: what was drawn (sources, level offset), JSON-ready.
    """

    mixture: torch.Tensor
    wet: dict[str, torch.Tensor]
    chains: dict[str, Chain]
    kind: str
    target: str | None = None
    info: dict[str, Any] = field(default_factory=dict)


# --- songs ------------------------------------------------------------------------------------------------------


class SongMaker:
    """Draws the songs of one shard of a part (see the module docstring).

    Args:
        spec: the part's settings.
        shard: shard index.
        sample_rate: rate of the songs, Hz.
    """

    def __init__(self, spec: MaterialSpec, shard: int, sample_rate: int = 44100) -> None:
        from deconstruct.data.datasets.effected import RandomChainEffect, train_rir_files
        from deconstruct.data.rendering.multitrack import SyntheticMultitracks

        self.spec, self.shard, self.sample_rate = spec, int(shard), int(sample_rate)
        self.length = round(spec.duration_s * sample_rate)
        root = shared_data_root()
        self.rir_files = tuple(str(f) for f in train_rir_files()) if root is not None else ()
        self.voices = [str(f) for f in train_voice_files()] if root is not None else []
        self.instruments = {str(f): fine for f, fine in train_instrument_files().items()} if root is not None else {}
        effect = RandomChainEffect(max_effects=spec.max_effects, rir_files=self.rir_files,
                                   convolution_probability=spec.convolution_probability)
        self.engine = SyntheticMultitracks(seed=int(spec.seed) * 1000 + self.shard, num_items=spec.songs_per_shard,
                                           duration_s=spec.duration_s, stems=STEM_ROLES, sample_rate=sample_rate,
                                           effects={role: effect for role in STEM_ROLES}, **dict(spec.engine))
        self.rawstems = None
        if spec.rawstems_root and spec.shares.get("rawstems", 0.0) > 0:
            from deconstruct.data.material.rawstems import list_rawstems_songs

            self.rawstems = list_rawstems_songs(spec.rawstems_root, spec.rawstems_file_list)

    def kind(self, rng: np.random.Generator) -> str:
        kinds = [k for k in KINDS if self.spec.shares.get(k, 0.0) > 0]
        weights = np.array([self.spec.shares[k] for k in kinds], dtype=float)
        return kinds[int(rng.choice(len(kinds), p=weights / weights.sum()))]

    def song(self, index: int) -> Song:
        """Song ``index`` of the shard (deterministic)."""
        rng = np.random.default_rng([int(self.spec.seed), self.shard, int(index)])
        kind = self.kind(rng)
        if kind == "rawstems":
            song = self._rawstems_song(rng)
        elif kind == "protocol":
            song = self._protocol_song(index, rng)
        else:
            item = self.engine.item(index)
            song = _mixed(dict(item.stems), _engine_chains(item, item.stems), "band", None, {"engine_item": int(index)})
        return song

    def _protocol_song(self, index: int, rng: np.random.Generator) -> Song:
        item = self.engine.item(index)
        source, role, dry = self._target(item, rng)
        condition = int(rng.integers(len(PROTOCOL_EFFECTS) + 1))
        chain = (Chain(()) if condition == len(PROTOCOL_EFFECTS) else
                 sample_chain(rng, 1, 1, (PROTOCOL_EFFECTS[condition],), rir_files=self.rir_files,
                              convolution_probability=self.spec.convolution_probability))
        wet_target = torch.as_tensor(render_chain(dry, self.sample_rate, chain), dtype=torch.float32)
        band = {r: item.stems[r] for r in STEM_ROLES if r != role}
        chains = _engine_chains(item, band)
        band_rms = mixing.active_rms(torch.stack(list(band.values())).sum(0).numpy())
        offset = float(rng.uniform(*self.spec.level_offset_db))
        target_rms = mixing.active_rms(wet_target.numpy())
        if band_rms > 1e-6 and target_rms > 1e-9:
            wet_target = wet_target * (band_rms * 10.0 ** (offset / 20.0) / target_rms)
        return _mixed({**band, role: wet_target}, {**chains, role: chain}, "protocol", role,
                      {"source": source, "level_offset_db": round(offset, 2), "engine_item": int(index)})

    def _target(self, item: Any, rng: np.random.Generator) -> tuple[str, str, torch.Tensor]:
        """A protocol target: (source name, stem role, dry ``[2, T]``)."""
        recorded = (self.voices or self.instruments) and rng.random() < self.spec.recording_share
        sung = item.dry["vocals"]
        if not recorded and float(sung.square().mean()) > 1e-8:
            return "engine vocals", "vocals", sung.mean(0, keepdim=True).expand(2, -1).contiguous()
        if self.instruments and (not self.voices or rng.random() < self.spec.instrument_share):
            path = sorted(self.instruments)[int(rng.integers(len(self.instruments)))]
            role = _FINE_TO_ROLE.get(self.instruments[path], "other")
        else:
            path = self.voices[int(rng.integers(len(self.voices)))]
            role = "vocals"
        audio = load_audio(path)
        mono = resample(audio.samples.mean(0), audio.sample_rate, self.sample_rate)
        return Path(path).name, role, tiled(mono, self.length, self.sample_rate, rng)[None].expand(2, -1)

    def _rawstems_song(self, rng: np.random.Generator) -> Song:
        from deconstruct.data.material.rawstems import read_excerpt

        assert self.rawstems is not None
        song = self.rawstems[int(rng.integers(len(self.rawstems)))]
        spare_s = max(0.0, song.frames / song.sample_rate - self.spec.duration_s)
        start_s = float(rng.uniform(0.0, spare_s))
        dry = read_excerpt(song, start_s, self.spec.duration_s, self.sample_rate)
        wet, chains = {}, {}
        for role in STEM_ROLES:
            if role not in dry:
                continue
            chains[role] = sample_chain(rng, self.spec.max_effects, 0, rir_files=self.rir_files,
                                        convolution_probability=self.spec.convolution_probability)
            wet[role] = torch.as_tensor(render_chain(dry[role], self.sample_rate, chains[role]), dtype=torch.float32)
        return _mixed(wet, chains, "rawstems", None, {"source": song.folder.name, "start_s": round(start_s, 2)})


def _engine_chains(item: Any, roles: Sequence[str]) -> dict[str, Chain]:
    """The chains the engine drew for ``roles`` (a stem the engine left silent has none)."""
    effects = item.info.get("effects", {})
    return {role: Chain.from_dict(effects[role]["chain"]) if role in effects else Chain(()) for role in roles}


def tiled(recording: torch.Tensor, length: int, sample_rate: int, rng: np.random.Generator,
          gap_s: tuple[float, float] = (0.1, 0.6)) -> torch.Tensor:
    """``recording [samples]`` repeated with random gaps (and a random lead-in) to fill ``length`` samples."""
    out = torch.zeros(length)
    position = int(rng.uniform(0.0, gap_s[1]) * sample_rate)
    while position < length:
        piece = recording[: length - position]
        out[position:position + piece.shape[0]] = piece
        position += recording.shape[0] + int(rng.uniform(*gap_s) * sample_rate)
    return out


def _mixed(wet: dict[str, torch.Tensor], chains: dict[str, Chain], kind: str, target: str | None,
           info: dict[str, Any]) -> Song:
    """Sum the stems; when the mixture would clip, scale it and every stem alike."""
    wet = {role: torch.as_tensor(x, dtype=torch.float32) for role, x in wet.items()}
    mixture = torch.stack(list(wet.values())).sum(0)
    peak = float(mixture.abs().max())
    if peak > 0.99:
        scale = 0.99 / peak
        mixture, wet = mixture * scale, {role: x * scale for role, x in wet.items()}
    return Song(mixture, wet, chains, kind, target, info)


# --- separated windows --------------------------------------------------------------------------------------------


def _db(x: torch.Tensor) -> torch.Tensor:
    return 10.0 * torch.log10(x.double().square().mean(dim=-1).clamp_min(1e-12))


def song_windows(song: Song, separated: Mapping[str, torch.Tensor], window: int, hop: int,
                 rng: np.random.Generator, windows_per_stem: int) -> list[dict[str, Any]]:
    """Labelled analysis windows of a song's separated stems (the analyzer's windowing and activity rule).

    Args:
        song: the song with its true stems and chains.
        separated: role → separated stem ``[channels, T]`` at the song's rate (= the analyzer's rate).
        window, hop: analysis window and hop, samples.
        rng: draws which active windows are kept.
        windows_per_stem: most windows kept per stem.

    Returns:
        One dict per kept window: ``audio [window]``, ``labels``, ``targets``, ``mask``, ``role``,
        ``stem_labels`` (the stem-level labels, for calibration) and ``present`` (whether the stem's own sound
        is there at all).
    """
    rows = []
    for role, stem in separated.items():
        mono = stem.float().mean(0)
        windows = cut_windows(mono, window, hop)
        active = active_windows(windows)
        if not bool(active.any()):
            continue
        truth = song.wet.get(role)
        truth_mono = truth.mean(0) if truth is not None else torch.zeros_like(mono)
        true_windows = cut_windows(truth_mono[: mono.shape[0]], window, hop)
        chain = song.chains.get(role, Chain(()))
        stem_present = bool(_db(truth_mono) >= SILENT_DB and _db(truth_mono) - _db(mono) >= BLEED_DB)
        labels, (targets, mask) = chain.labels(), targets_from_chain(chain)
        none = (np.zeros_like(labels), (np.zeros_like(targets), np.zeros_like(mask)))
        stem_labels = labels if stem_present else none[0]
        true_db, sep_db = _db(true_windows), _db(windows)
        index = np.flatnonzero(active.numpy())
        if len(index) > windows_per_stem:
            index = np.sort(rng.choice(index, size=windows_per_stem, replace=False))
        for i in index:
            present = stem_present and bool(true_db[i] >= SILENT_DB and true_db[i] - sep_db[i] >= BLEED_DB)
            use_labels, (use_targets, use_mask) = ((labels, (targets, mask)) if present else none)
            rows.append({"audio": windows[i].clone(), "labels": torch.as_tensor(use_labels, dtype=torch.float32),
                         "targets": torch.as_tensor(use_targets, dtype=torch.float32),
                         "mask": torch.as_tensor(use_mask, dtype=torch.float32), "role": role,
                         "stem_labels": torch.as_tensor(stem_labels, dtype=torch.float32), "present": present})
    return rows


# --- the cache ------------------------------------------------------------------------------------------------------


def material_folder(config: Mapping[str, Any], root: str | Path) -> Path:
    """``root/<hash>``: the hash covers the material settings (without song and shard counts), the feature settings
    and the separator's weights (their tensors, not the file's bytes), so a changed setting never reuses shards built with the old one."""
    from deconstruct.models.checkpoint import tensors_sha256
    from deconstruct.models.registry import resolve

    section = {k: v for k, v in config["data"]["separated"].items() if k not in _RUN_KEYS}
    for part in ("train", "valid"):
        if part in section:
            section[part] = {k: v for k, v in section[part].items() if k not in ("songs", "shards")}
    separator = resolve("separation", section.get("separator"))
    key = json.dumps({"material": section, "features": config.get("features", {}),
                      "separator": tensors_sha256(separator.state_dict), "version": 1}, sort_keys=True, default=str)
    return Path(root) / hashlib.sha256(key.encode()).hexdigest()[:12]


def material_shard_path(config: Mapping[str, Any], root: str | Path, part: str, shard: int) -> Path:
    """Where shard ``shard`` of a part is stored (its song count is in the name)."""
    spec = MaterialSpec.from_config(config, part)
    return material_folder(config, root) / f"{part}-{shard:03d}-s{spec.songs_per_shard}.pt"


def build_material_shard(config: Mapping[str, Any], part: str, shard: int, path: str | Path,
                         batch_size: int = 16, progress: bool = False) -> Path:
    """Build one shard: draw its songs, separate them, cut and label the windows, compute their feature views and
    save them (float16) to ``path`` atomically, with a JSON sidecar describing every song."""
    from deconstruct.models.effect_nets import FEATURE_KEYS
    from deconstruct.separation import Separator

    spec = MaterialSpec.from_config(config, part)
    feature_config = FeatureConfig(**config.get("features", {}))
    rate = feature_config.sample_rate
    hop = max(1, round(float(config.get("model", {}).get("hop_s", feature_config.window_s / 2)) * rate))
    maker = SongMaker(spec, shard, rate)
    separator = Separator(spec.separator, device="cpu")
    features = EffectFeatures(feature_config).eval()
    columns: dict[str, list[torch.Tensor]] = {key: [] for key in
                                              (*FEATURE_KEYS, *TRAINING_KEYS, "stem_labels", "stem_id", "kind",
                                               "role", "present")}
    songs_info, pending, started = [], [], time.time()

    def flush() -> None:
        if not pending:
            return
        with torch.no_grad():
            views = features(torch.stack([row["audio"] for row in pending]))
        for key in FEATURE_KEYS:
            columns[key].append(views[key].half())
        for key in (*TRAINING_KEYS, "stem_labels"):
            columns[key].append(torch.stack([row[key] for row in pending]))
        for key in ("stem_id", "kind", "role", "present"):
            columns[key].append(torch.tensor([row[key] for row in pending], dtype=torch.int64))
        pending.clear()

    for index in range(spec.songs_per_shard):
        song = maker.song(index)
        stems = separator.separate(_audio(song.mixture, rate))
        rng = np.random.default_rng([int(spec.seed), int(shard), int(index), 7])
        rows = song_windows(song, {r: a.samples for r, a in stems.items()}, feature_config.window_samples, hop, rng,
                            spec.windows_per_stem)
        for row in rows:
            row["stem_id"] = (int(shard) * spec.songs_per_shard + index) * len(STEM_ROLES) + STEM_ROLES.index(
                row["role"])
            row["kind"], row["role"] = KINDS.index(song.kind), STEM_ROLES.index(row["role"])
            row["present"] = int(row["present"])
        pending.extend(rows)
        songs_info.append({"index": index, "kind": song.kind, "target": song.target, **song.info,
                           "chains": {r: c.to_dict() for r, c in song.chains.items()}})
        if len(pending) >= batch_size:
            flush()
        if progress and index % 10 == 9:
            print(f"{part} shard {shard}: {index + 1}/{spec.songs_per_shard} songs ({time.time() - started:.0f} s)",
                  flush=True)
    flush()
    bank = {key: torch.cat(values) for key, values in columns.items() if values}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    torch.save(bank, partial)
    path.with_suffix(".json").write_text(json.dumps({"spec": asdict(spec), "songs": songs_info}, default=str))
    partial.replace(path)
    return path


def _audio(samples: torch.Tensor, rate: int):
    from deconstruct.audio import Audio

    return Audio(samples.contiguous(), rate)


def prepare_material(config: Mapping[str, Any], part: str, root: str | Path, progress: bool = False,
                     build: bool = True) -> "SeparatedBank":
    """The separated-stem bank of a part, building the shards that are not on disk yet (``build=False``: only the
    shards already there, so training can start on a partial cache)."""
    spec = MaterialSpec.from_config(config, part)
    paths = [material_shard_path(config, root, part, k) for k in range(int(spec.shards))]
    for shard, path in enumerate(paths):
        if build and not path.is_file():
            build_material_shard(config, part, shard, path, progress=progress)
    ready = [p for p in paths if p.is_file()]
    if not ready:
        raise InputError(f"no {part} shard of the separated material under {material_folder(config, root)}; "
                         "build it first (recipes/effect_classifier/separated_material.py)")
    return SeparatedBank(ready)


class SeparatedBank(Dataset):
    """Saved separated-stem windows as a dataset of training dicts (the feature views in float32, ``labels``,
    ``targets``, ``mask``), the same items as :class:`deconstruct.train.analysis.FeatureBank`, so the two mix.

    Args:
        paths: shard files written by :func:`build_material_shard`.

    Attributes:
        columns: every saved column, concatenated (also ``stem_id``, ``stem_labels``, ``kind``, ``role``,
            ``present``).
    """

    def __init__(self, paths: Sequence[str | Path]) -> None:
        from deconstruct.models.effect_nets import FEATURE_KEYS

        shards = [torch.load(p, map_location="cpu", weights_only=True) for p in paths]
        self.columns = {key: torch.cat([s[key] for s in shards]) for key in shards[0]}
        self.keys = (*FEATURE_KEYS, *TRAINING_KEYS)
        self.paths = [Path(p) for p in paths]

    def __len__(self) -> int:
        return int(self.columns["labels"].shape[0])

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {key: self.columns[key][index].float() for key in self.keys}

    def stems(self) -> tuple[np.ndarray, np.ndarray]:
        """Per window the index of its stem (``0..S-1``) and per stem its labels ``[S, effects]``."""
        ids, inverse = np.unique(self.columns["stem_id"].numpy(), return_inverse=True)
        labels = np.zeros((len(ids), len(EFFECT_NAMES)), dtype=np.float32)
        labels[inverse] = self.columns["stem_labels"].numpy()
        return inverse, labels

