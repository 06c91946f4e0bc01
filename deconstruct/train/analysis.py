"""Training of the effect analysis network: data from a YAML config, a feature bank, a Lightning module, per-effect
thresholds tuned on training-side validation, and export to a checkpoint.

The YAML is the single source of truth for a run (see ``recipes/effect_classifier/*.yaml``). Lightning is imported
here only: the inference path never needs it.

Data. Dry sources are excerpts of real recordings (the ``train`` split of the shared data set, or folders) and
dry stems of the synthetic multitrack engine (GM soundfont renders, vocal lines with vibrato); the two are drawn
with a configured share. Every example goes through :class:`~deconstruct.data.datasets.effected.EffectedDataset` (a random
chain of 0..K catalog effects, uniform parameters), rendered at a rate drawn from ``render_rates`` (so the network
sees band-limited material, such as 16 kHz speech) and brought to the model's rate. The feature views of every
example are computed once and kept in a *feature bank* (float16 shards on disk); epochs then cost only the network.
With ``data.cache: false`` examples are rendered on the fly in loader workers instead (the GPU configuration).
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import torch
from torch import nn
from torch.utils.data import ConcatDataset, DataLoader, Dataset

from deconstruct.analysis.features import NUM_STATS, EffectFeatures, FeatureConfig
from deconstruct.analysis.layout import output_names, targets_from_chain
from deconstruct.analysis.scoring import detection_scores, macro_f1, masked_mae, tune_thresholds
from deconstruct.audio import Audio, resample
from deconstruct.data.datasets.effected import EffectedDataset, list_audio_files, train_dry_groups, train_rir_files
from deconstruct.data.material.recordings import shared_data_root
from deconstruct.effects.catalog import EFFECT_NAMES, total_params
from deconstruct.effects.chain import Chain
from deconstruct.errors import InputError
from deconstruct.files import atomic_path
from deconstruct.models.checkpoint import save_checkpoint
from deconstruct.models.effect_nets import FEATURE_KEYS, build_effect_net

__all__ = [
    "AnalysisExamples",
    "CosineSchedule",
    "DryPool",
    "FeatureBank",
    "analysis_loss",
    "build_examples",
    "bank_root",
    "build_shard",
    "evaluate_outputs",
    "freeze_except",
    "initialise",
    "make_task",
    "model_config",
    "predict",
    "shard_path",
    "train",
]

SYNTHETIC_STEMS = ("vocals", "drums", "bass", "piano", "keys", "guitar", "strings", "brass", "winds", "synth",
                   "other")
_SILENT_RMS = 1e-4


# --- dry sources ----------------------------------------------------------------------------------------------


def recording_groups(spec: dict[str, Any]) -> list[list[Path]]:
    """Groups of dry recordings: ``{"folders": [...]}`` (one group per folder) or the shared ``train`` split
    (one group per split entry), filtered by file name with ``include`` / ``exclude``."""
    if spec.get("folders"):
        groups = [list_audio_files(folder) for folder in spec["folders"]]
    elif shared_data_root() is not None:
        groups = train_dry_groups()
    else:
        groups = []
    include, exclude = set(spec.get("include") or ()), set(spec.get("exclude") or ())
    kept = [[f for f in group if (not include or f.name in include) and f.name not in exclude] for group in groups]
    return [group for group in kept if group]


def render_stems(spec: dict[str, Any], seed: int, sample_rate: int) -> list[torch.Tensor]:
    """Dry mono stems of ``spec["items"]`` synthetic multitracks (silent stems dropped), float16 ``[samples]``."""
    from deconstruct.data.rendering.multitrack import SyntheticMultitracks

    multitracks = SyntheticMultitracks(seed=seed, num_items=int(spec["items"]), duration_s=float(spec["duration_s"]),
                                       stems=tuple(spec.get("stems", SYNTHETIC_STEMS)), sample_rate=sample_rate,
                                       **spec.get("options", {}))
    stems = []
    for index in range(len(multitracks)):
        for audio in multitracks.item(index).dry.values():
            mono = audio.mean(dim=0)
            if float(mono.square().mean().sqrt()) > _SILENT_RMS:
                stems.append(mono.half())
    return stems


class DryPool:
    """A dry source (``source(seed) -> Audio``) drawing recording excerpts and synthetic stems.

    Args:
        groups: recordings, grouped (a group is drawn uniformly, then a file in it); read in excerpts.
        stems: synthetic dry stems ``[samples]`` at ``sample_rate``.
        sample_rate: rate of ``stems``, Hz.
        recording_share: probability of drawing a recording when both kinds exist.
        excerpt_s: length of the excerpt returned (the dataset then picks its window inside it).
    """

    def __init__(self, groups: Sequence[Sequence[Path]], stems: Sequence[torch.Tensor], sample_rate: int,
                 recording_share: float = 0.5, excerpt_s: float = 6.0) -> None:
        if not groups and not stems:
            raise InputError("no dry sources: give recordings or synthetic stems")
        self.groups, self.stems = [list(g) for g in groups], list(stems)
        self.sample_rate, self.share, self.excerpt_s = int(sample_rate), float(recording_share), float(excerpt_s)

    def __call__(self, seed: int) -> Audio:
        rng = np.random.default_rng(seed)
        if self.groups and (not self.stems or rng.random() < self.share):
            group = self.groups[int(rng.integers(len(self.groups)))]
            return self._excerpt(group[int(rng.integers(len(group)))], rng)
        stem = self.stems[int(rng.integers(len(self.stems)))]
        length = round(self.excerpt_s * self.sample_rate)
        start = int(rng.integers(max(1, stem.shape[0] - length + 1)))
        return Audio(stem[start:start + length].float()[None], self.sample_rate)

    def _excerpt(self, path: Path, rng: np.random.Generator) -> Audio:
        info = sf.info(str(path))
        length = round(self.excerpt_s * info.samplerate)
        start = int(rng.integers(max(1, info.frames - length + 1)))
        data, rate = sf.read(str(path), start=start, frames=length, dtype="float32", always_2d=True)
        return Audio(torch.from_numpy(np.ascontiguousarray(data.T)).mean(dim=0, keepdim=True), int(rate))


# --- examples -------------------------------------------------------------------------------------------------


class AnalysisExamples(Dataset):
    """Effect-augmented mono windows at the model's rate with classification and parameter targets.

    Each item is rendered at a rate drawn (deterministically) from ``render_rates`` and resampled to
    ``sample_rate``.

    Args:
        source: the dry source.
        rir_files: room impulse responses for convolution reverb.
        sample_rate: model rate, Hz.
        window_s: window length, s.
        length: number of items.
        seed: item ``i`` depends only on ``(seed, i)``.
        render_rates: rates the chains are rendered at, drawn uniformly per item (repeat a rate to weight it).
        effected: further :class:`EffectedDataset` settings (``max_effects``, ``level_db``, ...).

    Items:
        ``audio`` float32 ``[window samples]``; ``labels`` ``[effects]``; ``targets``, ``mask``
        ``[len(output_names())]``; ``chain`` (JSON).
    """

    def __init__(self, source: Any, *, rir_files: Sequence[str | Path], sample_rate: int, window_s: float,
                 length: int, seed: int, render_rates: Sequence[int] = (44100,), **effected: Any) -> None:
        self.sample_rate, self.samples = int(sample_rate), round(window_s * sample_rate)
        self.seed, self.length = int(seed), int(length)
        self.render_rates = [int(r) for r in render_rates]
        self.sets = {rate: EffectedDataset(source, rir_files=list(rir_files), sample_rate=rate, duration_s=window_s,
                                           channels=1, length=length, seed=seed, **effected)
                     for rate in sorted(set(self.render_rates))}

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict[str, Any]:
        rate = self.render_rates[int(np.random.default_rng([self.seed, 97, index]).integers(len(self.render_rates)))]
        item = self.sets[rate][index]
        audio = resample(item["wet"][0], rate, self.sample_rate)
        audio = nn.functional.pad(audio, (0, max(0, self.samples - audio.shape[0])))[: self.samples]
        targets, mask = targets_from_chain(Chain.from_dict(json.loads(item["chain"])))
        return {"audio": audio.contiguous(), "labels": item["labels"], "targets": torch.from_numpy(targets),
                "mask": torch.from_numpy(mask), "chain": item["chain"]}


def build_examples(config: dict[str, Any], part: str, shard: int = 0) -> AnalysisExamples:
    """The examples of one shard of a data part (``train`` or ``valid``) of a config."""
    data, spec = config["data"], config["data"][part]
    features = FeatureConfig(**config.get("features", {}))
    seed = int(spec["seed"]) * 1000 + int(shard)
    shards = int(spec.get("shards", 1))
    recordings = spec.get("recordings") or {}
    groups = recording_groups(recordings) if float(recordings.get("share", 0.0)) > 0 else []
    synthetic = spec.get("synthetic")
    stems = render_stems(synthetic, seed, features.sample_rate) if synthetic else []
    source = DryPool(groups, stems, features.sample_rate, float(recordings.get("share", 0.0)),
                     float(data.get("excerpt_s", 2 * features.window_s)))
    rir_files = data.get("rir_files", "train")
    if rir_files == "train":  # the shared data set's train rooms, when it is there
        rir_files = train_rir_files() if shared_data_root() is not None else []
    effected = {key: data[key] for key in ("max_effects", "min_effects", "convolution_probability") if key in data}
    if "level_db" in data:
        effected["level_db"] = tuple(data["level_db"])
    return AnalysisExamples(source, rir_files=rir_files, sample_rate=features.sample_rate,
                            window_s=features.window_s, length=math.ceil(int(spec["items"]) / shards), seed=seed,
                            render_rates=data.get("render_rates", [features.sample_rate]), **effected)


# --- feature bank ---------------------------------------------------------------------------------------------


def build_shard(config: dict[str, Any], part: str, shard: int, path: str | Path, batch_size: int = 16,
                progress: bool = False) -> Path:
    """Render one shard of examples, compute their feature views and save them (float16) to ``path``."""
    examples = build_examples(config, part, shard)
    features = EffectFeatures(FeatureConfig(**config.get("features", {})))
    columns: dict[str, list[torch.Tensor]] = {key: [] for key in (*FEATURE_KEYS, "labels", "targets", "mask")}
    started = time.time()
    for start in range(0, len(examples), batch_size):
        items = [examples[i] for i in range(start, min(start + batch_size, len(examples)))]
        with torch.no_grad():
            views = features(torch.stack([item["audio"] for item in items]))
        for key in FEATURE_KEYS:
            columns[key].append(views[key].half())
        for key in ("labels", "targets", "mask"):
            columns[key].append(torch.stack([item[key] for item in items]))
        if progress and (start // batch_size) % 50 == 49:
            print(f"{part} shard {shard}: {start + len(items)}/{len(examples)} ({time.time() - started:.0f} s)",
                  flush=True)
    bank = {key: torch.cat(values) for key, values in columns.items()}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as partial:
        torch.save(bank, partial)
    return path


def bank_folder(config: dict[str, Any], root: str | Path) -> Path:
    """``root/<hash>``: the hash covers the feature and data settings, so a changed setting never reuses a bank
    built with the old one (shard files of the same size and index are shared between runs that agree)."""
    data = {k: v for k, v in config["data"].items() if k not in ("bank_dir", "cache", "separated")}
    for part in ("train", "valid"):
        data[part] = {k: v for k, v in data[part].items() if k not in ("items", "shards")}
    key = json.dumps({"features": config.get("features", {}), "data": data}, sort_keys=True, default=str)
    return Path(root) / hashlib.sha256(key.encode()).hexdigest()[:12]


def shard_path(config: dict[str, Any], root: str | Path, part: str, shard: int) -> Path:
    """Where shard ``shard`` of a data part is stored (its item count is in the name)."""
    spec = config["data"][part]
    length = math.ceil(int(spec["items"]) / int(spec.get("shards", 1)))
    return bank_folder(config, root) / f"{part}-{shard:03d}-n{length}.pt"


class FeatureBank(Dataset):
    """The saved feature views and targets of one or more shards, as a dataset of dicts (views in float32).

    Args:
        paths: shard files written by :func:`build_shard`.
    """

    def __init__(self, paths: Sequence[str | Path]) -> None:
        shards = [torch.load(p, map_location="cpu", weights_only=True) for p in paths]
        self.columns = {key: torch.cat([s[key] for s in shards]) for key in shards[0]}

    def __len__(self) -> int:
        return int(self.columns["labels"].shape[0])

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {key: value[index].float() for key, value in self.columns.items()}


def bank_root(config: dict[str, Any], out_dir: str | Path) -> Path:
    """The folder holding a run's feature banks: ``data.bank_dir``, else ``out_dir/bank``."""
    return Path(config["data"].get("bank_dir") or Path(out_dir) / "bank")


def prepare_bank(config: dict[str, Any], part: str, root: str | Path, progress: bool = False) -> FeatureBank:
    """The feature bank of a data part, building the shards that are not on disk yet."""
    shards = int(config["data"][part].get("shards", 1))
    paths = [shard_path(config, root, part, k) for k in range(shards)]
    for shard, path in enumerate(paths):
        if not path.is_file():
            build_shard(config, part, shard, path, progress=progress)
    return FeatureBank(paths)


# --- model, loss, task ----------------------------------------------------------------------------------------


def model_config(config: dict[str, Any]) -> dict[str, Any]:
    """The checkpoint config of a run: architecture, feature settings, output layout and inference settings."""
    features = FeatureConfig(**config.get("features", {}))
    views = {"n_mels": features.n_mels, "lag_bins": features.lag_bins, "mod_bands": features.mod_bands,
             "mod_bins": features.mod_bins, "echo_bins": features.echo_bins, "num_stats": NUM_STATS}
    return {
        "stage": "analysis",
        "architecture": config["model"].get("architecture", "effect_cnn"),
        "arch_kwargs": {**views, **config["model"].get("arch_kwargs", {})},
        "effects": list(EFFECT_NAMES),
        "param_names": output_names(),
        "features": features.to_dict(),
        "sample_rate": features.sample_rate,
        "channels": 1,
        "hop_s": float(config["model"].get("hop_s", features.window_s / 2)),
    }


def analysis_loss(outputs: dict[str, torch.Tensor], batch: dict[str, torch.Tensor], param_weight: float = 2.0,
                  class_weight: float = 1.0) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """``class_weight`` times the binary cross-entropy of the effect logits plus ``param_weight`` times the masked
    L1 distance of the normalised parameters (only where the mask is 1).

    Shape:
        outputs: ``logits [B, effects]``, ``params [B, P]``; batch: ``labels``, ``targets``, ``mask`` alike.
    """
    bce = nn.functional.binary_cross_entropy_with_logits(outputs["logits"], batch["labels"])
    mask = batch["mask"]
    l1 = ((outputs["params"] - batch["targets"]).abs() * mask).sum() / mask.sum().clamp_min(1.0)
    return class_weight * bce + param_weight * l1, {"bce": bce.detach(), "param_l1": l1.detach()}


def initialise(net: nn.Module, model: dict[str, Any]) -> None:
    """Load ``model.init_from`` (an analysis checkpoint name or path) into ``net`` (strict), when set."""
    if model.get("init_from"):
        from deconstruct.models.registry import resolve

        net.load_state_dict(resolve("analysis", model["init_from"]).state_dict, strict=True)


def freeze_except(net: nn.Module, trainable: Sequence[str] | None) -> list[nn.Module]:
    """Freeze every top-level submodule of ``net`` not named in ``trainable`` (all train when ``None``).

    Returns:
        The frozen submodules (keep them in eval mode while training, so their batch statistics stay put).

    Raises:
        ValueError: a name that is not a submodule.
    """
    if not trainable:
        return []
    children = dict(net.named_children())
    unknown = set(trainable) - set(children)
    if unknown:
        raise ValueError(f"train.trainable names unknown parts {sorted(unknown)}; the network has {sorted(children)}")
    frozen = [module for name, module in children.items() if name not in trainable]
    for module in frozen:
        module.requires_grad_(False)
    return frozen


class CosineSchedule:
    """Learning-rate factor: linear warm-up over 3 % of the run, then a cosine to 0.

    The run's progress is the larger of the step fraction and, when ``max_minutes`` is set, the elapsed fraction
    of that wall-time budget, so a run cut by its time limit still ends annealed (the schedule then depends on
    the machine's speed).
    """

    def __init__(self, max_steps: int, max_minutes: float | None = None) -> None:
        self.max_steps, self.max_s = max(1, int(max_steps)), float(max_minutes) * 60 if max_minutes else None
        self.started: float | None = None

    def progress(self, step: int) -> float:
        if self.started is None:
            self.started = time.monotonic()
        fraction = step / self.max_steps
        if self.max_s:
            fraction = max(fraction, (time.monotonic() - self.started) / self.max_s)
        return min(fraction, 1.0)

    def __call__(self, step: int) -> float:
        progress = self.progress(step)
        return min(1.0, (progress + 1e-9) / 0.03) * 0.5 * (1.0 + math.cos(math.pi * progress))


def make_task(config: dict[str, Any]):
    """The Lightning module of a run (built lazily so the library does not import Lightning)."""
    import lightning as L

    train_cfg = config["train"]

    class AnalysisTask(L.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net = build_effect_net(model_config(config))
            initialise(self.net, config["model"])
            self.frozen = freeze_except(self.net, train_cfg.get("trainable"))
            self.features = EffectFeatures(FeatureConfig(**config.get("features", {})))

        def on_train_epoch_start(self) -> None:
            for module in self.frozen:
                module.eval()

        def views(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
            if "audio" in batch:  # examples rendered on the fly
                with torch.no_grad():
                    return self.features(batch["audio"])
            return {key: batch[key] for key in FEATURE_KEYS}

        def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
            loss, parts = analysis_loss(self.net(self.views(batch)), batch, float(train_cfg.get("param_weight", 2.0)),
                                        float(train_cfg.get("class_weight", 1.0)))
            self.log("train/loss", loss, prog_bar=True)
            self.log_dict({f"train/{k}": v for k, v in parts.items()})
            return loss

        def on_validation_epoch_start(self) -> None:
            self._outputs: list[tuple[torch.Tensor, ...]] = []

        def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
            """Probabilities and parameters of a validation batch, kept for threshold tuning."""
            out = self.net(self.views(batch))
            self._outputs.append((torch.sigmoid(out["logits"].float()), out["params"].float(),
                                  batch["labels"].float(), batch["targets"].float(), batch["mask"].float()))

        def on_validation_epoch_end(self) -> None:
            """Gathers every rank's outputs: ``validation_outputs`` = probabilities, params, labels, targets,
            mask as numpy arrays (rows: items)."""
            columns = [torch.cat(parts) for parts in zip(*self._outputs)]
            if self.trainer.world_size > 1:
                columns = [self.all_gather(c).flatten(0, 1) for c in columns]
            self.validation_outputs = tuple(c.cpu().numpy() for c in columns)

        def configure_optimizers(self):
            trainable = [p for p in self.parameters() if p.requires_grad]
            optimizer = torch.optim.AdamW(trainable, lr=float(train_cfg["lr"]),
                                          weight_decay=float(train_cfg.get("weight_decay", 0.0)))
            schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, CosineSchedule(int(train_cfg["max_steps"]),
                                                                                   train_cfg.get("max_minutes")))
            return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}

    return AnalysisTask()


# --- validation -----------------------------------------------------------------------------------------------


@torch.no_grad()
def predict(net: nn.Module, bank: FeatureBank, batch_size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities ``[items, effects]`` and normalised parameters ``[items, P]`` of a feature bank."""
    net.eval()
    probabilities, params = [], []
    for batch in DataLoader(bank, batch_size=batch_size):
        out = net({key: batch[key] for key in FEATURE_KEYS})
        probabilities.append(torch.sigmoid(out["logits"]).numpy())
        params.append(out["params"].numpy())
    return np.concatenate(probabilities), np.concatenate(params)


def evaluate_outputs(probabilities: np.ndarray, params: np.ndarray, labels: np.ndarray, targets: np.ndarray,
                     mask: np.ndarray, thresholds: dict[str, float]) -> dict[str, Any]:
    """Macro-F1 and per-effect scores at 0.5 and at ``thresholds``, and the normalised parameter MAE."""
    fixed = detection_scores(probabilities >= 0.5, labels, EFFECT_NAMES)
    limits = np.array([thresholds[name] for name in EFFECT_NAMES])
    tuned = detection_scores(probabilities >= limits, labels, EFFECT_NAMES)
    mae = masked_mae(params, targets, mask)
    names = output_names()
    return {
        "items": int(labels.shape[0]),
        "macro_f1@0.5": round(macro_f1(fixed), 4),
        "macro_f1@tuned": round(macro_f1(tuned), 4),
        "f1@0.5": {name: round(s["f1"], 4) for name, s in fixed.items()},
        "f1@tuned": {name: round(s["f1"], 4) for name, s in tuned.items()},
        "param_mae_normalised": round(float(np.nanmean(mae[: total_params()])), 4),
        "param_mae_normalised_per_param": {n: round(float(m), 4) for n, m in zip(names, mae) if np.isfinite(m)},
    }


# --- the run --------------------------------------------------------------------------------------------------


def train(config: dict[str, Any], out_dir: str | Path, commit: str = "unknown",
          progress: bool = False) -> Path | None:
    """Train an analysis model from a config, tune its thresholds on the validation part, export a checkpoint.

    Returns:
        The exported checkpoint path (``out_dir / config["output"]["export"]``).
    """
    import lightning as L

    train_cfg, out_dir = config["train"], Path(out_dir)
    if train_cfg.get("threads"):
        torch.set_num_threads(int(train_cfg["threads"]))
    L.seed_everything(int(config["seed"]), workers=True)
    bank_dir = bank_root(config, out_dir)
    started = time.time()
    if config["data"].get("cache", True):  # CPU runs: feature banks on disk
        valid: Dataset = prepare_bank(config, "valid", bank_dir, progress)
        dataset: Dataset = prepare_bank(config, "train", bank_dir, progress)
    else:  # accelerator runs: both parts rendered on the fly in loader workers, features on the accelerator
        valid = build_examples(config, "valid")
        dataset = build_examples(config, "train")
    separated = _separated_parts(config, progress)
    if separated:
        dataset = ConcatDataset([dataset, separated["train"]])
    data_s = time.time() - started
    workers = int(train_cfg.get("num_workers", 0))
    loader = DataLoader(dataset, batch_size=int(train_cfg["batch_size"]), shuffle=True, drop_last=True,
                        num_workers=workers, persistent_workers=workers > 0,
                        collate_fn=_collate)
    task = make_task(config)
    from deconstruct.train.runtime import fit, is_rank_zero, make_trainer

    trainer = make_trainer({"log_every": 25, **train_cfg}, out_dir)
    started = time.time()
    fit(trainer, task, loader, out_dir)
    train_s = time.time() - started
    valid_loader = DataLoader(valid, batch_size=int(train_cfg["batch_size"]), num_workers=workers,
                              collate_fn=_collate)
    trainer.validate(task, valid_loader, verbose=False)  # on the accelerator, every rank its share
    if not is_rank_zero():  # only rank zero tunes thresholds and exports
        return None
    net = task.net.cpu()
    probabilities, params, labels, targets, mask = task.validation_outputs
    thresholds = tune_thresholds(probabilities, labels, EFFECT_NAMES)
    metrics = {
        "validation": evaluate_outputs(probabilities, params, labels, targets, mask, thresholds),
        "training": {"config": config, "commit": commit, "steps": int(trainer.global_step),
                     "train_minutes": round(train_s / 60, 2), "data_minutes": round(data_s / 60, 2),
                     "threads": torch.get_num_threads(), "train_items": len(dataset)},
    }
    export = config["output"]
    checkpoint_config = dict(model_config(config), thresholds=thresholds,
                             threshold_source="F1-optimal per effect on the training-side validation part")
    if separated:  # calibration and precision thresholds on held-out separated stems replace the F1-tuned ones
        from deconstruct.train.calibrate import calibrated_config

        update, metrics["separated_validation"] = calibrated_config(net, separated["valid"], config.get("calibration"))
        checkpoint_config.update(update)
    return save_checkpoint(out_dir / export["export"], export.get("name", config["name"]), checkpoint_config,
                           net.state_dict(), metrics, half=bool(export.get("half", False)))


def _separated_parts(config: dict[str, Any], progress: bool) -> dict[str, Dataset]:
    """The separated-stem material (``data.separated``) of a run, ``train`` and ``valid``, or ``{}`` without one.
    ``data.separated.wait_for_build: false`` trains on the shards already built."""
    section = config["data"].get("separated")
    if not section:
        return {}
    from deconstruct.data.datasets.separated import prepare_material

    root, build = section.get("cache_dir", "cache/separated-analysis"), bool(section.get("wait_for_build", True))
    return {part: prepare_material(config, part, root, progress, build=build) for part in ("valid", "train")}


def _collate(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Stack tensors; keep other fields (the chain JSON) as lists."""
    return {key: torch.stack([item[key] for item in items]) if isinstance(items[0][key], torch.Tensor)
            else [item[key] for item in items] for key in items[0]}
