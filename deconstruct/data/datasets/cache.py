"""Write items of a stems dataset to disk in the folder-of-stems layout.

``<root>/<item:06d>/<stem>.wav`` plus ``mixture.wav`` (the sum of the stems, written last: an item folder with a
mixture is complete), float32 WAV, and ``<root>/cache.json`` describing the dataset the items came from.
:class:`~deconstruct.data.datasets.stems_dataset.FolderOfStems` reads the result, so a synthetic set rendered once can be
trained on many times.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from deconstruct.audio import Audio, save_audio
from deconstruct.errors import OutputError

MANIFEST = "cache.json"


def write_cache(dataset: Dataset, root: str | Path, num_items: int | None = None, sample_rate: int | None = None,
                resume: bool = False, overwrite: bool = False, num_workers: int = 0, progress: bool = False) -> Path:
    """Render ``num_items`` items of ``dataset`` (all by default) into ``root``.

    Args:
        dataset: yields ``dict[stem, Tensor[2, T]]`` items (e.g. :class:`SyntheticMultitracks`).
        root: output folder (created).
        num_items: how many items, from item 0.
        sample_rate: rate written to the files; the dataset's ``sample_rate`` attribute when None.
        resume: skip items whose folder is already complete (continue an interrupted cache).
        overwrite: allow writing into a folder that already holds a cache.
        num_workers: data-loader worker processes rendering items in parallel.
        progress: show a progress bar.

    Returns:
        ``root``.

    Raises:
        OutputError: ``root`` already holds a cache and neither ``resume`` nor ``overwrite`` is set, ``resume``
            meets a cache of another dataset (class, seed, duration, stems or rate differ), or it cannot be written.
    """
    root = Path(root)
    count = len(dataset) if num_items is None else min(int(num_items), len(dataset))
    rate = int(sample_rate or getattr(dataset, "sample_rate", 0))
    if rate <= 0:
        raise OutputError("the dataset has no sample_rate attribute; pass sample_rate=")
    if (root / MANIFEST).exists() and not (resume or overwrite):
        raise OutputError(f"{root} already holds a cache; pass resume=True to continue it or overwrite=True")
    described = _describe(dataset, rate)
    previous = json.loads((root / MANIFEST).read_text()) if (root / MANIFEST).exists() and not overwrite else {}
    different = [key for key, value in described.items() if previous and previous.get(key) != value]
    if different:
        raise OutputError(f"{root} holds a cache of another dataset ({', '.join(different)} differ); "
                          "use another folder or overwrite=True")
    try:
        root.mkdir(parents=True, exist_ok=True)
        # written first, so an interrupted cache still says what it holds
        (root / MANIFEST).write_text(json.dumps({**described, "items": max(count, previous.get("items", 0))},
                                                indent=2))
    except OSError as error:
        raise OutputError(f"{root}: cannot write the cache folder ({error.strerror})") from None

    todo = [i for i in range(count) if not (resume and _complete(root / f"{i:06d}"))]
    loader = DataLoader(_Indexed(dataset, todo), batch_size=None, num_workers=num_workers)
    for index, stems in tqdm(loader, total=len(todo), disable=not progress, desc="caching"):
        folder = root / f"{index:06d}"
        folder.mkdir(exist_ok=True)
        for name, audio in stems.items():
            save_audio(Audio(audio.float(), rate), folder / f"{name}.wav")
        mixture = torch.stack(list(stems.values())).sum(dim=0)
        save_audio(Audio(mixture.float(), rate), folder / "mixture.wav")  # last: marks the item complete
    return root


def _describe(dataset: Dataset, sample_rate: int) -> dict:
    """What identifies the cached content: the dataset's class, seed, item length, stems and rate."""
    stems = getattr(dataset, "stems", None)
    return {"dataset": type(dataset).__name__, "seed": getattr(dataset, "seed", None),
            "duration_s": getattr(dataset, "duration_s", None), "stems": list(stems) if stems else None,
            "sample_rate": sample_rate}


class _Indexed(Dataset):
    """``(index, item)`` pairs of selected indices, so workers can render out of order."""

    def __init__(self, dataset: Dataset, indices: list[int]) -> None:
        self.dataset, self.indices = dataset, indices

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, position: int) -> tuple[int, dict[str, torch.Tensor]]:
        index = self.indices[position]
        return index, self.dataset[index]


def _complete(folder: Path) -> bool:
    return (folder / "mixture.wav").is_file()
