"""Pure NumPy kernels under the autograd layer; nothing here knows about Tensor.

Each kernel works on plain ndarrays. The embedding backward is a *scatter-add*:
many gradient rows are added into the (possibly repeated) table rows they were
looked up from. Several ways of doing that are kept side by side so they can be
tested against the naive loop and timed against each other
(``python -m minigrad.bench kernels``).
"""

import numpy as np

__all__ = [
    "gather_rows",
    "scatter_add_rows",
    "scatter_add_rows_loop",
    "scatter_add_rows_add_at",
    "scatter_add_rows_bincount",
    "scatter_add_rows_bincount_flat",
    "scatter_add_rows_reduceat",
    "SCATTER_ADD_METHODS",
    "auto_method",
    "segment_sum",
    "segment_sum_sorted",
    "segment_mean",
    "sigmoid",
    "softplus",
    "unbroadcast",
]


# ---------------------------------------------------------------------------
# gather / scatter-add (embedding forward / backward)
# ---------------------------------------------------------------------------
def gather_rows(table, indices):
    """Rows of ``table`` at ``indices``: (N, D), idx (...) -> (..., D)."""
    return np.take(table, indices, axis=0)


def _flat(indices, rows):
    """Flatten idx (...) and rows (..., D...) to (K,) and (K, D)."""
    indices = np.asarray(indices)
    rows = np.asarray(rows)
    if rows.shape[: indices.ndim] != indices.shape:
        raise ValueError(
            f"scatter-add: rows of shape {rows.shape} do not start with the "
            f"indices' shape {indices.shape}"
        )
    width = int(np.prod(rows.shape[indices.ndim :], dtype=np.int64))
    return indices.reshape(-1), rows.reshape(indices.size, width)


def scatter_add_rows_loop(indices, rows, num_rows):
    """Reference: the book's per-row Python loop. (K,), (K, D) -> (num_rows, D).

    Kept only as a test oracle and a benchmark baseline; never on a hot path.
    """
    idx, rows2 = _flat(indices, rows)
    out = np.zeros((num_rows, rows2.shape[1]), dtype=rows2.dtype)
    for i, row in zip(idx, rows2, strict=True):
        out[i] += row
    return out


def scatter_add_rows_add_at(indices, rows, num_rows):
    """Scatter-add with ``np.add.at`` (unbuffered, handles repeats)."""
    idx, rows2 = _flat(indices, rows)
    out = np.zeros((num_rows, rows2.shape[1]), dtype=rows2.dtype)
    np.add.at(out, idx, rows2)
    return out


def scatter_add_rows_bincount(indices, rows, num_rows):
    """Scatter-add with one ``np.bincount`` per column (loop over D, not over K)."""
    idx, rows2 = _flat(indices, rows)
    out = np.empty((num_rows, rows2.shape[1]), dtype=rows2.dtype)
    for j in range(rows2.shape[1]):
        # bincount always accumulates in float64; the cast keeps the table's dtype.
        out[:, j] = np.bincount(idx, weights=rows2[:, j], minlength=num_rows)
    return out


def scatter_add_rows_bincount_flat(indices, rows, num_rows):
    """Scatter-add with a single ``np.bincount`` over the flattened (row, column) index."""
    idx, rows2 = _flat(indices, rows)
    dim = rows2.shape[1]
    if dim == 1:
        flat = idx
    else:
        flat = (idx[:, None] * dim + np.arange(dim)).reshape(-1)
    sums = np.bincount(flat, weights=rows2.reshape(-1), minlength=num_rows * dim)
    return sums.reshape(num_rows, dim).astype(rows2.dtype, copy=False)


def scatter_add_rows_reduceat(indices, rows, num_rows):
    """Scatter-add by sorting the indices, then ``np.add.reduceat`` over equal runs."""
    idx, rows2 = _flat(indices, rows)
    out = np.zeros((num_rows, rows2.shape[1]), dtype=rows2.dtype)
    if idx.size == 0:
        return out
    order = np.argsort(idx, kind="stable")
    sorted_idx = idx[order]
    starts = np.flatnonzero(np.r_[True, sorted_idx[1:] != sorted_idx[:-1]])
    out[sorted_idx[starts]] = np.add.reduceat(rows2[order], starts, axis=0)
    return out


SCATTER_ADD_METHODS = {
    "loop": scatter_add_rows_loop,
    "add_at": scatter_add_rows_add_at,
    "bincount": scatter_add_rows_bincount,
    "bincount_flat": scatter_add_rows_bincount_flat,
    "reduceat": scatter_add_rows_reduceat,
}


def scatter_add_rows(indices, rows, num_rows, method="auto", skip=None):
    """Add ``rows[k]`` into ``out[indices[k]]``: idx (...), rows (..., D) -> (num_rows, D).

    ``method="auto"`` picks the kernel that ``python -m minigrad.bench kernels``
    measured fastest on this machine class for the table's width. Row ``skip``
    (e.g. an embedding's padding row) comes back zero, and its lookups are dropped
    before the vectorized kernels run: in the book's spam batches ~80 % of the
    indices are padding, and adding them all into one row is what bincount does
    slowest (each add waits for the previous one). Every other row gets the same
    additions in the same order, so the result is bit for bit the same.
    """
    if method == "auto":
        method = auto_method(rows, indices)
    try:
        kernel = SCATTER_ADD_METHODS[method]
    except KeyError:
        raise ValueError(
            f"scatter_add_rows: unknown method {method!r}; expected 'auto' or one of "
            f"{sorted(SCATTER_ADD_METHODS)}"
        ) from None
    if skip is None:
        return kernel(indices, rows, num_rows)
    if method != "loop":  # the loop stays the book's algorithm: every row, one by one
        indices, rows = _drop_index(indices, rows, skip)
    out = kernel(indices, rows, num_rows)
    out[skip] = 0
    return out


def _drop_index(indices, rows, skip):
    """(K,), (K, D) flattened lookups without those of row ``skip``."""
    idx, rows2 = _flat(indices, rows)
    keep = idx != skip
    if keep.all():
        return idx, rows2
    if rows2.shape[1] == 1:  # a 1-D boolean mask is NumPy's fast path
        return idx[keep], rows2[:, 0][keep].reshape(-1, 1)
    # a mask over (K, D) copies row by row; one take of whole rows is several times faster
    return idx[keep], rows2.take(np.flatnonzero(keep), axis=0)


def auto_method(rows, indices):
    """The scatter-add method ``scatter_add_rows(method="auto")`` uses for these shapes."""
    # Measured with `python -m minigrad.bench kernels`: the bincount kernels beat the
    # sort-based ones at every width we use; the flat variant is one call instead of D
    # (the README's table shows per-column bincount ahead at D = 32 on some machines).
    dim = int(np.prod(np.shape(rows)[np.ndim(indices) :], dtype=np.int64))
    return "bincount_flat" if dim <= 64 else "reduceat"


# ---------------------------------------------------------------------------
# segment sums (for vectorising across federated clients)
# ---------------------------------------------------------------------------
def segment_sum(values, segment_ids, num_segments):
    """Sum of ``values`` rows per segment id: (K, ...) , (K,) -> (num_segments, ...).

    Ids need not be sorted; empty segments are zero.
    """
    values = np.asarray(values)
    trailing = values.shape[1:]
    # the width spelled out: reshape(0, -1) cannot infer it when no row is given
    rows = values.reshape(values.shape[0], int(np.prod(trailing, dtype=np.int64)))
    out = scatter_add_rows(segment_ids, rows, num_segments)
    return out.reshape((num_segments,) + trailing)


def segment_sum_sorted(values, offsets):
    """Sums of contiguous runs: rows offsets[i]:offsets[i+1] -> out[i]; empty runs give 0.

    (K, ...), offsets (S+1,) non-decreasing from 0 to K -> (S, ...).
    """
    values = np.asarray(values)
    offsets = np.asarray(offsets)
    num_segments = offsets.shape[0] - 1
    out = np.zeros((num_segments,) + values.shape[1:], dtype=values.dtype)
    starts = offsets[:-1]
    nonempty = offsets[1:] > starts
    if values.shape[0] and nonempty.any():
        # reduceat returns values[start] for an empty run, so only ask for non-empty ones
        out[nonempty] = np.add.reduceat(values, starts[nonempty], axis=0)
    return out


def segment_mean(values, segment_ids, num_segments):
    """Mean of rows per segment; an empty segment's mean is 0. (K, ...) -> (S, ...)."""
    sums = segment_sum(values, segment_ids, num_segments)
    counts = np.bincount(np.asarray(segment_ids).reshape(-1), minlength=num_segments)
    shape = (num_segments,) + (1,) * (sums.ndim - 1)
    return sums / np.maximum(counts, 1).reshape(shape).astype(sums.dtype)


# ---------------------------------------------------------------------------
# elementwise helpers
# ---------------------------------------------------------------------------
def sigmoid(x):
    """Numerically stable logistic function (no overflow warning for large |x|)."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(x.dtype, copy=False)


def softplus(x):
    """log(1 + exp(x)) without overflow."""
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


def unbroadcast(grad, shape):
    """Sum ``grad`` down to ``shape``: undoes NumPy broadcasting in one place."""
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra > 0:
        grad = grad.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return grad.reshape(shape)
