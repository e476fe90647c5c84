"""Notebook 00: one plausible wrong answer per exercise, and right answers written differently."""

WRONG = {
    # dL/dW transposed: the product of G^T and X has the entries of dL/dW^T
    "try_mm_backward": '''def mm_backward(a, b, grad):
    return grad @ b.T, grad.T @ a
''',
    # fancy-index += is buffered: a repeated index is added once, not once per lookup
    "try_scatter_add": '''import numpy as np


def my_scatter_add(indices, rows, num_rows):
    out = np.zeros((num_rows, rows.shape[1]), dtype=rows.dtype)
    out[indices] += rows
    return out
''',
    # a forward difference: its error is O(eps), not O(eps**2)
    "numerical_gradient": '''import numpy as np


def numerical_gradient(f, x, eps=1e-6):
    grad = np.zeros(x.shape)
    f_x = float(f(x))
    for idx in np.ndindex(x.shape):
        orig = x[idx]
        x[idx] = orig + eps
        grad[idx] = (float(f(x)) - f_x) / eps
        x[idx] = orig
    return grad
''',
    # only the leading axes are summed; stretched axes of length 1 are forgotten
    "sum_to_shape": '''def sum_to_shape(grad, shape):
    while grad.ndim > len(shape):
        grad = grad.sum(axis=0)
    return grad
''',
    # right for equal shapes, but the gradients are never summed back after broadcasting
    "squared_difference": '''from minigrad.function import Function


class SquaredDifference(Function):
    def forward(self, a, b):
        self.save(a, b)
        return (a - b) ** 2

    def backward(self, grad):
        a, b = self.saved
        return 2 * (a - b) * grad, -2 * (a - b) * grad
''',
    # the tinygrad bug: a second use of a value overwrites the first one's gradient
    "tape_gradients": '''import numpy as np


def tape_gradients(tape, values, output):
    vals = dict(values)
    for out, op, args in tape:
        if op == "add":
            vals[out] = vals[args[0]] + vals[args[1]]
        elif op == "mul":
            vals[out] = vals[args[0]] * vals[args[1]]
        else:
            vals[out] = np.tanh(vals[args[0]])
    grads = {name: np.zeros_like(v) for name, v in vals.items()}
    grads[output] = np.ones_like(vals[output])
    for out, op, args in reversed(tape):
        g = grads[out]
        if op == "add":
            grads[args[0]] = g
            grads[args[1]] = g
        elif op == "mul":
            grads[args[0]] = g * vals[args[1]]
            grads[args[1]] = g * vals[args[0]]
        else:
            grads[args[0]] = g * (1 - vals[out] ** 2)
    return {name: grads[name] for name in values}
''',
}

OTHER_RIGHT = {
    # the same gradients written with einsum, as a list
    "try_mm_backward": '''import numpy as np


def mm_backward(a, b, grad):
    return [np.einsum("ij,kj->ik", grad, b), np.einsum("ik,ij->kj", a, grad)]
''',
    # one bincount over the flattened (row, column) index
    "try_scatter_add": '''import numpy as np


def my_scatter_add(indices, rows, num_rows):
    dim = rows.shape[1]
    flat = (indices[:, None] * dim + np.arange(dim)).ravel()
    sums = np.bincount(flat, weights=rows.ravel(), minlength=num_rows * dim)
    return sums.reshape(num_rows, dim).astype(rows.dtype)
''',
    # perturbs copies, so x is never written to
    "numerical_gradient": '''import numpy as np


def numerical_gradient(f, x, eps=1e-6):
    grad = np.empty(x.shape)
    for idx in np.ndindex(*x.shape):
        step = np.zeros(x.shape)
        step[idx] = eps
        grad[idx] = (f(x + step) - f(x - step)) / (2 * eps)
    return grad
''',
    # pads the shape with leading 1s, then one sum over every stretched axis
    "sum_to_shape": '''import numpy as np


def sum_to_shape(grad, shape):
    padded = (1,) * (grad.ndim - len(shape)) + tuple(shape)
    axes = tuple(i for i, (g, s) in enumerate(zip(grad.shape, padded)) if s == 1 and g != 1)
    return np.sum(grad, axis=axes, keepdims=True).reshape(shape)
''',
    # saves the inputs, sums back with its own helper, and skips unneeded gradients
    "squared_difference": '''import numpy as np

from minigrad.function import Function


def _sum_back(g, shape):
    while g.ndim > len(shape):
        g = g.sum(axis=0)
    for axis, n in enumerate(shape):
        if n == 1 and g.shape[axis] != 1:
            g = g.sum(axis=axis, keepdims=True)
    return g


class SquaredDifference(Function):
    def forward(self, a, b):
        self.save(a, b)
        return np.square(a - b)

    def backward(self, grad):
        a, b = self.saved
        ga = _sum_back(2 * (a - b) * grad, a.shape) if self.needs_input_grad[0] else None
        gb = _sum_back(2 * (b - a) * grad, b.shape) if self.needs_input_grad[1] else None
        return ga, gb
''',
    # zero-initialised accumulators for every name, added to in place
    "tape_gradients": '''import numpy as np

OPS = {"add": lambda a, b: a + b, "mul": lambda a, b: a * b, "tanh": np.tanh}


def tape_gradients(tape, values, output):
    vals = {name: np.asarray(v, dtype=np.float64) for name, v in values.items()}
    for out, op, args in tape:
        vals[out] = OPS[op](*(vals[name] for name in args))
    grads = {name: np.zeros_like(v) for name, v in vals.items()}
    grads[output] += 1.0
    for out, op, args in tape[::-1]:
        g = grads[out]
        if op == "add":
            parts = (g, g)
        elif op == "mul":
            parts = (g * vals[args[1]], g * vals[args[0]])
        else:
            parts = (g * (1.0 - np.tanh(vals[args[0]]) ** 2),)
        for name, part in zip(args, parts):
            grads[name] += part
    return {name: grads[name] for name in values}
''',
}
