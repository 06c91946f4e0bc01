"""Stems read block by block for the render engine, and the input they add up to.

A :class:`StemBlockSource` reads the same span of every stem (and of its dry version, where there is one) from
readers of :mod:`deconstruct.streaming` (in-memory tensors or files on disk), so a render never holds a whole song.
It hands the engine the *front* signal of each stem (the dry stem where there is one, else the stem) and the
removed reverberation (stem minus dry) of the stems whose reverberation was removed, and it feeds the *input*
(the sum of the stems, which separation makes equal to the mixture) to a meter. In the input, a mono stem joins
a stereo sum at -3 dB in both channels (constant power).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping

import numpy as np

from deconstruct.errors import InputError
from deconstruct.streaming import BlockReader, FileReader


class StemBlockSource:
    """``(start, stop) -> (fronts, residuals)`` over stem readers (see the module docstring).

    Args:
        stems: stem name -> reader of the stem.
        dry: stem name -> reader of its dry version (any subset of the stems).
        residual_names: stems whose removed reverberation (stem minus dry) is handed out (need a dry version).
        meter: optional ``update([channels, n])`` object fed with the input (sum of the stems).

    Raises:
        InputError: no stems, mixed sample rates or lengths, a dry version that does not match its stem, a
            residual asked for a stem without a dry version.
    """

    def __init__(self, stems: Mapping[str, BlockReader], dry: Mapping[str, BlockReader] | None = None,
                 residual_names: set[str] | frozenset[str] = frozenset(), meter=None) -> None:
        if not stems:
            raise InputError("no stems to render; give a dict of stem name -> Audio")
        self.stems, self.dry = dict(stems), dict(dry or {})
        self.residual_names = set(residual_names)
        self.meter = meter
        rates = {reader.sample_rate for reader in self.stems.values()}
        lengths = {reader.num_samples for reader in self.stems.values()}
        if len(rates) > 1:
            raise InputError(f"stems have different sample rates {sorted(rates)}; resample them to one rate")
        if len(lengths) > 1:
            raise InputError(f"stems have different lengths {sorted(lengths)} samples; trim or pad them to one length")
        self.sample_rate, self.num_samples = rates.pop(), lengths.pop()
        unknown = sorted(set(self.dry) - set(self.stems))
        if unknown:
            raise InputError(f"dry stem(s) {', '.join(map(repr, unknown))} have no stem of the same name")
        for name, reader in self.dry.items():
            stem = self.stems[name]
            if (reader.sample_rate, reader.channels, reader.num_samples) != (stem.sample_rate, stem.channels,
                                                                             stem.num_samples):
                raise InputError(f"dry stem {name!r} is {reader.channels} ch, {reader.num_samples} samples at "
                                 f"{reader.sample_rate} Hz but its stem is {stem.channels} ch, {stem.num_samples} "
                                 f"samples at {stem.sample_rate} Hz; give a dry stem of the same format")
        missing = sorted(self.residual_names - set(self.dry))
        if missing:
            raise InputError(f"removed reverberation asked for stem(s) {', '.join(map(repr, missing))} "
                             "without a dry version")
        self.channels = {name: reader.channels for name, reader in self.stems.items()}
        self.input_channels = min(2, max(self.channels.values()))

    def __call__(self, start: int, stop: int) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        fronts, residuals = {}, {}
        mixture = np.zeros((self.input_channels, stop - start))
        for name, reader in self.stems.items():
            wet = reader.read(start, stop).numpy().astype(np.float64)
            if wet.shape[0] == mixture.shape[0]:
                mixture += wet
            else:
                mixture += wet.mean(axis=0, keepdims=True) * (math.sqrt(wet.shape[0] / mixture.shape[0]))
            if name in self.dry:
                fronts[name] = self.dry[name].read(start, stop).numpy().astype(np.float64)
                if name in self.residual_names:
                    residuals[name] = wet - fronts[name]
            else:
                fronts[name] = wet
        if self.meter is not None:
            self.meter.update(mixture)
        return fronts, residuals

    def close(self) -> None:
        for reader in (*self.stems.values(), *self.dry.values()):
            if hasattr(reader, "close"):
                reader.close()


def file_readers(paths: Mapping[str, str | os.PathLike]) -> dict[str, FileReader]:
    """Block readers of stem files."""
    return {name: FileReader(path) for name, path in paths.items()}
