"""One ``Function`` per textbook op. ``Tensor`` methods in tensor.py are one-line wrappers.

Fused ops (several of these in one graph node) live in ``fused_ops``.

Every ``backward`` returns one gradient per array input, already summed back to
that input's shape (``unbroadcast``), or ``None`` where no gradient is needed.
"""

import numpy as np

from . import kernels
from .function import Function, unbroadcast


# ---------------------------------------------------------------------------
# arithmetic (NumPy broadcasting; gradients un-broadcast in one place)
# ---------------------------------------------------------------------------
class Add(Function):
    def forward(self, a, b):
        self.save(a.shape, b.shape)
        return a + b

    def backward(self, grad):
        sa, sb = self.saved
        return unbroadcast(grad, sa), unbroadcast(grad, sb)


class Sub(Function):
    def forward(self, a, b):
        self.save(a.shape, b.shape)
        return a - b

    def backward(self, grad):
        sa, sb = self.saved
        gb = unbroadcast(-grad, sb) if self.needs_input_grad[1] else None
        return unbroadcast(grad, sa), gb


class Mul(Function):
    def forward(self, a, b):
        self.save(a, b)
        return a * b

    def backward(self, grad):
        a, b = self.saved
        ga = unbroadcast(grad * b, a.shape) if self.needs_input_grad[0] else None
        gb = unbroadcast(grad * a, b.shape) if self.needs_input_grad[1] else None
        return ga, gb


class Div(Function):
    def forward(self, a, b):
        self.save(a, b)
        return a / b

    def backward(self, grad):
        a, b = self.saved
        ga = unbroadcast(grad / b, a.shape) if self.needs_input_grad[0] else None
        gb = unbroadcast(-grad * a / (b * b), b.shape) if self.needs_input_grad[1] else None
        return ga, gb


class Neg(Function):
    def forward(self, a):
        return -a

    def backward(self, grad):
        return (-grad,)


class Pow(Function):
    """x ** p for a constant scalar exponent p."""

    def forward(self, a, exponent):
        self.save(a, exponent)
        return a**exponent

    def backward(self, grad):
        a, p = self.saved
        return (grad * p * a ** (p - 1),)


# ---------------------------------------------------------------------------
# linear algebra and shapes
# ---------------------------------------------------------------------------
class MM(Function):
    """Matrix product of two 2-D arrays: (n, k) @ (k, m) -> (n, m)."""

    def forward(self, a, b):
        if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[0]:
            raise ValueError(
                f"mm: shapes {a.shape} and {b.shape} do not align; expected (n, k) and "
                f"(k, m) with the same k"
            )
        self.save(a, b)
        return a @ b

    def backward(self, grad):
        a, b = self.saved
        ga = grad @ b.T if self.needs_input_grad[0] else None
        gb = a.T @ grad if self.needs_input_grad[1] else None
        return ga, gb


class Transpose(Function):
    def forward(self, a, axes=None):
        out = np.transpose(a, axes)  # validates axes first
        # argsort inverts the permutation only once negative axes count from 0
        self.save(None if axes is None else np.argsort([ax % a.ndim for ax in axes]))
        return out

    def backward(self, grad):
        (inverse,) = self.saved
        return (np.transpose(grad, inverse),)


class Reshape(Function):
    def forward(self, a, shape):
        self.save(a.shape)
        return a.reshape(shape)

    def backward(self, grad):
        (shape,) = self.saved
        return (grad.reshape(shape),)


class Sum(Function):
    """Sum over ``dim`` (None: all elements); the book's ``sum(dim)``."""

    def forward(self, a, dim=None, keepdims=False):
        self.save(a.shape, dim, keepdims)
        return np.asarray(a.sum(axis=dim, keepdims=keepdims))

    def backward(self, grad):
        shape, dim, keepdims = self.saved
        if dim is not None and not keepdims:
            grad = np.expand_dims(grad, dim)
        return (np.broadcast_to(grad, shape),)


class Mean(Function):
    def forward(self, a, dim=None, keepdims=False):
        out = np.asarray(a.mean(axis=dim, keepdims=keepdims))
        self.save(a.shape, dim, keepdims, a.size // max(out.size, 1))
        return out

    def backward(self, grad):
        shape, dim, keepdims, count = self.saved
        if dim is not None and not keepdims:
            grad = np.expand_dims(grad, dim)
        return (np.broadcast_to(grad / count, shape),)


class Expand(Function):
    """Insert a new axis at ``dim`` and repeat the array ``copies`` times along it."""

    def forward(self, a, dim, copies):
        self.save(dim)
        return np.repeat(np.expand_dims(a, dim), copies, axis=dim)

    def backward(self, grad):
        (dim,) = self.saved
        return (grad.sum(axis=dim),)


class Concat(Function):
    """Join arrays along ``dim``; backward splits the gradient back."""

    def forward(self, *arrays, dim=0):
        sizes = [a.shape[dim] for a in arrays]
        self.save(dim, np.cumsum(sizes)[:-1])
        return np.concatenate(arrays, axis=dim)

    def backward(self, grad):
        dim, splits = self.saved
        return tuple(np.split(grad, splits, axis=dim))


class IndexSelect(Function):
    """Rows of a table at integer ``indices`` (the embedding lookup); rows may repeat.

    table (N, D...), indices (...) -> (..., D...). Backward is a scatter-add;
    row ``padding_idx`` (if given) gets no gradient.
    """

    def forward(self, table, indices, padding_idx=None):
        indices = np.asarray(indices)
        if not np.issubdtype(indices.dtype, np.integer):
            raise TypeError(
                f"index_select: indices must be integers, got dtype {indices.dtype}"
            )
        n = table.shape[0]
        if indices.size and (indices.min() < 0 or indices.max() >= n):
            bad = (indices < 0) | (indices >= n)
            pos = tuple(int(i) for i in np.argwhere(bad)[0])
            raise IndexError(
                f"index_select: index {int(indices[pos])} at position {pos} is out of "
                f"range for a table of {n} rows (valid: 0..{n - 1})"
            )
        self.save(indices, table.shape, padding_idx)
        return kernels.gather_rows(table, indices)

    def backward(self, grad):
        indices, shape, padding_idx = self.saved
        # the padding row never learns, so its lookups are not even added up
        rows = kernels.scatter_add_rows(indices, grad, shape[0], skip=padding_idx)
        # a 2-D table's gradient is ``rows`` itself: no reshaped view, so no copy later
        return (rows if rows.shape == shape else rows.reshape(shape),)


# ---------------------------------------------------------------------------
# elementwise nonlinearities
# ---------------------------------------------------------------------------
class Sigmoid(Function):
    """y = 1 / (1 + exp(-x)), elementwise."""

    def forward(self, x):
        y = kernels.sigmoid(x)
        self.save(y)
        return y

    def backward(self, grad):
        (y,) = self.saved
        return (grad * y * (1.0 - y),)


class Tanh(Function):
    def forward(self, x):
        y = np.tanh(x)
        self.save(y)
        return y

    def backward(self, grad):
        (y,) = self.saved
        return (grad * (1.0 - y * y),)


class ReLU(Function):
    def forward(self, x):
        mask = x > 0
        self.save(mask)
        return x * mask

    def backward(self, grad):
        (mask,) = self.saved
        return (grad * mask,)


class Exp(Function):
    def forward(self, x):
        y = np.exp(x)
        self.save(y)
        return y

    def backward(self, grad):
        (y,) = self.saved
        return (grad * y,)


class Log(Function):
    def forward(self, x):
        if x.size and not (x > 0).all():
            raise ValueError(
                f"log: input must be positive; its minimum is {x.min()!r} "
                f"(shape {x.shape})"
            )
        self.save(x)
        return np.log(x)

    def backward(self, grad):
        (x,) = self.saved
        return (grad / x,)
