"""An accelerator campaign: within a wall-clock budget, train the removal networks that gain most from an
accelerator (reverb, then chorus) on items made on the device (:mod:`deconstruct.train.campaign_data`), measure
each candidate beside the shipped model on ``eval``-split material, and write what comes back as it goes.

Output folder (at most 8 files, none in sub-folders): ``campaign.json`` (rewritten after every stage: per model
its steps, seconds, candidate and shipped metrics and ``beats_shipped``), ``<effect>-candidate.pt`` (the network
alone, a removal checkpoint, rewritten at every save), ``removal-candidate.pt`` (the shipped removal model with
every winning network put in: what ``recipes/ship.py`` ships) and ``log.txt``.

The training loop is plain torch (bf16 autocast on CUDA, float32 around the STFTs; AdamW; warm-up and a cosine over
the stage's time). Loss: negative SI-SDR (capped, /10 dB) plus a multi-resolution STFT loss (spectral convergence
and log-magnitude, FFT sizes 512/1024/2048) written in torch, since the accelerator machine has no auraloss.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from deconstruct.metrics.sdr import si_sdr
from deconstruct.models.checkpoint import load_checkpoint, save_checkpoint
from deconstruct.models.removal_nets import build_removal_net
from deconstruct.train.campaign_data import SAMPLE_RATE, RemovalBatches

__all__ = ["ARCHITECTURES", "MultiResolutionSTFT", "evaluate", "shipped_removal", "train_candidate"]

ARCHITECTURES: dict[str, dict[str, dict[str, Any]]] = {
    "full": {
        "reverb": {"architecture": "mask_tcn", "arch_kwargs": {"n_fft": 1024, "bands": 64, "hidden": 128,
                                                               "layers": 12, "mask_bound": 2.0}},
        "chorus": {"architecture": "mask_tcn", "arch_kwargs": {"n_fft": 2048, "bands": 64, "hidden": 128,
                                                               "layers": 12, "mask_bound": 3.0}},
    },
    "smoke": {
        "reverb": {"architecture": "mask_tcn", "arch_kwargs": {"n_fft": 512, "bands": 16, "hidden": 8, "layers": 2}},
        "chorus": {"architecture": "mask_tcn", "arch_kwargs": {"n_fft": 512, "bands": 16, "hidden": 8, "layers": 2}},
    },
}
"""Network of each effect per campaign size (the full ones stay under 5 MB in float16 together)."""


class MultiResolutionSTFT(nn.Module):
    """Spectral convergence + mean log-magnitude L1 at several FFT sizes (hop a quarter), averaged.

    Shape:
        estimate, target: ``[B, C, T]`` → scalar.
    """

    def __init__(self, fft_sizes: tuple[int, ...] = (512, 1024, 2048)) -> None:
        super().__init__()
        self.fft_sizes = tuple(fft_sizes)

    def forward(self, estimate: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        total = estimate.new_zeros(())
        x, y = estimate.float().flatten(0, 1), target.float().flatten(0, 1)
        for size in self.fft_sizes:
            window = torch.hann_window(size, device=x.device)
            mx = torch.stft(x, size, size // 4, window=window, return_complex=True).abs().clamp_min(1e-7)
            my = torch.stft(y, size, size // 4, window=window, return_complex=True).abs().clamp_min(1e-7)
            convergence = torch.linalg.norm(my - mx, dim=(-2, -1)) / torch.linalg.norm(my, dim=(-2, -1)).clamp_min(1e-7)
            total = total + convergence.mean() + (mx.log() - my.log()).abs().mean()
        return total / len(self.fft_sizes)


def removal_loss(estimate: torch.Tensor, target: torch.Tensor, stft: MultiResolutionSTFT,
                 sdr_cap_db: float = 40.0) -> torch.Tensor:
    """``-SI-SDR / 10 dB`` (capped) plus the multi-resolution STFT loss, in float32."""
    sdr = si_sdr(target.float(), estimate.float()).clamp(max=sdr_cap_db).float()
    return stft(estimate, target) - sdr.mean() / 10.0


def shipped_removal(bundle: dict[str, Any]) -> tuple[str, dict[str, Any], dict[str, torch.Tensor]]:
    """The shipped default removal model the bundle carries: name, config, state dict (no network when none is
    shipped)."""
    snapshot = bundle["shipped_removal"]
    return snapshot["name"], dict(snapshot["config"]), dict(snapshot["state_dict"])


def shipped_network(bundle: dict[str, Any], effect: str) -> nn.Module | None:
    """The shipped model's network for ``effect`` (``None``: it passes the effect through)."""
    _, config, state = shipped_removal(bundle)
    entry = config.get("effects", {}).get(effect, {})
    if not entry.get("net"):
        return None
    net = build_removal_net(entry["net"], int(config.get("sample_rate", SAMPLE_RATE)))
    prefix = f"{effect}."
    net.load_state_dict({k[len(prefix):]: v.float() for k, v in state.items() if k.startswith(prefix)}, strict=True)
    return net


@torch.no_grad()
def evaluate(net: nn.Module | None, cases: list[tuple[torch.Tensor, torch.Tensor, bool]],
             device: torch.device) -> dict[str, float]:
    """SI-SDR gain on cases holding the effect, and loss on cases lacking it (``None``: pass-through).

    Args:
        cases: ``(wet [1, 1, T], target [1, 1, T], holds)`` made once by :func:`eval_cases`.
    """
    holds, lacks = [], []
    if net is not None:
        net = net.to(device).eval()
    for wet, target, holding in cases:
        out = wet if net is None else net(wet.to(device)).float()
        before = float(si_sdr(target.to(device), wet.to(device)).mean().clamp(max=60.0))
        after = float(si_sdr(target.to(device), out).mean().clamp(max=60.0))
        (holds if holding else lacks).append((before, after))
    metrics: dict[str, float] = {"holds_cases": len(holds), "lacks_cases": len(lacks)}
    if holds:
        metrics["holds_input_db"] = sum(b for b, _ in holds) / len(holds)
        metrics["holds_output_db"] = sum(a for _, a in holds) / len(holds)
        metrics["gain_db"] = metrics["holds_output_db"] - metrics["holds_input_db"]
    if lacks:
        losses = [b - a for b, a in lacks]
        metrics["lacks_loss_db"] = sum(losses) / len(losses)
        metrics["lacks_max_loss_db"] = max(losses)
    return {k: round(v, 3) if isinstance(v, float) else v for k, v in metrics.items()}


def eval_cases(bundle: dict[str, Any], effect: str, count: int, seconds: float,
               seed: int = 20240) -> list[tuple[torch.Tensor, torch.Tensor, bool]]:
    """Fixed ``eval``-split cases (CPU): ``count`` holding the effect (reverb: half with ``eval`` rooms, half
    Freeverb) and ``count // 2`` clean ones."""
    made = RemovalBatches(bundle, "eval", effect, seconds, "cpu", seed, remove_probability=1.0)
    holds = [made.batch(1) for _ in range(count)]
    clean = RemovalBatches(bundle, "eval", effect, seconds, "cpu", seed + 1, remove_probability=0.0)
    lacks = [clean.batch(1) for _ in range(max(1, count // 2))]
    return [(w, t, True) for w, t, _ in holds] + [(w, t, False) for w, t, _ in lacks]


def network_checkpoint(path: Path, effect: str, spec: dict[str, Any], net: nn.Module, metrics: dict[str, Any],
                       half: bool = False) -> Path:
    """Save ``net`` as a removal checkpoint holding only ``effect``'s network."""
    return save_checkpoint(path, f"campaign-{effect}", {"stage": "removal", "sample_rate": SAMPLE_RATE,
                                                        "effects": {effect: {"dsp": False, "net": spec}}},
                           {f"{effect}.{k}": v for k, v in net.state_dict().items()}, metrics, half=half)


def merged_removal(path: Path, bundle: dict[str, Any], winners: dict[str, tuple[dict[str, Any], nn.Module]],
                   metrics: dict[str, Any]) -> Path:
    """The shipped removal model with the winning networks put in (float16), saved to ``path``."""
    name, config, state = shipped_removal(bundle)
    name = "removal-default" if name == "dsp-only" else name
    effects = {k: dict(v) for k, v in config.get("effects", {}).items()}
    for effect, (spec, net) in winners.items():
        state = {k: v for k, v in state.items() if not k.startswith(f"{effect}.")}
        state.update({f"{effect}.{k}": v for k, v in net.state_dict().items()})
        effects[effect] = {"dsp": False, "net": spec}
    merged = dict(config, effects=effects)
    return save_checkpoint(path, name, merged, state, metrics, half=True)


def train_candidate(effect: str, spec: dict[str, Any], bundle: dict[str, Any], device: torch.device,
                    seconds_budget: float, batch_size: int, item_s: float, lr: float, seed: int,
                    save: Callable[[nn.Module, int], None], save_every_s: float = 60.0,
                    max_steps: int | None = None, log: Callable[[str], None] = print) -> tuple[nn.Module, int, float]:
    """Train one network for ``seconds_budget`` (or ``max_steps``); ``save(net, step)`` runs every
    ``save_every_s`` and at the end. Returns the network (eval mode), its steps and the seconds spent."""
    torch.manual_seed(seed)
    net = build_removal_net(spec, SAMPLE_RATE).to(device)
    batches = RemovalBatches(bundle, "train", effect, item_s, device, seed)
    stft = MultiResolutionSTFT().to(device)
    optimizer = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-5)
    autocast = device.type == "cuda"
    started = last_save = time.monotonic()
    step = 0
    while True:
        elapsed = time.monotonic() - started
        if elapsed >= seconds_budget or (max_steps is not None and step >= max_steps):
            break
        factor = min(1.0, (step + 1) / 100) * 0.5 * (1.0 + math.cos(math.pi * min(1.0, elapsed / seconds_budget)))
        for group in optimizer.param_groups:
            group["lr"] = lr * factor
        wet, target, _ = batches.batch(batch_size)
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=autocast):
            estimate = net(wet)
        loss = removal_loss(estimate, target, stft)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
        optimizer.step()
        step += 1
        if step % 100 == 0:
            log(f"{effect} step {step} loss {float(loss):.3f} ({elapsed:.0f} s)")
        if time.monotonic() - last_save >= save_every_s:
            save(net, step)
            last_save = time.monotonic()
    net.eval()
    save(net, step)
    return net, step, time.monotonic() - started


def load_network(path: str | Path, effect: str) -> nn.Module:
    """The network of ``effect`` from a removal checkpoint written by :func:`network_checkpoint`."""
    payload = load_checkpoint(path)
    spec = payload["config"]["effects"][effect]["net"]
    net = build_removal_net(spec, int(payload["config"].get("sample_rate", SAMPLE_RATE)))
    prefix = f"{effect}."
    net.load_state_dict({k[len(prefix):]: v.float() for k, v in payload["state_dict"].items()
                         if k.startswith(prefix)}, strict=True)
    return net.eval()


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` as JSON through a temporary file (a timeout never leaves half a file)."""
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(data, indent=1, default=str) + "\n")
    partial.replace(path)
