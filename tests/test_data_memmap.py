"""Memory-mapped trials: the directory format, and fitting on it one batch at a time.

(The lazy-array helpers are tested in test_data_lazy.py, the block statistics in
test_data_stats.py.)"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from neurognocchi import _chunks
from neurognocchi.data import _lazy, load_trials, make_toy_dataset
from neurognocchi.data._lazy import RowSubset, is_memory_mapped
from neurognocchi.data.memmap import create_memmap, open_memmap, save_memmap
from neurognocchi.data.trials import Trials
from neurognocchi.estimators import GNOCCHI, LFADS

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = dict(code_dim=3, max_epochs=2, batch_size=8, verbose=False, random_state=0, device="cpu")
GNOCCHI_TINY = dict(channels=8, channel_mults=(1, 2), encoder_dim=8, n_train_steps=50)


@pytest.fixture(scope="module")
def toy():
    return make_toy_dataset(40, n_neurons=6, n_time=12, random_state=0)


@pytest.fixture
def mapped(toy, tmp_path):
    save_memmap(toy, tmp_path / "toy")
    return open_memmap(tmp_path / "toy")


def test_round_trip_is_lossless_and_memory_mapped(toy, mapped):
    for name in ("activity", "spikes", "truth", "behavior"):
        original, loaded = getattr(toy, name), getattr(mapped, name)
        assert (original is None and loaded is None) or np.array_equal(original, loaded), name
    assert isinstance(mapped.activity, np.memmap) and not mapped.activity.flags.writeable
    assert isinstance(mapped.spikes, np.memmap)
    assert mapped.trial_info.keys() == toy.trial_info.keys()
    for key, column in toy.trial_info.items():
        np.testing.assert_array_equal(mapped.trial_info[key], column)
    assert (mapped.bin_size_s, mapped.align) == (toy.bin_size_s, toy.align)
    assert mapped.behavior_names == toy.behavior_names


def test_load_trials_reads_a_directory_mapped_or_into_memory(toy, tmp_path):
    save_memmap(toy, tmp_path / "toy")
    assert isinstance(load_trials(tmp_path / "toy", mmap=True).activity, np.memmap)
    in_memory = load_trials(tmp_path / "toy")
    assert not is_memory_mapped(in_memory.activity)
    np.testing.assert_array_equal(in_memory.activity, toy.activity)


def test_npz_cannot_be_memory_mapped(toy, tmp_path):
    toy.save(tmp_path / "toy.npz")
    with pytest.raises(ValueError, match="cannot be memory-mapped"):
        Trials.load(tmp_path / "toy.npz", mmap=True)


def test_existing_directory_is_not_overwritten(toy, tmp_path):
    save_memmap(toy, tmp_path / "toy")
    with pytest.raises(FileExistsError):
        save_memmap(toy, tmp_path / "toy")
    with pytest.raises(FileExistsError):
        create_memmap(tmp_path / "toy", 2, 3, 4)


def test_wrong_meta_and_missing_files_fail_clearly(toy, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"meta\.json"):
        open_memmap(tmp_path)
    save_memmap(toy, tmp_path / "toy")
    (tmp_path / "toy" / "spikes.npy").unlink()
    with pytest.raises(FileNotFoundError, match="incomplete"):
        open_memmap(tmp_path / "toy")
    (tmp_path / "toy" / "meta.json").write_text(json.dumps({"format": "other", "version": 1}))
    with pytest.raises(ValueError, match=r"expected neurognocchi\.Trials\.memmap"):
        open_memmap(tmp_path / "toy")


def test_create_memmap_fills_block_by_block(tmp_path):
    arrays = create_memmap(
        tmp_path / "big", 10, 4, 3, fields=("activity", "spikes"), bin_size_s=0.01
    )
    for start in range(0, 10, 4):
        block = np.arange(start, min(start + 4, 10), dtype=np.float32)[:, None, None]
        arrays["activity"][start : start + 4] = block
        arrays["spikes"][start : start + 4] = 1
    for array in arrays.values():
        array.flush()
    trials = open_memmap(tmp_path / "big")
    assert trials.activity.shape == (10, 4, 3) and trials.bin_size_s == 0.01
    np.testing.assert_array_equal(trials.activity[:, 0, 0], np.arange(10))
    assert trials.spikes.dtype == np.int32 and int(trials.spikes.sum()) == 120


def test_slices_stay_mapped_and_fancy_indexing_copies(mapped):
    assert isinstance(mapped[2:5].activity, np.memmap)
    subset = mapped[np.array([0, 3])]
    assert not is_memory_mapped(subset.activity) and subset.n_trials == 2


def test_nan_in_a_mapped_file_is_found_in_blocks(tmp_path, monkeypatch):
    monkeypatch.setattr(_chunks, "CHUNK_BYTES", 100)  # many small blocks
    arrays = create_memmap(tmp_path / "bad", 6, 4, 3)
    arrays["activity"][5, 3, 2] = np.nan
    arrays["activity"].flush()
    with pytest.raises(ValueError, match="activity contains 1 NaN"):
        open_memmap(tmp_path / "bad")


class RecordingSubset(RowSubset):
    largest_read = 0

    def __getitem__(self, index):
        out = super().__getitem__(index)
        RecordingSubset.largest_read = max(RecordingSubset.largest_read, len(out))
        return out


@pytest.mark.parametrize("estimator", ["gnocchi", "lfads"])
def test_fit_on_mapped_trials_matches_in_memory_fit(toy, mapped, estimator, monkeypatch):
    monkeypatch.setattr(_lazy, "RowSubset", RecordingSubset)
    RecordingSubset.largest_read = 0
    make = {
        "gnocchi": lambda: GNOCCHI(**GNOCCHI_TINY, **TINY),
        "lfads": lambda: LFADS(encoder_dim=8, generator_dim=8, factor_dim=3, **TINY),
    }[estimator]
    from_memory, from_disk = make().fit(toy), make().fit(mapped)
    # reads are batches, or blocks of statistics capped far below the file for real data
    assert 0 < RecordingSubset.largest_read <= len(toy)
    memory_state, disk_state = from_memory.model_.state_dict(), from_disk.model_.state_dict()
    for key, value in memory_state.items():
        torch.testing.assert_close(disk_state[key], value, rtol=1e-4, atol=1e-5, msg=key)
    np.testing.assert_allclose(from_disk.encode(mapped), from_memory.encode(toy), atol=1e-4)


def test_training_reads_one_batch_at_a_time(mapped, monkeypatch):
    monkeypatch.setattr(_lazy, "RowSubset", RecordingSubset)
    RecordingSubset.largest_read = 0
    model = GNOCCHI(**GNOCCHI_TINY, **TINY)
    monkeypatch.setattr(model, "_set_normalization", lambda data: None)  # skip the stats pass
    model.fit(mapped)
    assert RecordingSubset.largest_read == TINY["batch_size"]
