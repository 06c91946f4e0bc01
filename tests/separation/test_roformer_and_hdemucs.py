"""RoFormer checkpoints (Music-Source-Separation-Training layout) and torchaudio HDemucs state dicts of any size."""

from __future__ import annotations

import json
import re

import pytest
import soundfile as sf
import torch

from deconstruct.cli import main
from deconstruct.errors import ModelError
from deconstruct.separation import Separator

BS_CONFIG = """audio:
  chunk_size: 44100
  num_channels: 2
  sample_rate: 44100
model:
  dim: 16
  depth: 1
  stereo: true
  num_stems: 2
  time_transformer_depth: 1
  freq_transformer_depth: 1
  linear_transformer_depth: 0
  freqs_per_bands: !!python/tuple [2, 2, 4, 4, 8, 8, 16, 85]
  dim_head: 8
  heads: 2
  attn_dropout: 0.1
  ff_dropout: 0.1
  flash_attn: false
  dim_freqs_in: 129
  stft_n_fft: 256
  stft_hop_length: 128
  stft_win_length: 256
  stft_normalized: false
  mask_estimator_depth: 2
  multi_stft_resolution_loss_weight: 1.0
  multi_stft_resolutions_window_sizes: !!python/tuple [128, 64]
  multi_stft_hop_size: 32
  multi_stft_normalized: false
  mlp_expansion_factor: 4
  use_torch_checkpoint: false
  skip_connection: false
training:
  instruments: [Vocals, instrum]
  target_instrument: null
"""

MEL_CONFIG = """audio:
  chunk_size: 44100
  sample_rate: 44100
model:
  dim: 16
  depth: 1
  stereo: true
  num_stems: 1
  time_transformer_depth: 1
  freq_transformer_depth: 1
  num_bands: 8
  dim_head: 8
  heads: 2
  flash_attn: false
  dim_freqs_in: 257
  sample_rate: 44100
  stft_n_fft: 512
  stft_hop_length: 128
  stft_win_length: 512
  mask_estimator_depth: 1
training:
  instruments: [vocals, other]
  target_instrument: vocals
"""

# Key names as that project's modules save them (models/bs_roformer/{bs,mel_band}_roformer.py): per depth step a
# ModuleList [time transformer, frequency transformer] (no linear-attention slot when linear_transformer_depth is 0);
# each Transformer's layers are [Attention(norm, to_qkv, to_gates, to_out), FeedForward(net: RMSNorm, Linear, GELU,
# Dropout, Linear, Dropout)]; BS-RoFormer has final_norm and no per-transformer norm, Mel-Band the reverse.
BS_REAL_KEYS = {"layers.0.0.layers.0.0.norm.gamma", "layers.0.0.layers.0.0.to_qkv.weight",
                "layers.0.0.layers.0.0.to_gates.bias", "layers.0.0.layers.0.0.to_out.0.weight",
                "layers.0.1.layers.0.1.net.0.gamma", "layers.0.1.layers.0.1.net.4.weight", "final_norm.gamma",
                "band_split.to_features.7.0.gamma", "band_split.to_features.7.1.weight",
                "mask_estimators.1.to_freqs.7.0.0.weight", "mask_estimators.1.to_freqs.7.0.2.bias"}
MEL_REAL_KEYS = {"layers.0.0.layers.0.0.to_qkv.weight", "layers.0.0.layers.0.1.net.1.weight", "layers.0.0.norm.gamma",
                 "layers.0.1.layers.0.0.to_gates.weight", "layers.0.1.norm.gamma", "band_split.to_features.0.0.gamma",
                 "mask_estimators.0.to_freqs.0.0.0.weight", "mask_estimators.0.to_freqs.0.0.2.weight"}


def _as_training_project_layout(state: dict, mel: bool) -> dict:
    """bs-roformer 0.4.1 keeps an empty linear-attention slot in Mel-Band models; that project does not."""
    if not mel:
        return dict(state)
    return {re.sub(r"^layers\.(\d+)\.(\d+)\.", lambda m: f"layers.{m.group(1)}.{int(m.group(2)) - 1}.", key): value
            for key, value in state.items()}


def _checkpoint(tmp_path, config_text: str, mel: bool):
    from bs_roformer import BSRoformer, MelBandRoformer

    from deconstruct.separation.backends.roformer import _model_kwargs, read_config

    config_path = tmp_path / ("mel.yaml" if mel else "bs.yaml")
    config_path.write_text(config_text)
    config = read_config(config_path)
    torch.manual_seed(0)
    model = (MelBandRoformer if mel else BSRoformer)(**_model_kwargs(config, "mel" if mel else "bs", config_path))
    state = {key: value for key, value in _as_training_project_layout(model.state_dict(), mel).items()
             if not key.endswith("rotary_embed.freqs")}  # fixed, and not in every published file
    path = tmp_path / ("mel.ckpt" if mel else "bs.ckpt")
    torch.save(state, path)
    return path, config_path, set(state)


def test_bs_roformer_checkpoint_runs_the_cli(tmp_path, short_song):
    checkpoint, config, keys = _checkpoint(tmp_path, BS_CONFIG, mel=False)
    assert BS_REAL_KEYS <= keys
    out = tmp_path / "out"
    assert main([str(short_song), "-o", str(out), "--model", str(checkpoint), "--model-config", str(config),
                 "--stages", "separate", "-q"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert list(report["stems"]) == ["vocals", "accompaniment"]  # "Vocals", "instrum" normalised
    assert report["separator"]["backend"] == "roformer" and report["separator"]["model_stems"] == ["Vocals", "instrum"]
    assert report["separator"]["chunk_s"] <= 1.0  # the config's chunk_size
    assert sf.info(out / "stems" / "vocals.wav").frames == sf.info(short_song).frames


def test_mel_band_roformer_one_target_gets_the_residual(tmp_path):
    checkpoint, config, keys = _checkpoint(tmp_path, MEL_CONFIG, mel=True)
    assert MEL_REAL_KEYS <= keys and not any(key.startswith("layers.0.2.") for key in keys)
    separator = Separator(checkpoint, model_config=config)
    assert separator.stems == ["vocals", "other"]
    from deconstruct.audio import Audio

    mixture = torch.randn(2, 22050) * 0.1
    stems = separator.separate(Audio(mixture, 44100))
    assert torch.allclose(stems["vocals"].samples + stems["other"].samples, mixture, atol=1e-4)


def test_roformer_weights_that_do_not_fit_the_config_are_refused(tmp_path):
    checkpoint, config, _ = _checkpoint(tmp_path, BS_CONFIG, mel=False)
    (tmp_path / "other.yaml").write_text(BS_CONFIG.replace("dim: 16", "dim: 32"))
    with pytest.raises(ModelError, match="shapes"):
        Separator(checkpoint, model_config=tmp_path / "other.yaml")


def test_torchaudio_hdemucs_of_any_size(tmp_path, short_song):
    from torchaudio.models import HDemucs

    from deconstruct.models.hdemucs_shapes import hdemucs_kwargs

    torch.manual_seed(0)
    model = HDemucs(sources=["drums", "bass", "other", "vocals"], channels=4, depth=4, nfft=1024)  # not a preset
    path = tmp_path / "hdemucs.pt"
    torch.save(model.state_dict(), path)
    audio, rate = sf.read(short_song)
    song = tmp_path / "half_second.wav"
    sf.write(song, audio[:rate // 2].astype("float32"), rate)
    out = tmp_path / "out"
    assert main([str(song), "-o", str(out), "--model", str(path), "--stages", "separate", "-q"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert list(report["stems"]) == ["drums", "bass", "other", "vocals"]
    assert report["separator"]["backend"] == "torchaudio-hdemucs" and report["separator"]["name"] == "hdemucs"
    assert Separator(path).resolved.config["arch_kwargs"]["nfft"] == 1024
    mono = HDemucs(sources=["a", "b", "c"], audio_channels=1, channels=6, growth=3, depth=3, nfft=256, freq_emb=0.0)
    assert hdemucs_kwargs(mono.state_dict()) == (3, {"audio_channels": 1, "channels": 6, "growth": 3, "depth": 3,
                                                     "freq_emb": 0.0, "nfft": 256})
