"""Mutated audio, SOFA, JSON-settings and checkpoint files: every outcome is a result or a one-line project error.

A brief run of eval/benchmarks/fuzz_readers.py's readers through hypothesis (a few seconds per reader); the
benchmark runs them at length.
"""

from __future__ import annotations

import struct

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deconstruct.audio import load_audio
from deconstruct.errors import InputError
from deconstruct.streaming import FileReader
from eval.benchmarks.fuzz_readers import OPERATIONS, READERS, apply_mutations, outcome

MUTATIONS = st.lists(st.tuples(st.sampled_from(OPERATIONS), st.integers(0, 1 << 20), st.integers(0, 1 << 16)),
                     min_size=1, max_size=6)
EXAMPLES = {"audio": 60, "sofa": 25, "json": 80, "checkpoint": 40}


@pytest.fixture(scope="module")
def seeds(tmp_path_factory):
    return {name: [(path, path.read_bytes()) for path in reader.seeds(tmp_path_factory.mktemp(name))]
            for name, reader in READERS.items()}


@pytest.mark.parametrize("name", list(READERS))
def test_mutated_files_give_results_or_one_line_errors(name, seeds, tmp_path_factory):
    folder = tmp_path_factory.mktemp(f"fuzz_{name}")

    @settings(max_examples=EXAMPLES[name], deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(choice=st.integers(0, 7), mutations=MUTATIONS)
    def check(choice, mutations):
        path, data = seeds[name][choice % len(seeds[name])]
        candidate = folder / f"fuzz{path.suffix}"
        candidate.write_bytes(apply_mutations(data, mutations))
        result = outcome(READERS[name], candidate)
        assert not result.startswith("BUG"), result

    check()


def test_a_header_claiming_billions_of_frames_is_refused_without_allocating(tmp_path):
    path = tmp_path / "claims.wav"
    sf.write(path, np.zeros((1000, 2), dtype=np.float32), 44100, subtype="FLOAT")
    data = bytearray(path.read_bytes())
    at = data.index(b"data") + 4
    data[at:at + 4] = struct.pack("<I", 0xFFFFFFF0)  # about 536 million stereo float frames
    path.write_bytes(bytes(data))
    for reader in (load_audio, FileReader):
        try:
            result = reader(path)
        except InputError as error:
            assert len(str(error).splitlines()) == 1
        else:  # libsndfile may clamp the claim to the file size; then the real 1000 frames are read
            frames = result.num_samples
            assert frames <= 1000


def test_a_file_shorter_than_its_claim_is_an_input_error_when_streamed(tmp_path):
    path = tmp_path / "short.flac"
    sf.write(path, 0.1 * np.ones((441000, 2), dtype=np.float32), 44100, subtype="PCM_16")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    reader = FileReader(path)
    with pytest.raises(InputError, match="truncated or corrupt|cannot decode"):
        for start in range(0, reader.num_samples, 44100):
            reader.read(start, min(start + 44100, reader.num_samples))
    reader.close()
