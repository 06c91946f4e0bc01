"""Published demucs models: what exists, what is cached, and getting them through demucs's own mechanism.

demucs 4.1 publishes each named model (a bag of one or more models) on the Hugging Face hub
(``adefossez/<HTDemucs...>``: ``<name>.yaml`` and ``<sig>.safetensors``) and keeps its legacy download site
(``<sig>-<checksum>.th`` files listed in the package's ``remote/files.txt``, bags in ``remote/<name>.yaml``).
A model is *cached* when every file it needs is in either cache (the Hugging Face cache, or torch hub's
``checkpoints`` folder). Downloads go through ``huggingface_hub.hf_hub_download`` and, failing that,
``torch.hub.download_url_to_file`` (both with a progress bar), then load through :mod:`.demucs_files` (allow-listed
classes, checksums kept). Without a network, an uncached model fails at once with a one-line
:class:`~deconstruct.errors.ModelError` that names ``--model-repo``; reachability is probed with connect timeouts
of :data:`CONNECT_TIMEOUT_S` seconds, so refused or dropped packets both end in time.
"""

from __future__ import annotations

import os
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable
from urllib.parse import urlparse

import torch

from deconstruct.errors import ModelError
from deconstruct.separation.backends.demucs_files import BagSpec

CONNECT_TIMEOUT_S = 10.0
HF_NAMESPACE = "adefossez"
DEMUCS_README = "demucs README (github.com/adefossez/demucs, v4.1.0)"
HTDEMUCS_PAPER = "Rouard, Massa, Défossez, Hybrid Transformers for Music Source Separation, ICASSP 2023 (arXiv:2211.08553)"


@dataclass(frozen=True)
class PublishedModel:
    """A model published by the demucs project.

    Attributes:
        name: demucs's name (``--model demucs:<name>``).
        stems: its sources, in output order.
        sdr_db: published MUSDB18-HQ test SDR (mean over sources) for this very model, ``None`` when none was
            published.
        score_note: what the published number is and where it comes from.
        rank: preference for ``--model best`` (lower is better).
        licence: the licence the weights are released under.
    """

    name: str
    stems: tuple[str, ...]
    sdr_db: float | None
    score_note: str
    rank: int
    licence: str = "MIT (demucs repository)"
    description: str = field(default="")


FOUR = ("drums", "bass", "other", "vocals")
PUBLISHED: dict[str, PublishedModel] = {model.name: model for model in (
    PublishedModel("htdemucs_ft", FOUR, 9.0, f"'HT Demucs f.t. (v4)', overall SDR 9.0 dB, {DEMUCS_README}; "
                   "per-source fine-tuned bag of 4 HT Demucs", 0,
                   description="Hybrid Transformer Demucs, fine-tuned per source (4 models; 4x slower)"),
    PublishedModel("htdemucs", FOUR, None, f"no separate score: {HTDEMUCS_PAPER} reports the non-fine-tuned model "
                   "0.45 dB above Hybrid Demucs trained on the same data", 1,
                   description="Hybrid Transformer Demucs, MUSDB + 800 songs (demucs's default)"),
    PublishedModel("hdemucs_mmi", FOUR, None, f"no score for this retrained model; Hybrid Demucs (v3) trained on "
                   f"MUSDB alone: 7.7 dB, {DEMUCS_README}", 2,
                   description="Hybrid Demucs v3 retrained on MUSDB + 800 songs"),
    PublishedModel("mdx_extra", FOUR, None, f"ranked 2nd on track B of the MDX 2021 challenge ({DEMUCS_README}); "
                   "trained with extra data including the MUSDB test set, so no fair MUSDB score", 3,
                   description="Hybrid Demucs (MDX 2021), extra training data"),
    PublishedModel("mdx", FOUR, None, f"won track A of the MDX 2021 challenge ({DEMUCS_README})", 4,
                   description="Hybrid Demucs (MDX 2021), MUSDB HQ only"),
    PublishedModel("htdemucs_6s", (*FOUR, "guitar", "piano"), None, f"no score published; the {DEMUCS_README} "
                   "calls guitar okay and piano weak (bleeding, artifacts)", 5,
                   description="Hybrid Transformer Demucs with guitar and piano (6 stems)"),
)}


def hf_repo_id(name: str) -> str:
    """The Hugging Face repository demucs 4.1 downloads ``name`` from."""
    from demucs.hf import hf_repo_name

    return f"{HF_NAMESPACE}/{hf_repo_name(name)}"


def _hf_cache_dir() -> str:
    from huggingface_hub import constants

    return str(constants.HF_HUB_CACHE)


def _hf_cached(repo_id: str, filename: str) -> Path | None:
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(repo_id, filename, cache_dir=_hf_cache_dir())
    return Path(found) if isinstance(found, str) else None


def _legacy_urls() -> dict[str, str]:
    from demucs import pretrained

    return pretrained._parse_remote_files(pretrained.REMOTE_ROOT / "files.txt")


def _legacy_bag(name: str) -> BagSpec | None:
    from demucs import pretrained

    file = Path(pretrained.REMOTE_ROOT) / f"{name}.yaml"
    return BagSpec.read(file) if file.is_file() else None


def _torch_hub_file(url: str) -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(urlparse(url).path)


@dataclass(frozen=True)
class CachedModel:
    """Where a cached published model's files are: the bag and its model files, and which cache."""

    spec: BagSpec
    paths: list[Path]
    cache: str


def find_cached(name: str) -> CachedModel | None:
    """The cached files of published model ``name`` (either cache), or ``None`` when something is missing."""
    yaml_file = _hf_cached(hf_repo_id(name), f"{name}.yaml")
    if yaml_file is not None:
        spec = BagSpec.read(yaml_file)
        paths = [_hf_cached(hf_repo_id(name), f"{sig}.safetensors") for sig in spec.signatures]
        if all(paths):
            return CachedModel(spec, paths, "huggingface")  # type: ignore[arg-type]
    spec = _legacy_bag(name)
    urls = _legacy_urls()
    if spec is None and name in urls:
        spec = BagSpec([name])
    if spec is not None and all(sig in urls for sig in spec.signatures):
        paths = [_torch_hub_file(urls[sig]) for sig in spec.signatures]
        if all(path.is_file() for path in paths):
            return CachedModel(spec, paths, "torch-hub")
    return None


def is_known(name: str) -> bool:
    """True when demucs publishes ``name`` (a bag name or a legacy signature)."""
    return name in PUBLISHED or _legacy_bag(name) is not None or name in _legacy_urls()


def _endpoints() -> list[str]:
    from demucs import pretrained
    from huggingface_hub import constants

    urls = [] if constants.HF_HUB_OFFLINE else [str(constants.ENDPOINT)]
    return [*urls, str(pretrained.ROOT_URL)]


def _can_connect(url: str, timeout_s: float) -> bool:
    parsed = urlparse(url)
    if parsed.scheme == "file":
        return Path(parsed.path).exists()
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        socket.create_connection((parsed.hostname or "", port), timeout=timeout_s).close()
        return True
    except OSError:
        return False


def reachable(timeout_s: float | None = None) -> bool:
    """Whether any download site answers a TCP connect within ``timeout_s`` (all probed at once).

    Runs in daemon threads joined with a deadline, so a name lookup that hangs cannot stretch the wait.
    """
    timeout_s = CONNECT_TIMEOUT_S if timeout_s is None else timeout_s
    answers: list[bool] = []
    threads = [threading.Thread(target=lambda u=url: answers.append(_can_connect(u, timeout_s)), daemon=True)
               for url in _endpoints()]
    for thread in threads:
        thread.start()
    deadline = timeout_s + 1.0
    for thread in threads:
        thread.join(deadline)
        if any(answers):
            return True
    return any(answers)


def not_cached_error(name: str, why: str) -> ModelError:
    return ModelError(f"demucs model {name!r} is not cached and needs a download, but {why}; run "
                      f"`deconstruct fetch demucs:{name}` on a connected machine, or pass --model-repo DIR (or set "
                      "DECONSTRUCT_MODEL_REPO) to a folder holding its .yaml and .th files")


class _SocketTimeout:
    """Default socket timeout for the downloads (urllib has none), restored afterwards."""

    def __init__(self, seconds: float) -> None:
        self.seconds, self.previous = seconds, None

    def __enter__(self) -> None:
        self.previous = socket.getdefaulttimeout()
        socket.setdefaulttimeout(self.seconds)

    def __exit__(self, *_) -> None:
        socket.setdefaulttimeout(self.previous)


def _download_hf(name: str) -> CachedModel:
    import huggingface_hub

    repo_id, cache = hf_repo_id(name), _hf_cache_dir()
    yaml_file = Path(huggingface_hub.hf_hub_download(repo_id, f"{name}.yaml", cache_dir=cache))
    spec = BagSpec.read(yaml_file)
    paths = [Path(huggingface_hub.hf_hub_download(repo_id, f"{sig}.safetensors", cache_dir=cache))
             for sig in spec.signatures]
    return CachedModel(spec, paths, "huggingface")


def _download_legacy(name: str) -> CachedModel:
    urls = _legacy_urls()
    spec = _legacy_bag(name) or BagSpec([name])
    missing = [sig for sig in spec.signatures if sig not in urls]
    if missing:
        raise ModelError(f"demucs lists no file for signature(s) {', '.join(missing)} of {name!r}")
    paths = []
    for sig in spec.signatures:
        target = _torch_hub_file(urls[sig])
        if not target.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            match = torch.hub.HASH_REGEX.search(target.name)
            torch.hub.download_url_to_file(urls[sig], str(target), match.group(1) if match else None, progress=True)
        paths.append(target)
    return CachedModel(spec, paths, "torch-hub")


def download(name: str, log: Callable[[str], None] | None = None) -> CachedModel:
    """Fetch published model ``name`` into demucs's caches (the hub first, then the legacy site), with progress.

    Raises:
        ModelError: unknown name, no network (within about :data:`CONNECT_TIMEOUT_S` s), or both sites failing.
    """
    if not is_known(name):
        raise ModelError(f"demucs publishes no model {name!r}; published: {', '.join(PUBLISHED)} (and their bags); "
                         "for your own files pass --model-repo DIR")
    if not reachable():
        raise not_cached_error(name, f"no download site answered within {CONNECT_TIMEOUT_S:.0f} s (offline?)")
    errors = []
    with _SocketTimeout(CONNECT_TIMEOUT_S):
        from huggingface_hub import constants

        steps = [("legacy", _download_legacy)] if constants.HF_HUB_OFFLINE else \
            [("hub", _download_hf), ("legacy", _download_legacy)]
        for label, step in steps:
            try:
                if log:
                    log(f"downloading demucs model {name} ({label} site)")
                return step(name)
            except ModelError:
                raise
            except Exception as error:  # network and hub errors of many types: try the next site
                errors.append(f"{label}: {type(error).__name__}")
    raise not_cached_error(name, f"the download failed ({'; '.join(errors)})")
