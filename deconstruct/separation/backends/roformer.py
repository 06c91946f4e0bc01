"""The RoFormer family (BS-RoFormer, Mel-Band RoFormer) from a local checkpoint and its YAML config.

Checkpoints and configs are those of the public Music-Source-Separation-Training project: the config's ``model:``
section holds the network's keyword arguments, ``audio:`` its ``sample_rate`` and ``chunk_size`` (samples), and
``training:`` its ``instruments`` (and ``target_instrument`` for a one-stem model); the checkpoint is a
``state_dict`` (optionally under a ``state_dict`` key) read with ``torch.load(weights_only=True)``. The networks
are built with the ``bs-roformer`` package (pinned at 0.4.1, whose module layout is the one those checkpoints were
saved from). Two layout differences are mapped: that project's Mel-Band RoFormer without linear attention numbers
its time/frequency transformers 0 and 1, where the package keeps a placeholder at 0; and the rotary embeddings'
fixed frequencies are filled in when a checkpoint does not carry them. Settings the package cannot honour
(``mlp_expansion_factor`` other than 4, ``skip_connection``, linear attention in BS-RoFormer) are refused.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import torch
from torch import nn

from deconstruct.errors import DependencyError, ModelError
from deconstruct.separation.backends.base import LoadedSeparator
from deconstruct.separation.stem_names import normalise_stem_names

CHECKPOINT_SUFFIXES = (".ckpt", ".pth", ".pt", ".bin")
TRAINING_ONLY = ("use_torch_checkpoint", "multi_stft_resolution_loss_weight", "multi_stft_resolutions_window_sizes",
                 "multi_stft_hop_size", "multi_stft_normalized", "sage_attention", "attn_dropout", "ff_dropout")
TUPLE_KEYS = ("freqs_per_bands", "multi_stft_resolutions_window_sizes")


def read_config(path: Path) -> dict[str, Any]:
    """Read a Music-Source-Separation-Training YAML config (``!!python/tuple`` allowed, nothing else unsafe)."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_constructor("tag:yaml.org,2002:python/tuple", lambda loader, node: tuple(loader.construct_sequence(node)))
    try:
        data = yaml.load(Path(path).read_text(), Loader=Loader)  # noqa: S506 - a SafeLoader with one tag added
    except FileNotFoundError:
        raise ModelError(f"{path}: no such model config; give --model-config the YAML file of the checkpoint") \
            from None
    except yaml.YAMLError as error:
        raise ModelError(f"{path}: not a readable YAML config ({str(error).splitlines()[0]})") from None
    if not isinstance(data, dict) or not isinstance(data.get("model"), dict):
        raise ModelError(f"{path}: a RoFormer config needs a 'model:' section with the network's settings")
    return data


def architecture(config: dict[str, Any], path: Path) -> str:
    """``bs`` or ``mel``: Mel-Band configs set ``num_bands``, BS ones ``freqs_per_bands``."""
    model = config["model"]
    if "num_bands" in model:
        return "mel"
    if "freqs_per_bands" in model:
        return "bs"
    raise ModelError(f"{path}: neither a BS-RoFormer (freqs_per_bands) nor a Mel-Band RoFormer (num_bands) config")


def target_names(config: dict[str, Any]) -> tuple[list[str], bool]:
    """The model's outputs and whether a residual (mixture minus the one target) is added."""
    training = config.get("training") or {}
    instruments = [str(name) for name in training.get("instruments") or []]
    target = training.get("target_instrument")
    num_stems = int(config["model"].get("num_stems", 1))
    if target:
        residual = [name for name in instruments if name != target]
        return [str(target), residual[0] if len(residual) == 1 else "accompaniment" if target == "vocals"
                else "other"], True
    if len(instruments) < num_stems:
        instruments += [f"stem_{index + 1}" for index in range(len(instruments), num_stems)]
    if num_stems == 1:
        rest = "accompaniment" if instruments[0].lower().startswith("vocal") else "other"
        return [instruments[0], rest], True
    return instruments[:num_stems], False


def _model_kwargs(config: dict[str, Any], arch: str, path: Path) -> dict[str, Any]:
    kwargs = dict(config["model"])
    if int(kwargs.pop("mlp_expansion_factor", 4)) != 4:
        raise ModelError(f"{path}: mlp_expansion_factor other than 4 is not supported by bs-roformer 0.4.1")
    if kwargs.pop("skip_connection", False):
        raise ModelError(f"{path}: skip_connection models are not supported by bs-roformer 0.4.1")
    if arch == "bs" and int(kwargs.pop("linear_transformer_depth", 0)):
        raise ModelError(f"{path}: BS-RoFormer with linear attention is not supported by bs-roformer 0.4.1")
    if arch == "mel":
        kwargs.setdefault("linear_transformer_depth", 0)  # that project's default (the package's is 1)
        kwargs.setdefault("sample_rate", int((config.get("audio") or {}).get("sample_rate", 44100)))
    for key in TRAINING_ONLY:
        kwargs.pop(key, None)
    for key in TUPLE_KEYS:
        if key in kwargs:
            kwargs[key] = tuple(int(value) for value in kwargs[key])
    return kwargs


def read_state(path: Path) -> dict[str, torch.Tensor]:
    """A checkpoint's state dict (``weights_only=True``; a ``state_dict`` key and a ``model.`` prefix unwrapped)."""
    if not path.is_file():
        raise ModelError(f"{path}: no such checkpoint file")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise ModelError(f"{path}: refused to load: not a plain state dict ({type(error).__name__})") from None
    if isinstance(payload, dict) and isinstance(payload.get("state_dict"), dict):
        payload = payload["state_dict"]
    if not isinstance(payload, dict) or not all(isinstance(value, torch.Tensor) for value in payload.values()):
        raise ModelError(f"{path}: not a state dict of tensors")
    if payload and all(key.startswith("model.") for key in payload):
        payload = {key[len("model."):]: value for key, value in payload.items()}
    return payload


def to_package_layout(state: dict[str, torch.Tensor], arch: str, linear_depth: int) -> dict[str, torch.Tensor]:
    """Rename that project's keys to the package's (Mel-Band without linear attention: transformers 0, 1 → 1, 2)."""
    if arch != "mel" or linear_depth:
        return dict(state)
    pattern = re.compile(r"^layers\.(\d+)\.(\d+)\.")
    return {pattern.sub(lambda m: f"layers.{m.group(1)}.{int(m.group(2)) + 1}.", key): value
            for key, value in state.items()}


class RoformerNet(nn.Module):
    """A RoFormer as ``[B, C, T] -> [B, S, C, T]`` (a one-target model gets the residual as a second stem)."""

    def __init__(self, model: nn.Module, residual: bool) -> None:
        super().__init__()
        self.model, self.residual = model, residual

    def forward(self, mixture: torch.Tensor) -> torch.Tensor:
        out = self.model(mixture)
        if out.dim() == 3:  # one stem: [B, C, T]
            out = out.unsqueeze(1)
        out = out[..., :mixture.shape[-1]]
        if out.shape[-1] < mixture.shape[-1]:
            out = torch.nn.functional.pad(out, (0, mixture.shape[-1] - out.shape[-1]))
        if self.residual:
            out = torch.cat([out, (mixture - out.sum(1)).unsqueeze(1)], dim=1)
        return out


def load_roformer(checkpoint: str | Path, config_path: str | Path) -> LoadedSeparator:
    """Load a BS-/Mel-Band RoFormer checkpoint with its YAML config (see the module docstring).

    Raises:
        ModelError: unreadable files, unsupported settings, or weights whose keys or shapes do not fit.
        DependencyError: the ``bs-roformer`` package is missing.
    """
    checkpoint, config_path = Path(checkpoint), Path(config_path)
    config = read_config(config_path)
    arch = architecture(config, config_path)
    try:
        from bs_roformer import BSRoformer, MelBandRoformer
    except ImportError:
        raise DependencyError("RoFormer models need the bs-roformer package: pip install 'bs-roformer==0.4.1'") \
            from None
    kwargs = _model_kwargs(config, arch, config_path)
    try:
        model = (MelBandRoformer if arch == "mel" else BSRoformer)(**kwargs)
    except Exception as error:  # wrong or unknown settings (beartype, asserts)
        raise ModelError(f"{config_path}: the model settings do not build a {arch.upper()}-RoFormer "
                         f"({type(error).__name__}: {str(error).splitlines()[0][:160]})") from None
    state = to_package_layout(read_state(checkpoint), arch, int(kwargs.get("linear_transformer_depth", 0)))
    own = model.state_dict()
    for key, value in own.items():  # fixed rotary frequencies, when the file does not carry them
        if key.endswith("rotary_embed.freqs") and key not in state:
            state[key] = value
    missing, unexpected = sorted(set(own) - set(state)), sorted(set(state) - set(own))
    if missing or unexpected:
        raise ModelError(f"{checkpoint}: its weights do not match the config ({len(missing)} missing, e.g. "
                         f"{missing[:1]}; {len(unexpected)} unexpected, e.g. {unexpected[:1]}); check --model-config")
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as error:
        raise ModelError(f"{checkpoint}: weight shapes do not match the config "
                         f"({str(error).splitlines()[1].strip()[:160] if len(str(error).splitlines()) > 1 else ''})"
                         ) from None
    names, residual = target_names(config)
    audio = config.get("audio") or {}
    sample_rate = int(kwargs.get("sample_rate", audio.get("sample_rate", 44100)))
    chunk = audio.get("chunk_size")
    return LoadedSeparator(
        name=str(checkpoint), backend="roformer", net=RoformerNet(model.eval(), residual).eval(),
        stems=normalise_stem_names(names), sample_rate=sample_rate, channels=2 if kwargs.get("stereo") else 1,
        max_chunk_s=float(chunk) / sample_rate if chunk else None, source=f"{checkpoint} + {config_path}",
        files=[checkpoint, config_path], model_stems=names,
        details={"architecture": "Mel-Band RoFormer" if arch == "mel" else "BS-RoFormer"})
