"""torchaudio ``HDemucs`` of any size, its constructor arguments read off a state dict.

torchaudio ships three presets (``hdemucs_low/medium/high``: nfft 1024/2048/4096, depth 5/6/6, 48 channels), but a
state dict trained with other settings is just as loadable once the settings are known. They are all visible in
the tensor shapes:

- ``channels``: output channels of ``freq_encoder.0.conv``; ``audio_channels``: its input channels / 2 (the
  spectrogram's real and imaginary parts are stacked as channels);
- ``growth``: output channels of ``freq_encoder.1.conv`` / ``channels``;
- ``depth``: the number of ``freq_encoder`` layers;
- sources: input channels of the last ``freq_decoder`` transposed conv / (2 * ``audio_channels``);
- ``nfft``: 8 x the rows of ``freq_emb.embedding`` (the frequency embedding works on ``nfft / 2 / stride``
  bins); without an embedding, the size whose model has exactly these shapes.
"""

from __future__ import annotations

from typing import Any, Mapping

import torch

from deconstruct.errors import ModelError

NFFT_CANDIDATES = (256, 512, 1024, 2048, 4096, 8192, 16384)


def _layers(state: Mapping[str, torch.Tensor], prefix: str) -> int:
    return len({key.split(".")[1] for key in state if key.startswith(prefix)})


def _shapes(state: Mapping[str, torch.Tensor]) -> dict[str, tuple[int, ...]]:
    return {key: tuple(value.shape) for key, value in state.items()}


def hdemucs_kwargs(state: Mapping[str, torch.Tensor]) -> tuple[int, dict[str, Any]]:
    """Number of sources and ``torchaudio.models.HDemucs`` keyword arguments for a state dict.

    Args:
        state: an HDemucs state dict (keys as ``HDemucs.state_dict()``, no prefix).

    Raises:
        ModelError: the shapes fit no HDemucs.
    """
    from torchaudio.models import HDemucs

    try:
        first = state["freq_encoder.0.conv.weight"]
        depth = _layers(state, "freq_encoder.")
        channels, audio_channels = int(first.shape[0]), int(first.shape[1]) // 2
        growth = int(state["freq_encoder.1.conv.weight"].shape[0]) // channels if depth > 1 else 2
        last = state[f"freq_decoder.{depth - 1}.conv_tr.weight"]
        num_sources = int(last.shape[1]) // (2 * audio_channels)
    except (KeyError, IndexError, ZeroDivisionError):
        raise ModelError("not an HDemucs state dict: freq_encoder/freq_decoder weights are missing") from None
    kwargs: dict[str, Any] = {"audio_channels": audio_channels, "channels": channels, "growth": growth,
                              "depth": depth}
    if "freq_emb.embedding.weight" in state:
        candidates = [int(state["freq_emb.embedding.weight"].shape[0]) * 8]
    else:
        kwargs["freq_emb"] = 0.0
        candidates = list(NFFT_CANDIDATES)
    wanted = _shapes(state)
    sources = [f"source_{index}" for index in range(num_sources)]
    for nfft in candidates:
        try:
            model = HDemucs(sources=sources, nfft=nfft, **kwargs)
        except Exception:  # a size torchaudio cannot build with these settings
            continue
        if _shapes(model.state_dict()) == wanted:
            return num_sources, {**kwargs, "nfft": nfft}
    raise ModelError(f"no HDemucs (channels {channels}, depth {depth}, growth {growth}) has these weights' shapes; "
                     "is it a torchaudio HDemucs state dict?")
