"""Property-based tests (Hypothesis) where shapes vary: broadcasting, reductions, kernels.

Each property is checked against a naive NumPy or Python reference and, for the ops,
against a float64 gradcheck. Examples are derandomized (the same ones on every run) and
few, so the file stays fast and CI stable.
"""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from minigrad import Tensor, kernels
from minigrad.gradcheck import gradcheck

PROPERTY = settings(max_examples=30, deadline=None, derandomize=True, database=None)


def _naive_unbroadcast(g, shape):
    """Sum g (broadcast shape) back to ``shape`` one element at a time."""
    out = np.zeros(shape)
    for idx in np.ndindex(g.shape):
        tail = idx[len(idx) - len(shape):] if shape else ()
        out[tuple(0 if n == 1 else i for i, n in zip(tail, shape, strict=True))] += g[idx]
    return out


def _arrays(draw, shape, low, high):
    return draw(hnp.arrays(np.float64, shape,
                           elements=st.floats(low, high, allow_nan=False, width=64)))


# local derivatives: (forward, d out / d a, d out / d b), all on broadcast arrays
_BINARY = {
    "add": (np.add, lambda a, b: np.ones_like(a * b), lambda a, b: np.ones_like(a * b)),
    "sub": (np.subtract, lambda a, b: np.ones_like(a * b), lambda a, b: -np.ones_like(a * b)),
    "mul": (np.multiply, lambda a, b: b * np.ones_like(a), lambda a, b: a * np.ones_like(b)),
    "div": (np.divide, lambda a, b: 1.0 / b * np.ones_like(a), lambda a, b: -a / (b * b)),
}


@st.composite
def _binary_case(draw):
    shapes = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3,
                                                    max_side=3))
    sa, sb = shapes.input_shapes
    a = _arrays(draw, sa, -2.0, 2.0)
    # denominators kept in [0.5, 2] (either sign) so the central differences stay accurate
    b = _arrays(draw, sb, 0.5, 2.0) * draw(st.sampled_from([-1.0, 1.0]))
    g = _arrays(draw, shapes.result_shape, -1.0, 1.0)
    return a, b, g


@pytest.mark.parametrize("op", sorted(_BINARY))
@PROPERTY
@given(case=_binary_case())
def test_broadcasting_binary_ops_match_numpy_and_unbroadcast_their_gradient(op, case):
    a, b, g = case
    forward, da, db = _BINARY[op]
    ta, tb = Tensor(a.copy(), autograd=True), Tensor(b.copy(), autograd=True)
    method = {"add": "__add__", "sub": "__sub__", "mul": "__mul__", "div": "__truediv__"}[op]

    out = getattr(ta, method)(tb)
    out.backward(g)

    np.testing.assert_array_equal(out.data, forward(a, b))
    np.testing.assert_allclose(ta.grad, _naive_unbroadcast(g * da(a, b), a.shape),
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(tb.grad, _naive_unbroadcast(g * db(a, b), b.shape),
                               rtol=1e-12, atol=1e-12)
    assert ta.grad.shape == a.shape and tb.grad.shape == b.shape
    result = gradcheck(lambda x, y: getattr(x, method)(y),
                       [Tensor(a.copy(), autograd=True), Tensor(b.copy(), autograd=True)])
    assert result, str(result)


@st.composite
def _reduction_case(draw):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=3))
    ndim = len(shape)
    dim = draw(st.one_of(
        st.none(),
        st.integers(-ndim, ndim - 1),
        st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True)
        .map(tuple),
    ))
    keepdims = draw(st.booleans())
    x = _arrays(draw, shape, -2.0, 2.0)
    return x, dim, keepdims


def _naive_reduction_grad(x, dim, keepdims, g, mean):
    """Each input element gets the upstream gradient of the output it was summed into."""
    axes = tuple(range(x.ndim)) if dim is None else \
        tuple(d % x.ndim for d in (dim if isinstance(dim, tuple) else (dim,)))
    count = int(np.prod([x.shape[d] for d in axes]))
    g_full = g.reshape([1 if d in axes else n for d, n in enumerate(x.shape)])
    out = np.zeros(x.shape)
    for idx in np.ndindex(x.shape):
        out[idx] = g_full[tuple(0 if d in axes else i for d, i in enumerate(idx))]
    return out / count if mean else out


@pytest.mark.parametrize("name", ["sum", "mean"])
@PROPERTY
@given(case=_reduction_case())
def test_reductions_match_numpy_and_spread_their_gradient(name, case):
    x, dim, keepdims = case
    reference = getattr(np, name)(x, axis=dim, keepdims=keepdims)
    t = Tensor(x.copy(), autograd=True)

    out = getattr(t, name)(dim, keepdims=keepdims)
    g = np.linspace(-1.0, 1.0, reference.size).reshape(np.shape(reference))
    out.backward(g)

    assert out.shape == np.shape(reference)
    np.testing.assert_allclose(out.data, reference, rtol=1e-15, atol=1e-15)
    np.testing.assert_allclose(t.grad, _naive_reduction_grad(x, dim, keepdims, g,
                                                             name == "mean"), rtol=1e-15)
    result = gradcheck(lambda y: getattr(y, name)(dim, keepdims=keepdims),
                       [Tensor(x.copy(), autograd=True)])
    assert result, str(result)


# ------------------------------------------------------------------- kernels
def _naive_scatter(indices, rows, num_rows, skip=None):
    """The definition, one addition at a time."""
    indices = np.asarray(indices)
    trailing = rows.shape[indices.ndim:]
    width = int(np.prod(trailing, dtype=np.int64))
    out = np.zeros((num_rows, width))
    for pos in np.ndindex(indices.shape):
        i = int(indices[pos])
        if i != skip:
            out[i] += np.asarray(rows[pos], dtype=np.float64).reshape(-1)
    return out


@st.composite
def _scatter_case(draw):
    num_rows = draw(st.integers(1, 8))
    idx_shape = draw(hnp.array_shapes(min_dims=0, max_dims=2, min_side=0, max_side=6))
    # few distinct rows and many lookups: repeats are the rule, not the exception
    indices = draw(hnp.arrays(np.int64, idx_shape, elements=st.integers(0, num_rows - 1)))
    trailing = draw(hnp.array_shapes(min_dims=1, max_dims=2, min_side=1, max_side=4))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    # small integers: every summation order gives the same bits, so equality is exact
    rows = draw(hnp.arrays(np.int64, idx_shape + trailing, elements=st.integers(-5, 5)))
    skip = draw(st.one_of(st.none(), st.integers(0, num_rows - 1)))
    return indices, rows.astype(dtype), num_rows, skip


@pytest.mark.parametrize("method", sorted(kernels.SCATTER_ADD_METHODS) + ["auto"])
@PROPERTY
@given(case=_scatter_case())
def test_scatter_add_kernels_equal_the_definition(method, case):
    indices, rows, num_rows, skip = case

    got = kernels.scatter_add_rows(indices, rows, num_rows, method=method, skip=skip)

    width = int(np.prod(rows.shape[indices.ndim:], dtype=np.int64))
    assert got.shape == (num_rows, width)
    assert got.dtype == rows.dtype
    np.testing.assert_array_equal(got, _naive_scatter(indices, rows, num_rows, skip))


@PROPERTY
@given(num_segments=st.integers(1, 6), data=st.data())
def test_segment_sum_and_mean_equal_a_loop_with_empty_segments(num_segments, data):
    k = data.draw(st.integers(0, 12))
    ids = data.draw(hnp.arrays(np.int64, (k,), elements=st.integers(0, num_segments - 1)))
    values = data.draw(hnp.arrays(np.int64, (k, 2), elements=st.integers(-5, 5)))
    values = values.astype(np.float64)

    sums = kernels.segment_sum(values, ids, num_segments)
    means = kernels.segment_mean(values, ids, num_segments)

    for s in range(num_segments):
        members = [values[i] for i in range(k) if ids[i] == s]
        expected = np.sum(members, axis=0) if members else np.zeros(2)
        np.testing.assert_array_equal(sums[s], expected)
        np.testing.assert_allclose(means[s], expected / max(len(members), 1), rtol=1e-15)


@PROPERTY
@given(data=st.data())
def test_segment_sum_sorted_equals_slices(data):
    k = data.draw(st.integers(0, 10))
    cuts = sorted(data.draw(st.lists(st.integers(0, k), max_size=5)))
    offsets = np.array([0, *cuts, k])
    values = data.draw(hnp.arrays(np.int64, (k, 3), elements=st.integers(-5, 5)))
    values = values.astype(np.float64)

    got = kernels.segment_sum_sorted(values, offsets)

    assert got.shape == (len(offsets) - 1, 3)
    for s, (lo, hi) in enumerate(itertools.pairwise(offsets)):
        np.testing.assert_array_equal(got[s], values[lo:hi].sum(axis=0))
