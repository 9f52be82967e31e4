"""The lazy-array helpers: block iteration and page release (`neurognocchi._chunks`),
`RowSubset` and `split_rows` (`neurognocchi.data._lazy`)."""

from __future__ import annotations

import numpy as np
import pytest

from neurognocchi import _chunks
from neurognocchi._chunks import release_pages, trial_chunks
from neurognocchi.data import make_toy_dataset
from neurognocchi.data._lazy import ARRAY_FIELDS, RowSubset, is_memory_mapped, split_rows
from neurognocchi.data.memmap import create_memmap, open_memmap, save_memmap


@pytest.fixture(scope="module")
def toy():
    return make_toy_dataset(40, n_neurons=6, n_time=12, random_state=0)


@pytest.fixture
def mapped(toy, tmp_path):
    save_memmap(toy, tmp_path / "toy")
    return open_memmap(tmp_path / "toy")


def test_row_subset_reads_only_the_rows_asked_for(toy):
    subset = RowSubset(toy.activity, [1, 4, 7, 9])
    assert len(subset) == 4 and subset.shape == (4, *toy.activity.shape[1:])
    np.testing.assert_array_equal(subset[np.array([0, 2])], toy.activity[[1, 7]])
    np.testing.assert_array_equal(subset[1:3], toy.activity[[4, 7]])


def test_trial_chunks_cover_every_trial_in_order(toy, monkeypatch):
    monkeypatch.setattr(_chunks, "CHUNK_BYTES", toy.activity[:1].nbytes * 3)
    blocks = list(trial_chunks(toy.activity))
    assert [len(block) for block in blocks] == [3] * 13 + [1]
    np.testing.assert_array_equal(np.concatenate(blocks), toy.activity)
    assert ARRAY_FIELDS == ("activity", "spikes", "truth", "behavior")


def test_split_rows_copies_in_memory_arrays(toy):
    train, valid = split_rows(toy.activity, [[0, 2, 5], [1, 3]])
    assert isinstance(train, np.ndarray) and not isinstance(train, RowSubset)
    np.testing.assert_array_equal(train, toy.activity[[0, 2, 5]])
    np.testing.assert_array_equal(valid, toy.activity[[1, 3]])


def test_split_rows_gives_lazy_views_of_mapped_arrays(mapped, toy):
    parts = split_rows(mapped.activity, mapped.split_indices((0.75, 0.25), random_state=0))
    assert all(isinstance(part, RowSubset) and is_memory_mapped(part) for part in parts)
    assert sum(len(part) for part in parts) == len(toy)
    rows = parts[1].rows
    np.testing.assert_array_equal(parts[1][np.arange(len(rows))], toy.activity[rows])
    # a subset of a subset reads straight from the file
    (inner,) = split_rows(parts[1], [[1, 0]])
    assert inner.array is mapped.activity
    np.testing.assert_array_equal(inner[0:2], toy.activity[rows[[1, 0]]])


def test_releasing_pages_keeps_the_data_and_spares_copy_on_write_edits(tmp_path):
    arrays = create_memmap(tmp_path / "d", 4, 2, 3)
    arrays["activity"][:] = 7.0  # written through a shared mapping, not yet flushed
    release_pages(arrays["activity"])
    assert float(arrays["activity"].sum()) == 7.0 * 24
    arrays["activity"].flush()
    private = np.load(tmp_path / "d" / "activity.npy", mmap_mode="c")
    private[0] = 1.0  # an in-memory edit of a copy-on-write map
    release_pages(private)
    assert float(private[0].sum()) == 6.0
