"""Every kernel against a naive Python loop: repeats, empty input, float32/float64."""

import ast
import io
from pathlib import Path

import numpy as np
import pytest
from benchcheck import assert_timing_figures

from minigrad import bench, kernels

SCATTER = sorted(kernels.SCATTER_ADD_METHODS)
DTYPES = [np.float32, np.float64]


def naive_scatter_add(indices, rows, num_rows):
    indices = np.asarray(indices).reshape(-1)
    rows = np.asarray(rows).reshape(indices.size, -1)
    out = np.zeros((num_rows, rows.shape[1]), dtype=np.float64)
    for k in range(indices.size):
        for j in range(rows.shape[1]):
            out[indices[k], j] += rows[k, j]
    return out


@pytest.mark.parametrize("method", SCATTER + ["auto"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("dim", [1, 3, 32])
def test_scatter_add_matches_naive_loop_with_repeats(method, dtype, dim):
    rng = np.random.default_rng(dim)
    indices = np.array([4, 0, 4, 4, 2, 9, 0, 7])  # repeats, out of order, row 9 last
    rows = rng.standard_normal((indices.size, dim)).astype(dtype)

    got = kernels.scatter_add_rows(indices, rows, 10, method=method)

    assert got.shape == (10, dim)
    assert got.dtype == dtype
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got, naive_scatter_add(indices, rows, 10), rtol=tol, atol=tol)
    untouched = np.setdiff1d(np.arange(10), indices)
    assert not got[untouched].any()


@pytest.mark.parametrize("method", SCATTER)
@pytest.mark.parametrize("dtype", DTYPES)
def test_scatter_add_empty_indices_gives_zeros(method, dtype):
    got = kernels.scatter_add_rows(np.array([], dtype=np.int64), np.zeros((0, 4), dtype), 5,
                                   method=method)
    assert got.shape == (5, 4)
    assert got.dtype == dtype
    assert not got.any()


@pytest.mark.parametrize("method", SCATTER)
def test_scatter_add_accepts_2d_index_arrays(method):
    rng = np.random.default_rng(1)
    indices = rng.integers(0, 6, size=(3, 5))
    rows = rng.standard_normal((3, 5, 2))

    got = kernels.scatter_add_rows(indices, rows, 6, method=method)

    np.testing.assert_allclose(got, naive_scatter_add(indices, rows, 6), atol=1e-12)


@pytest.mark.parametrize("method", SCATTER)
def test_scatter_add_large_random_agrees(method):
    rng = np.random.default_rng(2)
    indices = rng.integers(0, 50, size=2000)
    rows = rng.standard_normal((2000, 16))
    expected = naive_scatter_add(indices, rows, 50)
    np.testing.assert_allclose(kernels.scatter_add_rows(indices, rows, 50, method=method),
                               expected, atol=1e-10)


def test_scatter_add_unknown_method_names_the_choices():
    with pytest.raises(ValueError, match="unknown method 'fast'.*add_at"):
        kernels.scatter_add_rows(np.array([0]), np.ones((1, 1)), 1, method="fast")


def test_scatter_add_rows_shape_mismatch_is_reported():
    with pytest.raises(ValueError, match=r"\(3, 2\).*\(4,\)"):
        kernels.scatter_add_rows(np.array([0, 1, 2, 3]), np.ones((3, 2)), 5)


@pytest.mark.parametrize("dtype", DTYPES)
def test_gather_rows_matches_loop(dtype):
    table = np.arange(12, dtype=dtype).reshape(6, 2)
    indices = np.array([[5, 0], [0, 3]])

    got = kernels.gather_rows(table, indices)

    expected = np.array([[table[i] for i in row] for row in indices])
    assert got.dtype == dtype
    np.testing.assert_array_equal(got, expected)


def test_gather_rows_empty():
    table = np.ones((4, 3), dtype=np.float32)
    got = kernels.gather_rows(table, np.array([], dtype=np.int64))
    assert got.shape == (0, 3)
    assert got.dtype == np.float32


def naive_segment_sum(values, ids, num_segments):
    out = np.zeros((num_segments,) + values.shape[1:])
    for v, s in zip(values, ids, strict=True):
        out[s] += v
    return out


@pytest.mark.parametrize("dtype", DTYPES)
def test_segment_sum_unsorted_with_empty_segments(dtype):
    rng = np.random.default_rng(3)
    ids = np.array([2, 0, 2, 5, 0, 2])  # segments 1, 3, 4 are empty
    values = rng.standard_normal((6, 2, 3)).astype(dtype)

    got = kernels.segment_sum(values, ids, 6)

    assert got.shape == (6, 2, 3)
    assert got.dtype == dtype
    np.testing.assert_allclose(got, naive_segment_sum(values, ids, 6), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dtype", DTYPES)
def test_segment_sum_sorted_with_empty_runs(dtype):
    values = np.arange(10, dtype=dtype).reshape(5, 2)
    offsets = np.array([0, 2, 2, 5, 5])  # runs: [0,2), empty, [2,5), empty

    got = kernels.segment_sum_sorted(values, offsets)

    expected = np.array([values[0:2].sum(0), [0, 0], values[2:5].sum(0), [0, 0]])
    assert got.dtype == dtype
    np.testing.assert_array_equal(got, expected)


def test_segment_sum_sorted_all_empty():
    got = kernels.segment_sum_sorted(np.zeros((0, 3)), np.array([0, 0, 0]))
    assert got.shape == (2, 3)
    assert not got.any()


def test_segment_mean_matches_loop_and_empty_is_zero():
    values = np.array([[1.0], [3.0], [10.0]])
    ids = np.array([0, 0, 2])

    got = kernels.segment_mean(values, ids, 3)

    np.testing.assert_allclose(got, [[2.0], [0.0], [10.0]])


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_and_softplus_are_stable_and_match_formula(dtype):
    x = np.array([-800.0, -30.0, -1.0, 0.0, 2.0, 30.0, 800.0], dtype=dtype)
    with np.errstate(over="raise"):
        s = kernels.sigmoid(x)
        sp = kernels.softplus(x)
    assert s.dtype == dtype
    moderate = np.abs(x) < 50
    np.testing.assert_allclose(s[moderate], 1 / (1 + np.exp(-x[moderate].astype(np.float64))),
                               rtol=1e-6)
    np.testing.assert_allclose(sp[moderate], np.log1p(np.exp(x[moderate].astype(np.float64))),
                               rtol=1e-6)
    assert s[0] == 0.0 and s[-1] == 1.0
    assert sp[0] == 0.0 and sp[-1] == 800.0


def test_unbroadcast_sums_leading_and_size_one_axes():
    grad = np.ones((2, 3, 4))
    np.testing.assert_array_equal(kernels.unbroadcast(grad, (4,)), np.full(4, 6.0))
    np.testing.assert_array_equal(kernels.unbroadcast(grad, (3, 1)), np.full((3, 1), 8.0))
    np.testing.assert_array_equal(kernels.unbroadcast(grad, ()), np.array(24.0))
    assert kernels.unbroadcast(grad, (2, 3, 4)) is grad


def test_kernels_module_has_no_autograd_imports():
    tree = ast.parse(Path(kernels.__file__).read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            imported.add("." * node.level + (node.module or ""))
    assert imported == {"numpy"}


def test_bench_kernels_runs_and_checks_every_candidate(monkeypatch):
    monkeypatch.setattr(bench, "KERNEL_CASES", [("tiny", 300, 50, 1), ("tiny wide", 200, 20, 8)])
    out = io.StringIO()

    results = bench.bench_kernels(repeats=1, out=out)

    text = out.getvalue()
    assert [r["dim"] for r in results] == [1, 8]
    for name in kernels.SCATTER_ADD_METHODS:
        assert name in text
        for r in results:
            assert_timing_figures(r["seconds"], name)
    assert "default ('auto') uses" in text


# issue 8: the speed-ups of the embedding backward and Adam keep every result bit for bit
@pytest.mark.parametrize("method", ["add_at", "bincount", "bincount_flat", "reduceat", "loop"])
@pytest.mark.parametrize("dim", [1, 3])
def test_scatter_add_skip_drops_a_row_and_changes_no_other_bit(method, dim):
    rng = np.random.default_rng(0)
    indices = rng.integers(0, 6, size=(40, 9))
    indices[:, 5:] = 0  # padded at the end, as the spam batches are
    rows = rng.standard_normal((40, 9, dim)).astype(np.float32)

    full = kernels.scatter_add_rows(indices, rows, 6, method=method)
    skipped = kernels.scatter_add_rows(indices, rows, 6, method=method, skip=0)

    assert np.array_equal(skipped[0], np.zeros(dim, np.float32))
    assert np.array_equal(skipped[1:], full[1:])  # same additions, same order


def test_scatter_add_skip_of_a_broadcast_gradient_matches_the_loop():
    indices = np.array([[2, 1, 0, 0], [1, 0, 0, 0]])
    grad = np.broadcast_to(np.array([[[1.5]], [[10.0]]]), (2, 4, 1))  # what sum(1) hands on

    got = kernels.scatter_add_rows(indices, grad, 3, skip=0)

    assert got.tolist() == [[0.0], [11.5], [1.5]]
