"""Fused ops: one ``Function`` for what several textbook ops (ops.py) would compute.

BCE on logits (stable for any |x|), and DeepFM's pieces: the FM interaction, the
embedding bag, the affine map with an optional ReLU, and the FM shares split learning
sends. ``Tensor`` carries a one-line wrapper for each (tensor.py, "fused ops").
"""

import numpy as np

from . import kernels
from .function import Function

__all__ = ["BCEWithLogits", "FMInteraction", "EmbeddingBag", "Linear", "FMStats",
           "FMFromStats"]


class FMInteraction(Function):
    """Second-order factorization-machine term over field embeddings.

    v (B, F, K) -> (B, 1): 0.5 * sum_k ((sum_f v)^2 - sum_f v^2).
    """

    def forward(self, v):
        if v.ndim != 3:
            raise ValueError(
                f"fm_interaction: expected field embeddings of shape (batch, fields, dim), "
                f"got {v.shape}"
            )
        s = v.sum(axis=1)
        self.save(v, s)
        return 0.5 * (s * s - (v * v).sum(axis=1)).sum(axis=1, keepdims=True)

    def backward(self, grad):
        v, s = self.saved
        return (grad[:, :, None] * (s[:, None, :] - v),)


class BCEWithLogits(Function):
    """Binary cross-entropy from logits, stable for any |x|: softplus(x) - x*y.

    logits and target have the same shape, target in [0, 1] (labels or soft labels);
    reduction is 'mean', 'sum' or 'none'.
    """

    def forward(self, x, target, reduction="mean"):
        target = np.asarray(target)
        if target.shape != x.shape:
            raise ValueError(
                f"BCE: target shape {target.shape} differs from logits shape {x.shape}; "
                f"reshape one of them (broadcasting here would silently pair every "
                f"prediction with every label)"
            )
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(f"BCE: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
        if target.dtype.kind not in "biuf":
            raise TypeError(f"BCE: target has dtype {target.dtype}; expected 0/1 labels "
                            f"(or probabilities in [0, 1]) as real numbers")
        target = target.astype(x.dtype, copy=False)
        # a target outside [0, 1] makes the loss unbounded below (2 gives a negative
        # loss that training drives to -inf); min/max are NaN if any entry is NaN
        if target.size and not (target.min() >= 0 and target.max() <= 1):
            bad = ~((target >= 0) & (target <= 1))
            pos = tuple(int(i) for i in np.argwhere(bad)[0])
            raise ValueError(f"BCE: target[{', '.join(map(str, pos))}] is {float(target[pos])}; "
                             f"expected 0/1 labels or probabilities in [0, 1]")
        losses = kernels.softplus(x) - x * target
        self.save(x, target, reduction)
        if reduction == "none":
            return losses
        total = losses.sum()
        return np.asarray(total / x.size if reduction == "mean" else total, dtype=x.dtype)

    def backward(self, grad):
        x, target, reduction = self.saved
        g = kernels.sigmoid(x) - target
        if reduction == "mean":
            g = g * (grad / x.size)
        else:
            g = g * grad
        return (g,)


class EmbeddingBag(Function):
    """Per-bag sums of table rows: the embedding of one-hot and multi-hot fields at once.

    table (N, K), indices (B, S) ints, offsets (F,) the first column of each bag
    (0 first, strictly increasing, < S) -> (B, F, K), where bag f is the columns
    offsets[f] .. offsets[f+1]-1: out[b, f] = sum of table[indices[b, s]] over them.
    ``offsets=None``: every column is its own bag (F = S), a plain lookup. Slots
    holding ``padding_idx`` (the empty slots of a multi-hot field) add nothing,
    whatever that row holds, and it gets no gradient. Backward is one scatter-add
    over all B*S indices.
    """

    def forward(self, table, indices, offsets=None, padding_idx=None):
        indices = np.asarray(indices)
        if indices.ndim != 2 or not np.issubdtype(indices.dtype, np.integer):
            raise TypeError(
                f"embedding_bag: indices must be a 2-D integer array (batch, slots), got "
                f"shape {indices.shape} and dtype {indices.dtype}"
            )
        n = table.shape[0]
        if indices.size and (indices.min() < 0 or indices.max() >= n):
            bad = (indices < 0) | (indices >= n)
            pos = tuple(int(i) for i in np.argwhere(bad)[0])
            raise IndexError(
                f"embedding_bag: index {int(indices[pos])} at position {pos} is out of "
                f"range for a table of {n} rows (valid: 0..{n - 1})"
            )
        slots = indices.shape[1]
        if offsets is None or len(offsets) == slots:
            if offsets is not None:
                _bag_sizes(offsets, slots)  # still validate
            self.save(indices, table.shape, None, padding_idx)
            return _drop_padding(kernels.gather_rows(table, indices), indices, padding_idx)
        sizes = _bag_sizes(offsets, slots)
        # gather slot-major, (S, B, K...): each bag is then a sum over the leading axis,
        # which NumPy does with whole-row adds (a sum over the middle axis is far slower)
        rows = _drop_padding(kernels.gather_rows(table, indices.T), indices.T, padding_idx)
        out = np.empty((len(sizes),) + rows.shape[1:], dtype=rows.dtype)
        start = 0
        for f, size in enumerate(sizes):
            np.sum(rows[start:start + size], axis=0, out=out[f])
            start += size
        self.save(indices, table.shape, sizes, padding_idx)
        return np.ascontiguousarray(out.swapaxes(0, 1))

    def backward(self, grad):
        indices, shape, sizes, padding_idx = self.saved
        if sizes is not None:
            grad = np.repeat(grad, sizes, axis=1)  # each slot of a bag gets its bag's gradient
        rows = kernels.scatter_add_rows(indices, grad, shape[0])
        if padding_idx is not None:
            rows[padding_idx] = 0  # empty slots never learn
        # a 2-D table's gradient is ``rows`` itself: no reshaped view, so no copy later
        return (rows if rows.shape == shape else rows.reshape(shape),)


def _drop_padding(rows, indices, padding_idx):
    """Zero the gathered rows of ``padding_idx`` slots (``rows`` is a fresh gather)."""
    if padding_idx is not None:
        pad = indices == padding_idx
        if pad.any():
            rows[pad] = 0
    return rows


def _bag_sizes(offsets, slots):
    """Sizes of the bags that start at ``offsets`` (ints) among ``slots`` columns."""
    ends = list(offsets[1:]) + [slots]
    sizes = [int(b) - int(a) for a, b in zip(offsets, ends, strict=True)] if len(offsets) else []
    if not sizes or offsets[0] != 0 or min(sizes) <= 0:
        raise ValueError(
            f"embedding_bag: offsets must start at 0 and increase strictly below the "
            f"{slots} slot columns, got {list(offsets)}"
        )
    return sizes


class Linear(Function):
    """Affine map with an optional ReLU in one node: y = act(x W + b).

    x (B, n), weight (n, m), bias (m,) (optional) -> (B, m); ``activation`` None or
    'relu'. The same values and gradients as ``x.mm(W) + b`` then ``.relu()``, bit
    for bit, with one graph node and fewer temporaries instead of three nodes.
    """

    def forward(self, x, weight, bias=None, activation=None):
        if x.ndim != 2 or weight.ndim != 2 or x.shape[1] != weight.shape[0]:
            raise ValueError(
                f"linear: shapes {x.shape} and {weight.shape} do not align; expected (n, k) "
                f"and (k, m) with the same k"
            )
        if activation not in (None, "relu"):
            raise ValueError(f"linear: activation must be None or 'relu', got {activation!r}")
        z = x @ weight
        if bias is not None:
            if bias.shape != (weight.shape[1],):
                raise ValueError(f"linear: bias of shape {bias.shape} does not match "
                                 f"{weight.shape[1]} outputs")
            if np.result_type(z, bias) == z.dtype:
                z += bias  # z is this op's own fresh array: no temporary
            else:
                z = z + bias
        mask = None
        if activation == "relu":
            mask = z > 0
            z *= mask
        self.save(x, weight, mask)
        return z

    def backward(self, grad):
        x, weight, mask = self.saved
        if mask is not None:
            grad = grad * mask
        need = self.needs_input_grad
        gx = grad @ weight.T if need[0] else None
        gw = x.T @ grad if need[1] else None
        if len(need) == 2:
            return gx, gw
        return gx, gw, (grad.sum(axis=0) if need[2] else None)


class FMStats(Function):
    """One party's share of a factorization machine over its fields.

    v (B, F, K) field embeddings, linear (B, 1) -> (B, K + 1):
    columns 0..K-1: sum_f v[:, f]; column K: linear - 1/2 sum_f |v[:, f]|^2.
    Shares of disjoint field sets add up, and ``FMFromStats`` of the total is the FM
    of all the fields: fm_from_stats(fm_stats(v, l)) == fm_interaction(v) + l.
    """

    def forward(self, v, linear):
        if v.ndim != 3:
            raise ValueError(
                f"fm_stats: expected field embeddings of shape (batch, fields, dim), got "
                f"{v.shape}"
            )
        batch, fields, dim = v.shape
        if linear.shape != (batch, 1):
            raise ValueError(f"fm_stats: linear must have shape ({batch}, 1), got "
                             f"{linear.shape}")
        out = np.empty((batch, dim + 1), dtype=np.result_type(v, linear))
        total = out[:, :dim]
        np.copyto(total, v[:, 0])
        for f in range(1, fields):  # F whole-row adds: faster than a middle-axis sum
            total += v[:, f]
        flat = v.reshape(batch, fields * dim)
        out[:, dim] = linear[:, 0] - 0.5 * (flat * flat).sum(axis=1)
        self.save(v)
        return out

    def backward(self, grad):
        (v,) = self.saved
        dim = v.shape[2]
        g_linear = grad[:, dim:]
        g_v = grad[:, None, :dim] - g_linear[:, :, None] * v if self.needs_input_grad[0] \
            else None
        return g_v, g_linear.copy()


class FMFromStats(Function):
    """The FM from summed shares: s (B, K + 1) -> (B, 1) = 1/2 |s[:, :K]|^2 + s[:, K]."""

    def forward(self, s):
        if s.ndim != 2 or s.shape[1] < 2:
            raise ValueError(f"fm_from_stats: expected shares of shape (batch, dim + 1), got "
                             f"{s.shape}")
        total = s[:, :-1]
        self.save(s)
        return 0.5 * (total * total).sum(axis=1, keepdims=True) + s[:, -1:]

    def backward(self, grad):
        (s,) = self.saved
        g = np.empty_like(s, dtype=np.result_type(s, grad))
        np.multiply(grad, s[:, :-1], out=g[:, :-1])
        g[:, -1:] = grad
        return (g,)
