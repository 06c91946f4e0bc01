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
                    seed: int) -> EffectedDataset:
    """FXAug removal items for ``effect`` (see the module docstring)."""
    data = config["data"]
    return EffectedDataset(
        source, sample_rate=int(config["sample_rate"]), duration_s=float(data["duration_s"]), channels=1,
        length=length, seed=seed, max_effects=int(data.get("max_effects", 3)), remove=effect,
        remove_probability=float(data.get("remove_probability", 0.5)),
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


def _make_task(net: nn.Module, loss: nn.Module, settings: dict[str, Any]):
    import lightning as L

    class RemovalTask(L.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net, self.loss = net, loss

        def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
            value = self.loss(self.net(batch["wet"]), batch["target"])
            self.log("train/loss", value, prog_bar=True)
            return value

        def configure_optimizers(self):
            optimizer = torch.optim.AdamW(self.net.parameters(), lr=float(settings["lr"]),
                                          weight_decay=float(settings.get("weight_decay", 0.0)))
            steps = int(settings["max_steps"])
            warmup = int(settings.get("warmup_steps", max(1, int(0.05 * steps))))
            seconds = 60.0 * float(settings["max_minutes"]) if settings.get("max_minutes") else math.inf
            started: list[float] = []

            def factor(step: int) -> float:
                """Warm-up, then a cosine over the run's progress: steps done or wall time spent, whichever is
                further along (a time-capped run on a shared CPU still ends at a low learning rate)."""
                if not started:
                    started.append(time.monotonic())
                progress = min(1.0, max(step / steps, (time.monotonic() - started[0]) / seconds))
                return min(1.0, (step + 1) / warmup) * 0.5 * (1.0 + math.cos(math.pi * progress))

            schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
            return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}

    return RemovalTask()


def _train_one(config: dict[str, Any], effect: str, entry: dict[str, Any], source: MixedDrySource,
               out_dir: Path) -> tuple[nn.Module, dict[str, Any]]:
    import lightning as L

    settings = {**config.get("train", {}), **entry.get("train", {})}
    seed = int(config["seed"]) + EFFECT_NAMES.index(effect)
    L.seed_everything(seed, workers=True)
    net = build_removal_net(entry["net"], int(config["sample_rate"]))
    steps, batch = int(settings["max_steps"]), int(settings["batch_size"])
    dataset = removal_dataset(config, effect, source, steps * batch, seed)
    loader = DataLoader(dataset, batch_size=batch, num_workers=int(settings.get("num_workers", 0)),
                        persistent_workers=False)
    loss = RemovalLoss(**config.get("loss", {}))
    task = _make_task(net, loss, settings)
    max_minutes = settings.get("max_minutes")
    trainer = L.Trainer(
        max_steps=steps, max_time={"minutes": float(max_minutes)} if max_minutes else None,
        accelerator=settings.get("accelerator", "cpu"), devices=settings.get("devices", 1),
        strategy=settings.get("strategy", "auto"), precision=settings.get("precision", "32-true"),
        gradient_clip_val=float(settings.get("grad_clip", 5.0)), default_root_dir=str(out_dir),
        logger=L.pytorch.loggers.CSVLogger(str(out_dir), name=f"logs-{effect}"), enable_checkpointing=False,
        enable_progress_bar=bool(settings.get("progress_bar", False)), enable_model_summary=False,
        log_every_n_steps=int(settings.get("log_every", 10)), num_sanity_val_steps=0,
    )
    started = time.monotonic()
    trainer.fit(task, loader)
    training = {"steps": int(trainer.global_step), "seconds": round(time.monotonic() - started, 1),
                "final_loss": round(float(trainer.callback_metrics.get("train/loss", float("nan"))), 4),
                "parameters": sum(p.numel() for p in net.parameters())}
    return net.cpu().eval(), training


def train(config: dict[str, Any], out_dir: str | Path, commit: str = "unknown") -> Path:
    """Train every configured removal network, guard them, and export one removal checkpoint.

    Returns:
        The exported checkpoint (``out_dir / config["output"]["export"]``).
    """
    threads = torch.get_num_threads()
    if config.get("threads"):
        torch.set_num_threads(int(config["threads"]))
    try:
        return _train_all(config, Path(out_dir), commit)
    finally:
        torch.set_num_threads(threads)


def _train_all(config: dict[str, Any], out_dir: Path, commit: str) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    sample_rate = int(config["sample_rate"])
    source = build_dry_source(config["data"], sample_rate)
    guard = config.get("guard", {})
    effects_config: dict[str, Any] = {}
    state: dict[str, torch.Tensor] = {}
    metrics: dict[str, Any] = {}
    for effect in EFFECT_NAMES:
        entry = dict(config["effects"].get(effect, {}))
        exported = {"dsp": entry.get("dsp", False)}
        if entry.get("net"):
            net, training = _train_one(config, effect, entry, source, out_dir)
            valid = removal_dataset(config, effect, source, int(config["data"].get("valid_items", 32)),
                                    seed=int(config["seed"]) + 1000 + EFFECT_NAMES.index(effect))
            checked = guard_metrics(net, valid, effect)
            ok = (checked.get("gain_db", 0.0) >= float(guard.get("min_gain_db", 0.0))
                  and checked.get("lacks_harm_db", 0.0) <= float(guard.get("max_harm_db", math.inf)))
            metrics[effect] = {"training": training, "train_side_validation": checked, "shipped": ok}
            save_checkpoint(out_dir / f"{effect}-network.pt", f"{config['name']}-{effect}",  # kept for inspection
                            {"stage": "removal", "sample_rate": sample_rate,
                             "effects": {effect: {"dsp": False, "net": entry["net"]}}},
                            {f"{effect}.{k}": v for k, v in net.state_dict().items()}, metrics[effect])
            if ok:
                exported["net"] = entry["net"]
                state.update({f"{effect}.{k}": v for k, v in net.state_dict().items()})
            else:
                exported["note"] = (f"the {effect} network did not beat its input on training-side validation "
                                    f"(gain {checked.get('gain_db')} dB, harm {checked.get('lacks_harm_db')} dB)")
        elif entry.get("note"):
            exported["note"] = entry["note"]
        effects_config[effect] = exported
    output = config["output"]
    model_config = {"stage": "removal", "sample_rate": sample_rate, "effects": effects_config}
    metrics["training"] = {"config": config, "commit": commit}
    return save_checkpoint(out_dir / output["export"], output.get("name", config["name"]), model_config, state,
                           metrics, half=bool(output.get("half", False)))
