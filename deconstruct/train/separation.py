"""Training of separation models: data from a YAML config, a Lightning module, export to a checkpoint.

The YAML is the single source of truth for a run (see ``recipes/separation/*.yaml``). Lightning is imported
here only: the inference path never needs it.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import ConcatDataset, DataLoader, Dataset

from deconstruct.metrics import global_sdr
from deconstruct.models.checkpoint import save_checkpoint
from deconstruct.models.separation_nets import SoftmaskSeparator, build_separation_net


def build_source(spec: dict[str, Any], stems: list[str], sample_rate: int, segment_s: float, seed: int,
                 items: int) -> Dataset:
    """One data source of a config, yielding ``dict[stem, Tensor[2, segment]]`` items.

    Kinds: ``synthetic`` (the data engine's rendered multitracks; with ``cache_dir`` rendered once to disk and read
    back with random segments), ``folder`` (a folder of stems, MUSDB18-HQ layout) or ``musdb`` (``.stem.mp4`` files).
    """
    from deconstruct.data.datasets.stems_dataset import FolderOfStems, MUSDBStems

    kind = spec["kind"]
    if kind == "synthetic":
        from deconstruct.data.rendering.multitrack import SyntheticMultitracks

        engine = SyntheticMultitracks(seed=int(spec["seed"]), num_items=int(spec["num_items"]),
                                      duration_s=float(spec["duration_s"]) if spec.get("cache_dir") else segment_s,
                                      stems=tuple(stems),
                                      sample_rate=sample_rate, **spec.get("options", {}))
        if not spec.get("cache_dir"):
            return engine
        from deconstruct.data.datasets.cache import write_cache

        root = write_cache(engine, spec["cache_dir"], resume=True, num_workers=int(spec.get("cache_workers", 0)),
                           progress=True)
        return FolderOfStems(root, stems, segment_s, sample_rate, items_per_epoch=items, seed=seed)
    if kind == "folder":
        return FolderOfStems(spec["root"], stems, segment_s, sample_rate, items_per_epoch=items, seed=seed)
    if kind == "musdb":
        return MUSDBStems(spec["root"], subset=spec.get("subset", "train"), stems=stems, segment_s=segment_s,
                          sample_rate=sample_rate, items_per_epoch=items, seed=seed)
    raise ValueError(f"unknown data source kind {kind!r}; use synthetic, folder or musdb")


class Collate:
    """Stack ``dict[stem, Tensor[2, T]]`` items into ``[B, S, 2, T]`` with optional augmentation.

    Per item: gain, channel swap and sign flip per stem (:func:`deconstruct.data.datasets.augment.default_augmentation`)
    and, with ``effects`` (``{probability, max_effects}``), a random catalog effect chain on each stem with that
    probability (real mixes carry processed stems: distorted guitars, reverberant vocals...), rendered with
    pedalboard; convolution reverb uses only the ``train`` room responses. Per batch: stems remixed across songs
    (:func:`deconstruct.data.datasets.augment.remix_batch`).
    """

    def __init__(self, stems: list[str], augment: bool, remix: bool, seed: int,
                 effects: dict[str, Any] | None = None, sample_rate: int = 44100) -> None:
        self.stems, self.augment, self.remix, self.seed, self.calls = stems, augment, remix, seed, 0
        self.effects, self.sample_rate = effects, sample_rate

    def __call__(self, items: list[dict[str, torch.Tensor]]) -> torch.Tensor:
        import numpy as np

        from deconstruct.data.datasets.augment import default_augmentation, remix_batch

        worker = torch.utils.data.get_worker_info()
        rng = np.random.default_rng([self.seed, worker.id if worker else 0, self.calls])
        self.calls += 1
        if self.augment:
            augment = default_augmentation()
            items = [augment(item, rng) for item in items]
        if self.effects:
            items = [{name: self._effect(audio, rng) for name, audio in item.items()} for item in items]
        batch = {stem: torch.stack([item[stem] for item in items]) for stem in self.stems}
        if self.remix:
            batch = remix_batch(batch, rng)
        return torch.stack([batch[stem] for stem in self.stems], dim=1)

    def _effect(self, audio: torch.Tensor, rng) -> torch.Tensor:
        from deconstruct.data.datasets.effected import train_rir_files
        from deconstruct.effects.chain import sample_chain
        from deconstruct.effects.render import render_chain

        if rng.random() >= float(self.effects.get("probability", 0.5)) or not bool(audio.abs().max() > 0):
            return audio
        chain = sample_chain(rng, int(self.effects.get("max_effects", 2)), 1,
                             rir_files=tuple(str(f) for f in train_rir_files()))
        wet = torch.as_tensor(render_chain(audio, self.sample_rate, chain))[..., :audio.shape[-1]]
        return wet if bool(torch.isfinite(wet).all()) else audio


def separation_loss(net: nn.Module, mixture: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Per-item normalised L1 distance of the estimated stems to the targets.

    For :class:`SoftmaskSeparator` the distance is the phase-sensitive spectrum approximation (Erdogan et al., ICASSP
    2015): ``|M |X| - |S| cos(angle S - angle X)|``, the error of a mask applied with the mixture's phase, projected
    on that phase. It needs no inverse transform and only real arithmetic with gradients, several times cheaper
    than a complex-domain loss. Waveform models use a sample-domain L1. Each item is normalised by its mixture's
    mean magnitude, so quiet and loud songs weigh alike.

    Shape:
        mixture: ``[B, C, T]``; targets: ``[B, S, C, T]``.
    """
    if isinstance(net, SoftmaskSeparator):
        with torch.no_grad():
            spec = net.stft(mixture)  # [B, C, F, N]
            magnitude = spec.abs()
            target = net.stft(targets.flatten(0, 1)).reshape(*targets.shape[:3], *spec.shape[-2:])
            phase_sensitive = (target * spec.conj().unsqueeze(1)).real / magnitude.unsqueeze(1).clamp_min(1e-8)
            scale = magnitude.mean(dim=(1, 2, 3)).clamp_min(1e-6)
        estimate = net.masks(spec) * magnitude.unsqueeze(1)
        return ((estimate - phase_sensitive).abs().mean(dim=(1, 2, 3, 4)) / scale).mean()
    estimate = net(mixture)
    scale = mixture.abs().mean(dim=(1, 2)).clamp_min(1e-6)
    return ((estimate - targets).abs().mean(dim=(1, 2, 3)) / scale).mean()


def make_task(config: dict[str, Any]):
    """The Lightning module of a run (built lazily so the library does not import Lightning)."""
    import lightning as L

    class SeparationTask(L.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net = build_separation_net(config["model"])
            self.stems = list(config["model"]["stems"])

        def training_step(self, batch: torch.Tensor, batch_idx: int) -> torch.Tensor:
            loss = separation_loss(self.net, batch.sum(1), batch)
            self.log("train/loss", loss, prog_bar=True)
            return loss

        def validation_step(self, batch: torch.Tensor, batch_idx: int) -> None:
            mixture = batch.sum(1)
            estimate = self.net(mixture)
            baseline = mixture.unsqueeze(1).expand_as(batch) / len(self.stems)
            gains = (global_sdr(batch, estimate) - global_sdr(batch, baseline)).mean(0).float()
            self.log("valid/loss", separation_loss(self.net, mixture, batch), prog_bar=True)
            self.log("valid/sdr_gain_db", gains.mean(), prog_bar=True)
            for name, gain in zip(self.stems, gains):
                self.log(f"valid/sdr_gain_db/{name}", gain)

        def configure_optimizers(self):
            train = config["train"]
            optimizer = torch.optim.AdamW(self.parameters(), lr=float(train["lr"]),
                                          weight_decay=float(train.get("weight_decay", 0.0)))
            steps = int(train["max_steps"])
            warmup = max(1, int(0.03 * steps))
            schedule = torch.optim.lr_scheduler.LambdaLR(
                optimizer, lambda step: min(1.0, (step + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(step, steps) / steps)))
            return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}

    return SeparationTask()


def _loader(config: dict[str, Any], part: str, items: int, seed: int, shuffle: bool) -> DataLoader:
    model, data, train = config["model"], config["data"], config["train"]
    stems, sample_rate = list(model["stems"]), int(model["sample_rate"])
    segment_s = float(data["segment_s"])
    sources = [build_source(spec, stems, sample_rate, segment_s, seed + k, items) for k, spec in enumerate(data[part])]
    dataset = sources[0] if len(sources) == 1 else ConcatDataset(sources)
    augment = data.get("augment", {}) if shuffle else {}
    collate = Collate(stems, bool(augment.get("gain_swap_flip")), bool(augment.get("remix")), seed,
                      augment.get("effects"), sample_rate)
    workers = int(train.get("num_workers", 0))
    return DataLoader(dataset, batch_size=int(train["batch_size"]), shuffle=shuffle, num_workers=workers,
                      drop_last=shuffle, collate_fn=collate, persistent_workers=workers > 0)


def train(config: dict[str, Any], out_dir: str | Path, commit: str = "unknown") -> Path | None:
    """Train a separation model from a config and export a checkpoint.

    Checkpoints go to ``out_dir/checkpoints``; the same command resumes from ``last.ckpt``. ``train.max_minutes``
    caps the training time.

    Returns:
        the exported checkpoint path (``out_dir / config["output"]["export"]``); ``None`` on ranks other than zero.
    """
    import lightning as L

    L.seed_everything(int(config["seed"]), workers=True)
    out_dir = Path(out_dir)
    train_cfg = config["train"]
    steps, batch = int(train_cfg["max_steps"]), int(train_cfg["batch_size"])
    train_loader = _loader(config, "train", steps * batch, int(config["seed"]), shuffle=True)
    valid_loader = _loader(config, "valid", int(train_cfg.get("valid_items", 16)), 12345, shuffle=False)
    task = make_task(config)
    if config.get("init_from"):  # warm start (fine-tuning): same architecture, strict
        from deconstruct.models.registry import resolve

        task.net.load_state_dict(resolve("separation", config["init_from"]).state_dict, strict=True)
    from deconstruct.train.runtime import fit, is_rank_zero, make_trainer

    settings = {"val_every": steps, "progress_bar": True, **train_cfg}
    trainer = make_trainer(settings, out_dir, val_every=int(settings["val_every"]))
    fit(trainer, task, train_loader, out_dir, valid_loader)
    if not is_rank_zero():  # only rank zero exports
        return None
    metrics = {key: round(float(value), 4) for key, value in trainer.callback_metrics.items()}
    export = config["output"]
    model_config = dict(config["model"], stage="separation")
    return save_checkpoint(out_dir / export["export"], export.get("name", config["name"]), model_config,
                           task.net.state_dict(), {"synthetic_validation": metrics,
                                                   "training": {"config": config, "commit": commit}},
                           half=bool(export.get("half", False)))
