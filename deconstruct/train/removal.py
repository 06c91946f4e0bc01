"""Training of effect-removal networks and export of one removal checkpoint holding every effect's remover.

The YAML (``recipes/effect_removal/*.yaml``) is the single source of truth of a run. For every effect with a
``net`` entry, a network is trained on :class:`~deconstruct.data.datasets.effected.EffectedDataset` items in removal mode
(RemFX's FXAug: the effect among up to ``max_effects - 1`` earlier effects, target the same chain without it;
and items lacking the effect, target their input). Dry audio comes from the ``train`` recordings of the shared
``splits.json`` and, optionally, from soundfont-rendered stems of the synthetic multitrack engine.

After training, each network is checked on held-out training-side items (other seeds): it is shipped only when it
improves SI-SDR on items holding its effect by at least ``guard.min_gain_db`` and loses at most
``guard.max_harm_db`` on items lacking it. Otherwise the effect passes through (signal-processing inverses still
run when the model has them) and the checkpoint's metrics say why; every trained network is also saved alone as
``<effect>-network.pt`` in the run folder (a removal checkpoint of its own). Lightning is imported here only.

Loss (:class:`RemovalLoss`): negative SI-SDR plus auraloss's multi-resolution STFT loss (spectral convergence +
log magnitude at FFT sizes 512/1024/2048). RemFX trained with MR-STFT + L1; on our data that pair decreased
while SI-SDR got worse (a gain network fitting one batch: loss 7.9 → 5.8, SI-SDR 16.5 → 13.3 dB, where the
negative SI-SDR took it 16.5 → 26.6 dB in the same 50 steps), so the waveform term is SI-SDR itself: it is
phase-sensitive (a complex mask's phase is learned through it) and it is the measure reported. SI-SDR ignores
level, which later inverses in the chain need; the MR-STFT term keeps level and spectral balance.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from deconstruct.audio import Audio, load_audio
from deconstruct.data.datasets.effected import EffectedDataset, list_audio_files, multitrack_source, train_dry_groups
from deconstruct.effects.catalog import EFFECT_NAMES
from deconstruct.metrics.sdr import si_sdr
from deconstruct.models.checkpoint import save_checkpoint
from deconstruct.models.removal_nets import build_removal_net

__all__ = ["MixedDrySource", "RemovalLoss", "build_dry_source", "guard_metrics", "removal_dataset", "train"]


class MixedDrySource:
    """Dry audio for :class:`EffectedDataset`: ``train`` recordings and pre-rendered soundfont stems.

    Args:
        groups: groups of dry files (each group equally likely, then each file within it).
        clips: pre-rendered dry stems ``[channels, T]`` at ``sample_rate`` (silent ones are dropped).
        sample_rate: rate of ``clips``, Hz.
        clip_probability: probability of drawing a clip rather than a recording.

    ``source(seed) -> Audio`` is deterministic in ``seed``.
    """

    def __init__(self, groups: list[list[Path]], clips: list[torch.Tensor], sample_rate: int,
                 clip_probability: float) -> None:
        self.recordings = [[load_audio(path) for path in group] for group in groups]
        self.clips = [clip for clip in clips if float(clip.abs().max()) > 1e-4]
        self.sample_rate, self.clip_probability = int(sample_rate), float(clip_probability)
        if not self.recordings and not self.clips:
            raise ValueError("no dry audio: neither recordings nor rendered stems")

    def __call__(self, seed: int) -> Audio:
        rng = np.random.default_rng(seed)
        if self.clips and (not self.recordings or rng.random() < self.clip_probability):
            return Audio(self.clips[int(rng.integers(len(self.clips)))], self.sample_rate)
        group = self.recordings[int(rng.integers(len(self.recordings)))]
        return group[int(rng.integers(len(group)))]


def build_dry_source(data: dict[str, Any], sample_rate: int) -> MixedDrySource:
    """The dry source of a config's ``data`` section.

    Keys: ``recordings`` (default true: the ``train`` recordings of the shared ``splits.json``), ``folders``
    (more folders of dry recordings, each file one group), ``multitrack`` (``{seed, num_items, duration_s,
    probability}``: soundfont-rendered stems, drawn with that probability).
    """
    clips: list[torch.Tensor] = []
    multitrack = data.get("multitrack")
    if multitrack and int(multitrack.get("num_items", 0)) > 0:
        from deconstruct.data.rendering.multitrack import SyntheticMultitracks

        tracks = SyntheticMultitracks(seed=int(multitrack["seed"]), num_items=int(multitrack["num_items"]),
                                      duration_s=float(multitrack["duration_s"]), sample_rate=sample_rate)
        source = multitrack_source(tracks)
        stems = len(tracks.stems)
        clips = [source(i).samples for i in range(len(tracks) * stems)]
    groups = train_dry_groups() if data.get("recordings", True) else []
    groups += [[path] for folder in data.get("folders", []) for path in list_audio_files(folder)]
    return MixedDrySource(groups, clips, sample_rate, float((multitrack or {}).get("probability", 0.0)))


def removal_dataset(config: dict[str, Any], effect: str, source: MixedDrySource, length: int,
                    seed: int, rir_files: list[str] | None = None) -> EffectedDataset:
    """FXAug removal items for ``effect`` (see the module docstring); ``effects.<effect>.data`` overrides
    ``data`` for that effect (``max_effects``, ``remove_probability``, ``convolution_probability``)."""
    data = {**config["data"], **config["effects"].get(effect, {}).get("data", {})}
    return EffectedDataset(
        source, rir_files=rir_files, sample_rate=int(config["sample_rate"]), duration_s=float(data["duration_s"]),
        channels=1, length=length, seed=seed, max_effects=int(data.get("max_effects", 3)), remove=effect,
        remove_probability=float(data.get("remove_probability", 0.5)),
        convolution_probability=float(data.get("convolution_probability", 0.5)),
        level_db=tuple(data.get("level_db", (-24.0, -12.0))),
    )


class RemovalLoss(nn.Module):
    """``sdr_weight`` · (-SI-SDR / 10 dB, capped) + ``stft_weight`` · MR-STFT + ``l1_weight`` · normalised L1.

    Args:
        sdr_weight: weight of the negative SI-SDR (in units of 10 dB), capped at ``sdr_cap_db`` per item so items
            lacking the effect (target = input, SI-SDR → ∞ near the identity) do not dominate.
        stft_weight: weight of auraloss's multi-resolution STFT loss (spectral convergence + log magnitude).
        l1_weight: weight of the waveform L1 distance divided by the target's mean magnitude.
        sdr_cap_db: SI-SDR above which an item contributes no gradient.
        fft_sizes: the STFT resolutions (hop = size / 4, Hann windows of the FFT size).

    Shape:
        estimate, target: ``[B, C, T]`` → scalar.
    """

    def __init__(self, sdr_weight: float = 1.0, stft_weight: float = 1.0, l1_weight: float = 0.0,
                 sdr_cap_db: float = 40.0, fft_sizes: tuple[int, ...] = (512, 1024, 2048)) -> None:
        super().__init__()
        from auraloss.freq import MultiResolutionSTFTLoss

        self.stft = MultiResolutionSTFTLoss(fft_sizes=list(fft_sizes), hop_sizes=[n // 4 for n in fft_sizes],
                                            win_lengths=list(fft_sizes))
        self.sdr_weight, self.stft_weight, self.l1_weight = float(sdr_weight), float(stft_weight), float(l1_weight)
        self.sdr_cap_db = float(sdr_cap_db)

    def forward(self, estimate: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        total = self.stft_weight * self.stft(estimate, target)
        if self.sdr_weight:
            sdr = si_sdr(target, estimate).clamp(max=self.sdr_cap_db).to(estimate.dtype)
            total = total - self.sdr_weight * sdr.mean() / 10.0
        if self.l1_weight:
            scale = target.abs().mean(dim=(1, 2), keepdim=True).clamp_min(1e-5)
            total = total + self.l1_weight * ((estimate - target).abs() / scale).mean()
        return total


@torch.no_grad()
def guard_metrics(net: nn.Module, dataset: EffectedDataset, effect: str) -> dict[str, float]:
    """SI-SDR (dB) of inputs and outputs on items holding and lacking ``effect``.

    Items holding the effect are scored against their target (the chain without it): ``gain_db`` is the mean
    improvement. Items lacking it but holding other effects are scored against the dry source: ``lacks_harm_db``
    is the mean SI-SDR lost (what a wrong detection costs). Items with no effect at all give
    ``dry_fidelity_db``, the mean SI-SDR of the output against the untouched input.
    """
    net.eval()
    holds, lacks, clean = [], [], []
    for index in range(len(dataset)):
        item = dataset[index]
        names = [e["name"] for e in json.loads(item["chain"])]
        wet = item["wet"]
        out = net(wet[None])[0]
        if effect in names:
            target = item["target"]
            holds.append((float(si_sdr(target, wet).mean()), float(si_sdr(target, out).mean())))
        elif names:
            dry = item["dry"]
            lacks.append(float(si_sdr(dry, wet).mean()) - float(si_sdr(dry, out).mean()))
        else:
            clean.append(min(float(si_sdr(wet, out).mean()), 100.0))
    metrics: dict[str, float] = {"holds_items": len(holds), "lacks_items": len(lacks), "dry_items": len(clean)}
    if holds:
        array = np.array(holds)
        metrics.update(holds_input_db=float(array[:, 0].mean()), holds_output_db=float(array[:, 1].mean()),
                       gain_db=float((array[:, 1] - array[:, 0]).mean()))
    if lacks:
        metrics["lacks_harm_db"] = float(np.mean(lacks))
    if clean:
        metrics["dry_fidelity_db"] = float(np.mean(clean))
    return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in metrics.items()}


def _holds(chains: list[str], effect: str) -> torch.Tensor:
    """Which items of a batch hold ``effect`` (from their chain JSON)."""
    return torch.tensor([effect in [e["name"] for e in json.loads(chain)] for chain in chains])


def _make_task(net: nn.Module, loss: nn.Module, effect: str, settings: dict[str, Any]):
    import lightning as L

    from deconstruct.train.runtime import cosine_factor

    class RemovalTask(L.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net, self.loss = net, loss

        def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
            estimate = self.net(batch["wet"])
            with torch.autocast(device_type=estimate.device.type, enabled=False):
                value = self.loss(estimate.float(), batch["target"].float())
            self.log("train/loss", value, prog_bar=True)
            return value

        def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
            """SI-SDR gain on items holding the effect and loss on items lacking it, on the training device."""
            wet, target = batch["wet"], batch["target"]
            with torch.autocast(device_type=wet.device.type, enabled=False):
                out = self.net(wet).float()
                holds = _holds(batch["chain"], effect).to(wet.device)
                before = si_sdr(target, wet).mean(-1).clamp(max=60.0)
                after = si_sdr(target, out).mean(-1).clamp(max=60.0)
            if bool(holds.any()):
                self.log("val/gain_db", (after - before)[holds].mean().float(), batch_size=int(holds.sum()),
                         sync_dist=True)
            if bool((~holds).any()):
                self.log("val/lacks_loss_db", (before - after)[~holds].mean().float(),
                         batch_size=int((~holds).sum()), sync_dist=True)

        def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
            timer = next((c for c in self.trainer.callbacks if type(c).__name__ == "Timer"), None)
            elapsed = timer.time_elapsed("train") if timer is not None else 0.0
            factor = cosine_factor(self.global_step, int(settings["max_steps"]), elapsed,
                                   60.0 * float(settings["max_minutes"]), int(settings.get("warmup_steps", 50)))
            for group in self.optimizers().param_groups:
                group["lr"] = float(settings["lr"]) * factor

        def configure_optimizers(self):
            return torch.optim.AdamW(self.net.parameters(), lr=float(settings["lr"]),
                                     weight_decay=float(settings.get("weight_decay", 0.0)))

    return RemovalTask()


def _collate(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Stack tensors; keep the chain JSON strings as a list."""
    return {key: torch.stack([item[key] for item in items]) if isinstance(items[0][key], torch.Tensor)
            else [item[key] for item in items] for key in items[0]}


def effect_settings(config: dict[str, Any], effect: str) -> dict[str, Any]:
    """The training settings of one effect: ``train`` overlaid with ``effects.<effect>.train``.

    Raises:
        ValueError: no ``max_minutes`` (every network's training is capped in wall-clock time).
    """
    settings = {**config.get("train", {}), **config["effects"][effect].get("train", {})}
    if not settings.get("max_minutes"):
        raise ValueError(f"effects.{effect}.train.max_minutes (or train.max_minutes) is required: every network's "
                         "training is capped in wall-clock time")
    return settings


def _train_one(config: dict[str, Any], effect: str, entry: dict[str, Any], source: MixedDrySource,
               rir_files: list[str], folder: Path) -> tuple[nn.Module, dict[str, Any], Any]:
    """Train (or resume training) one effect's network in ``folder``; returns the network, a training record and
    the trainer."""
    import lightning as L

    from deconstruct.train.runtime import fit, make_trainer, resumed_step

    settings = effect_settings(config, effect)
    seed = int(config["seed"]) + EFFECT_NAMES.index(effect)
    L.seed_everything(seed, workers=True)
    net = build_removal_net(entry["net"], int(config["sample_rate"]))
    steps, batch = int(settings["max_steps"]), int(settings["batch_size"])
    start = resumed_step(folder)  # a resumed run draws fresh items rather than repeating the first ones
    dataset = removal_dataset(config, effect, source, max(batch, (steps - start) * batch), seed + 7919 * start,
                              rir_files)
    workers = int(settings.get("num_workers", 0))
    loader = DataLoader(dataset, batch_size=batch, num_workers=workers, persistent_workers=False, collate_fn=_collate)
    valid = removal_dataset(config, effect, source, int(config["data"].get("valid_items", 32)),
                            int(config["seed"]) + 1000 + EFFECT_NAMES.index(effect), rir_files)
    val_loader = DataLoader(valid, batch_size=batch, collate_fn=_collate)
    task = _make_task(net, RemovalLoss(**config.get("loss", {})), effect, settings)
    trainer = make_trainer(settings, folder, val_every=settings.get("val_every"))
    started = time.monotonic()
    resumed = fit(trainer, task, loader, folder, val_loader if settings.get("val_every") else None)
    training = {"steps": int(trainer.global_step), "seconds_this_attempt": round(time.monotonic() - started, 1),
                "resumed_from_step": start if resumed else 0,
                "final_loss": round(float(trainer.callback_metrics.get("train/loss", float("nan"))), 4),
                "parameters": sum(p.numel() for p in net.parameters())}
    return net.cpu().eval(), training, trainer


def train(config: dict[str, Any], out_dir: str | Path, commit: str = "unknown",
          effects: list[str] | None = None) -> Path | None:
    """Train the configured removal networks (or only ``effects``), guard them, and export one removal checkpoint.

    Each network trains in ``out_dir/<effect>/`` with checkpoints there: run the same command again and it resumes
    (an effect whose ``<effect>-network.pt`` exists is done and is not trained again). Only rank zero guards and
    exports.

    Returns:
        The exported checkpoint (``out_dir / config["output"]["export"]``), ``None`` on other ranks.
    """
    threads = torch.get_num_threads()
    if config.get("threads"):
        torch.set_num_threads(int(config["threads"]))
    try:
        return _train_all(config, Path(out_dir), commit, effects)
    finally:
        torch.set_num_threads(threads)


def _rir_files(config: dict[str, Any], out_dir: Path) -> list[str]:
    """Rooms for convolution reverb: the ``train`` measured rooms, plus ``data.rooms.synthetic`` synthetic ones."""
    from deconstruct.data.datasets.effected import train_rir_files

    files = [str(f) for f in train_rir_files()] if config["data"].get("recordings", True) else []
    rooms = config["data"].get("rooms") or {}
    if int(rooms.get("synthetic", 0)) > 0:
        from deconstruct.train.rooms import write_synthetic_rirs

        files += [str(f) for f in write_synthetic_rirs(out_dir / "rooms", int(rooms["synthetic"]),
                                                       int(rooms.get("seed", 0)), int(config["sample_rate"]))]
    return files


def _train_all(config: dict[str, Any], out_dir: Path, commit: str, only: list[str] | None) -> Path | None:
    from deconstruct.train.runtime import is_rank_zero

    out_dir.mkdir(parents=True, exist_ok=True)
    sample_rate = int(config["sample_rate"])
    unknown = sorted(set(only or []) - set(EFFECT_NAMES))
    if unknown:
        raise ValueError(f"unknown effect(s) {', '.join(unknown)}; the catalog has {', '.join(EFFECT_NAMES)}")
    source = build_dry_source(config["data"], sample_rate)
    rir_files = _rir_files(config, out_dir)
    guard = config.get("guard", {})
    effects_config: dict[str, Any] = {}
    state: dict[str, torch.Tensor] = {}
    metrics: dict[str, Any] = {}
    for effect in only or EFFECT_NAMES:  # in the order asked for
        entry = dict(config["effects"].get(effect, {}))
        alone = out_dir / f"{effect}-network.pt"
        if entry.get("net") and not alone.is_file():
            net, training, _ = _train_one(config, effect, entry, source, rir_files, out_dir / effect)
            if not is_rank_zero():
                continue
            valid = removal_dataset(config, effect, source, int(config["data"].get("valid_items", 32)),
                                    int(config["seed"]) + 1000 + EFFECT_NAMES.index(effect), rir_files)
            checked = guard_metrics(net, valid, effect)
            ok = (checked.get("gain_db", 0.0) >= float(guard.get("min_gain_db", 0.0))
                  and checked.get("lacks_harm_db", 0.0) <= float(guard.get("max_harm_db", math.inf)))
            record = {"training": training, "train_side_validation": checked, "shipped": ok}
            save_checkpoint(alone, f"{config['name']}-{effect}",  # the network alone: a removal checkpoint
                            {"stage": "removal", "sample_rate": sample_rate,
                             "effects": {effect: {"dsp": False, "net": entry["net"]}}},
                            {f"{effect}.{k}": v for k, v in net.state_dict().items()}, record)
    for effect in EFFECT_NAMES:
        entry = dict(config["effects"].get(effect, {}))
        exported = {"dsp": entry.get("dsp", False)}
        alone = out_dir / f"{effect}-network.pt"
        if entry.get("net") and alone.is_file():
            from deconstruct.models.checkpoint import load_checkpoint

            payload = load_checkpoint(alone)
            metrics[effect] = payload.get("metrics", {})
            checked = metrics[effect].get("train_side_validation", {})
            if metrics[effect].get("shipped"):
                exported["net"] = entry["net"]
                state.update(payload["state_dict"])
            else:
                exported["note"] = (f"the {effect} network did not beat its input on training-side validation "
                                    f"(gain {checked.get('gain_db')} dB, harm {checked.get('lacks_harm_db')} dB)")
        elif entry.get("note"):
            exported["note"] = entry["note"]
        effects_config[effect] = exported
    if not is_rank_zero():
        return None
    output = config["output"]
    model_config = {"stage": "removal", "sample_rate": sample_rate, "effects": effects_config}
    metrics["training"] = {"config": config, "commit": commit}
    return save_checkpoint(out_dir / output["export"], output.get("name", config["name"]), model_config, state,
                           metrics, half=bool(output.get("half", False)))
