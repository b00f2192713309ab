"""Chunk marks and partial arrays of a stage live and die together (resume trusts the marks)."""

from __future__ import annotations

import numpy as np

from cellxai_core.store import RunStore


def _half_done(store: RunStore):
    w = store.writer("encode", "features", keep_partial=True)
    w.create_array("tokens", (4, 2), "float32", chunks=(2, 2))[0:2] = 1.0
    store.progress("encode", 2).mark(0)
    return w


def test_resumed_writer_keeps_partial_arrays_and_their_marks(tmp_path):
    store = RunStore(tmp_path / "store.zarr")
    _half_done(store)
    w = store.writer("encode", "features", keep_partial=True)
    np.testing.assert_array_equal(w.create_array("tokens", (4, 2), "float32", chunks=(2, 2))[:, 0], [1, 1, 0, 0])
    assert store.progress("encode", 2).done().tolist() == [True, False]


def test_fresh_writer_drops_old_marks(tmp_path):
    store = RunStore(tmp_path / "store.zarr")
    _half_done(store)
    store.writer("encode", "features")  # a stage started from scratch
    assert store.progress("encode", 2).done().tolist() == [False, False]


def test_commit_drops_the_marks_before_publishing(tmp_path):
    """Killed after publishing but before the stage is marked done, the stage must redo its chunks."""
    store = RunStore(tmp_path / "store.zarr")
    w = _half_done(store)
    store.progress("encode", 2).mark(1)
    w.commit()
    np.testing.assert_array_equal(store.read("features/tokens")[:, 0], [1, 1, 0, 0])
    again = store.writer("encode", "features", keep_partial=True)
    assert again.create_array("tokens", (4, 2), "float32", chunks=(2, 2))[...].sum() == 0
    assert store.progress("encode", 2).done().tolist() == [False, False]


def test_partial_work_made_otherwise_is_dropped(tmp_path):
    store = RunStore(tmp_path / "store.zarr")
    w = store.writer("explain:x", "explanations/x", keep_partial=True, made_by="params a")
    w.create_array("maps", (4,), "float32", chunks=(2,))[0:2] = 1.0
    store.progress("explain:x", 2).mark(0)
    same = store.writer("explain:x", "explanations/x", keep_partial=True, made_by="params a")
    assert same.create_array("maps", (4,), "float32", chunks=(2,))[...].sum() == 2
    assert store.progress("explain:x", 2).done().tolist() == [True, False]
    other = store.writer("explain:x", "explanations/x", keep_partial=True, made_by="params b")
    assert other.create_array("maps", (4,), "float32", chunks=(2,))[...].sum() == 0
    assert store.progress("explain:x", 2).done().tolist() == [False, False]
