"""The separation stage: a load-once :class:`Separator` and the one-shot :func:`separate`.

Any sample rate and mono or stereo input: each chunk is resampled to the model's rate, adapted to its channel
count, separated, and brought back, so stems come out at the input's rate and channel count. Long inputs run in
overlapping chunks crossfaded together (:func:`deconstruct.streaming.overlap_add`), never longer than the model
takes (an HTDemucs's training segment, a RoFormer's ``chunk_size``). Published separators (demucs, the RoFormer
family) load through :mod:`deconstruct.separation.backends`; the project's checkpoints and torchaudio HDemucs state
dicts through the registry.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Iterator

import torch

from deconstruct.audio import Audio, resample
from deconstruct.devices import pick_device
from deconstruct.errors import ModelError
from deconstruct.models.loading import check_finite_output, load_network
from deconstruct.models.registry import ResolvedModel, resolve
from deconstruct.models.separation_nets import build_separation_net
from deconstruct.separation.backends import LoadedSeparator, choose, is_backend_model, load_backend
from deconstruct.streaming import BlockReader, TensorReader, overlap_add


SHIFT_S = 0.5  # the largest test-time shift (seconds), as demucs's


class Separator:
    """Separates mixtures into the stems a model was trained on.

    Args:
        model: a shipped model name, a checkpoint path, ``demucs:<name>``, ``best`` (the best published model
            available without a download) or ``None`` for the default.
        device: ``"cpu"``, ``"cuda"`` or ``None`` (CUDA when available).
        chunk_s: chunk length in seconds for overlap-add inference.
        overlap_s: crossfade between chunks in seconds.
        shifts: test-time random shifts to average (0 = off), as Demucs's ``shifts``.
        model_repo: a local folder of demucs model files (``None``: ``$DECONSTRUCT_MODEL_REPO`` or demucs's caches).
        model_config: the YAML config of a RoFormer checkpoint given as ``model``.
        log: receives one-line notes while loading (e.g. a download starting).
    """

    def __init__(self, model: str | os.PathLike | None = None, device: str | None = None, chunk_s: float = 20.0,
                 overlap_s: float = 1.0, shifts: int = 0, model_repo: str | os.PathLike | None = None,
                 model_config: str | os.PathLike | None = None, log: Callable[[str], None] | None = None) -> None:
        self.choice = choose(model, model_repo, model_config)
        self.backend: LoadedSeparator | None = None
        self.device = pick_device(device)
        if is_backend_model(self.choice.model, model_config):
            self.backend = load_backend(self.choice.model, model_config, model_repo, log=log)
            self.stems = list(self.backend.stems)
            self.sample_rate, self.model_channels = self.backend.sample_rate, self.backend.channels
            self.resolved = ResolvedModel(self.backend.name, {"stems": self.stems, "sample_rate": self.sample_rate,
                                                              "channels": self.model_channels}, {}, {},
                                          self.backend.sha256, self.backend.source)
            self.net = self.backend.net
            if self.backend.max_chunk_s is not None:  # the model takes no longer input: resampling rounds up,
                shift_room = SHIFT_S if shifts else 0.0  # and test-time shifts pad each chunk by up to SHIFT_S
                chunk_s = min(chunk_s, self.backend.max_chunk_s * 0.99 - shift_room)
        else:
            self.resolved = _resolve_with_hints(self.choice.model)
            config = self.resolved.config
            try:
                self.stems = list(config["stems"])
                self.sample_rate = int(config["sample_rate"])
                self.model_channels = int(config.get("channels", 2))
            except (KeyError, TypeError, ValueError) as error:
                raise ModelError(f"model {self.resolved.name!r}: unusable config ({error!r}); the checkpoint is "
                                 "damaged or from another version") from None
            self.net = load_network(self.resolved.name, build_separation_net, config, self.resolved.state_dict)
        self.net.eval().to(self.device)
        self.chunk_s, self.overlap_s, self.shifts = chunk_s, min(overlap_s, chunk_s / 4), int(shifts)

    def report_entry(self) -> dict[str, Any]:
        """The report's ``separator`` section: which model ran, from where, with which stems, and why."""
        registry = "torchaudio-hdemucs" if self.resolved.config.get("architecture") == "hdemucs" else "deconstruct"
        entry: dict[str, Any] = {"name": self.name, "backend": self.backend.backend if self.backend else registry,
                                 "source": self.resolved.source, "sha256": self.resolved.sha256,
                                 "reason": self.choice.reason, "stems": list(self.stems),
                                 "sample_rate": self.sample_rate, "channels": self.model_channels,
                                 "chunk_s": round(self.chunk_s, 3)}
        if self.backend is not None:
            entry["model_stems"] = list(self.backend.model_stems)
            entry.update(self.backend.details)
        return entry

    @property
    def name(self) -> str:
        return self.resolved.name

    @torch.inference_mode()
    def separate_block(self, block: torch.Tensor, sample_rate: int) -> torch.Tensor:
        """Separate one block.

        Shape:
            block: ``[C, T]`` at ``sample_rate`` → ``[S, C, T]`` at the same rate and channel count.
        """
        channels, length = block.shape
        x = resample(block, sample_rate, self.sample_rate).to(self.device)
        if self.model_channels == 1:  # a mono model runs on every channel
            out = self._run_shifted(x.unsqueeze(1)).transpose(0, 1)[:, :, 0]  # [S, C, T']
        elif channels == self.model_channels:
            out = self._run_shifted(x.unsqueeze(0))[0]
        else:  # mono input to a stereo model: duplicate, then fold back to mono
            out = self._run_shifted(x.expand(self.model_channels, -1).unsqueeze(0))[0].mean(1, keepdim=True)
        out = check_finite_output(out.cpu(), self.name, "separation")
        if sample_rate == self.sample_rate:
            return out
        out = resample(out.contiguous(), self.sample_rate, sample_rate)
        out = torch.nn.functional.pad(out, (0, max(0, length - out.shape[-1])))[..., :length]
        # Resampling there and back loses the band edges; spread that residual evenly over the stems so they
        # still sum to the input (mixture-consistency projection, Wisdom et al., ICASSP 2019).
        return out + (block - out.sum(0)) / out.shape[0]

    def _run_shifted(self, x: torch.Tensor) -> torch.Tensor:
        if not self.shifts:
            return self.net(x)
        max_shift = int(SHIFT_S * self.sample_rate)
        generator = torch.Generator().manual_seed(0)
        total = 0.0
        for _ in range(self.shifts):
            offset = int(torch.randint(0, max_shift, (1,), generator=generator))
            padded = torch.nn.functional.pad(x, (offset, max_shift - offset))
            total = total + self.net(padded)[..., offset:offset + x.shape[-1]]
        return total / self.shifts

    def stream(self, reader: BlockReader) -> Iterator[torch.Tensor]:
        """Yield finished ``[S, C, n]`` blocks of a whole input, in order (flat memory)."""
        chunk = max(int(self.chunk_s * reader.sample_rate), 2)
        overlap = min(int(self.overlap_s * reader.sample_rate), chunk - 1)
        if hasattr(self.net, "reference"):  # demucs normalises by the whole song's statistics: one streamed pass
            self.net.reference = mono_statistics(reader)
        yield from overlap_add(reader, lambda block: self.separate_block(block, reader.sample_rate), chunk, overlap)

    def separate(self, audio: Audio) -> dict[str, Audio]:
        """Separate a whole in-memory mixture into named stems (input rate and channel count kept)."""
        blocks = list(self.stream(TensorReader(audio.samples, audio.sample_rate)))
        stems = torch.cat(blocks, dim=-1)
        return {name: Audio(stems[index].contiguous(), audio.sample_rate) for index, name in enumerate(self.stems)}


def _resolve_with_hints(model: str | os.PathLike | None) -> ResolvedModel:
    """The registry's model, with a hint when the name or file suggests a published separator."""
    try:
        return resolve("separation", model)
    except ModelError as error:
        from deconstruct.separation.backends.demucs_hub import PUBLISHED

        if model is not None and str(model) in PUBLISHED:
            raise ModelError(f"{error}; for demucs's model write --model demucs:{model}") from None
        if model is not None and Path(model).suffix == ".ckpt" and Path(model).is_file():
            raise ModelError(f"{error}; a RoFormer checkpoint also needs --model-config CONFIG.yaml") from None
        raise


def mono_statistics(reader: BlockReader, block_s: float = 10.0) -> tuple[float, float]:
    """Mean and standard deviation of the input's mono mix, read block by block (flat memory)."""
    total = total_sq = 0.0
    step = max(int(block_s * reader.sample_rate), 1)
    for start in range(0, reader.num_samples, step):
        mono = reader.read(start, min(start + step, reader.num_samples)).double().mean(0)
        total, total_sq = total + float(mono.sum()), total_sq + float((mono * mono).sum())
    count = max(reader.num_samples, 1)
    mean = total / count
    return mean, max(total_sq / count - mean * mean, 0.0) ** 0.5


def separate(audio: Audio, model: str | os.PathLike | None = None, device: str | None = None,
             model_repo: str | os.PathLike | None = None,
             model_config: str | os.PathLike | None = None) -> dict[str, Audio]:
    """One-shot separation with a freshly loaded :class:`Separator` (arguments as there)."""
    return Separator(model, device=device, model_repo=model_repo, model_config=model_config).separate(audio)
