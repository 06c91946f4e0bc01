"""What every Lightning recipe shares: a trainer with checkpoints and a wall-clock cap, resume from the last
checkpoint, a learning-rate schedule that follows steps or time, and rank-zero-only side effects.

- checkpoints: ``<run>/<part>/checkpoints/last.ckpt`` every ``checkpoint_every`` steps and at the end; a run started
  again with the same folder resumes there (``ckpt_path="last"``), timer included, so ``max_minutes`` caps the
  run's total training time, not each attempt's;
- ``max_minutes`` is Lightning's ``max_time``;
- :func:`is_rank_zero` guards exports and CPU-side metrics, so DDP ranks other than zero only train.
"""

from __future__ import annotations

import math
import os
import pickle
from pathlib import Path
from typing import Any

import torch

__all__ = ["cosine_factor", "fit", "is_rank_zero", "last_checkpoint", "make_trainer", "resumed_step"]


def is_rank_zero() -> bool:
    """Whether this process is global rank zero (always true outside distributed runs)."""
    for variable in ("RANK", "LOCAL_RANK", "SLURM_PROCID"):
        if os.environ.get(variable, "0") not in ("", "0"):
            return False
    return not (torch.distributed.is_available() and torch.distributed.is_initialized()
                and torch.distributed.get_rank() != 0)


def last_checkpoint(folder: str | Path) -> Path | None:
    """``folder/checkpoints/last.ckpt`` when present."""
    path = Path(folder) / "checkpoints" / "last.ckpt"
    return path if path.is_file() else None


def resumed_step(folder: str | Path) -> int:
    """The global step stored in the last checkpoint of ``folder`` (0 when there is none or it is unreadable)."""
    path = last_checkpoint(folder)
    if path is None:
        return 0
    try:
        return int(torch.load(path, map_location="cpu", weights_only=True).get("global_step", 0))
    except (OSError, RuntimeError, EOFError, pickle.UnpicklingError):  # truncated or foreign: the run starts over
        return 0


def cosine_factor(step: int, max_steps: int, elapsed_s: float, max_s: float, warmup_steps: int) -> float:
    """Learning-rate factor: linear warm-up, then a cosine over the run's progress, the further along of steps
    done and wall time spent (a time-capped run on a busy machine still ends at a low learning rate)."""
    progress = min(1.0, max(step / max(1, max_steps), elapsed_s / max_s if max_s > 0 else 0.0))
    return min(1.0, (step + 1) / max(1, warmup_steps)) * 0.5 * (1.0 + math.cos(math.pi * progress))


def make_trainer(settings: dict[str, Any], folder: str | Path, val_every: int | None = None,
                 extra_callbacks: list | None = None):
    """A Lightning trainer for one training part.

    Args:
        settings: ``max_steps``, ``max_minutes`` (required: every run is capped in time), ``accelerator``,
            ``devices``, ``strategy``, ``precision``, ``grad_clip``, ``log_every``, ``checkpoint_every``,
            ``progress_bar``.
        folder: the part's folder (logs, ``checkpoints/``).
        val_every: validation every this many steps (``None``: no validation loop).
    """
    import lightning as L
    from lightning.pytorch.callbacks import ModelCheckpoint

    folder = Path(folder)
    every = int(settings.get("checkpoint_every", 200))
    checkpoint = ModelCheckpoint(dirpath=str(folder / "checkpoints"), filename="step{step}", save_last=True,
                                 save_top_k=1, every_n_train_steps=every, enable_version_counter=False,
                                 auto_insert_metric_name=False)
    max_steps = int(settings["max_steps"])
    options: dict[str, Any] = {}
    if val_every:
        options.update(val_check_interval=min(int(val_every), max_steps), check_val_every_n_epoch=None)
    return L.Trainer(
        max_steps=max_steps, max_time={"minutes": float(settings["max_minutes"])},
        accelerator=settings.get("accelerator", "auto"), devices=settings.get("devices", 1),
        strategy=settings.get("strategy", "auto"), precision=settings.get("precision", "32-true"),
        gradient_clip_val=float(settings.get("grad_clip", 5.0)), default_root_dir=str(folder),
        logger=L.pytorch.loggers.CSVLogger(str(folder), name="logs"),
        callbacks=[checkpoint, *(extra_callbacks or [])], enable_checkpointing=True,
        enable_progress_bar=bool(settings.get("progress_bar", False)), enable_model_summary=False,
        log_every_n_steps=int(settings.get("log_every", 10)), num_sanity_val_steps=0, **options,
    )


def fit(trainer, task, train_loader, folder: str | Path, val_loader=None) -> bool:
    """``trainer.fit``, resuming from ``folder/checkpoints/last.ckpt`` when it is there, and saving ``last.ckpt``
    at the end (a wall-clock stop included).

    Returns:
        Whether the run resumed from a checkpoint.
    """
    resume = last_checkpoint(folder) is not None
    trainer.fit(task, train_loader, val_loader, ckpt_path="last" if resume else None)
    trainer.save_checkpoint(str(Path(folder) / "checkpoints" / "last.ckpt"))
    return resume
