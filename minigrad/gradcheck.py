"""Numerical gradient check: float64 central differences over the full Jacobian.

``gradcheck(fn, inputs)`` compares, for every input element x_k and output
element y_j, the analytic dy_j/dx_k (one ``backward`` per output element)
with (f(x + eps e_k) - f(x - eps e_k)) / (2 eps), and reports the worst entry.
"""

import numpy as np

from .tensor import Tensor, no_grad

__all__ = ["gradcheck", "GradcheckResult", "GradcheckError"]


class GradcheckError(AssertionError):
    """Raised by ``gradcheck(..., raise_on_failure=True)`` when it fails."""


class GradcheckResult:
    """Outcome of a check; truthy when it passed. ``str()`` is the report."""

    def __init__(self, passed, max_abs_error, worst, eps, atol, rtol):
        self.passed = passed
        self.max_abs_error = max_abs_error
        self.worst = worst
        self.eps, self.atol, self.rtol = eps, atol, rtol

    def __bool__(self):
        return self.passed

    def __repr__(self):
        status = "passed" if self.passed else "FAILED"
        w = self.worst
        if w is None:
            return f"gradcheck {status}: no input needs a gradient"
        return (
            f"gradcheck {status} (eps={self.eps:g}, atol={self.atol:g}, rtol={self.rtol:g}): "
            f"worst entry d out{w['output_index']} / d input[{w['input']}]{w['input_index']}: "
            f"analytic {w['analytic']:.10g}, numeric {w['numeric']:.10g}, "
            f"|diff| {w['abs_error']:.3g} (allowed {w['allowed']:.3g})"
        )

    __str__ = __repr__


def _analytic_jacobian(fn, inputs, checked):
    out = fn(*inputs)
    if not isinstance(out, Tensor) or not out.autograd:
        raise TypeError("gradcheck: fn must return a Tensor that depends on an autograd input")
    jac = [np.zeros((out.data.size, inputs[i].data.size)) for i in checked]
    for j in range(out.data.size):
        for i in checked:
            inputs[i].grad = None
        seed = np.zeros(out.data.size)
        seed[j] = 1.0
        out.backward(seed.reshape(out.data.shape))
        for col, i in enumerate(checked):
            g = inputs[i].grad
            if g is not None:
                jac[col][j] = g.reshape(-1)
    for i in checked:
        inputs[i].grad = None
    return out.data.shape, jac


def _numeric_jacobian(fn, inputs, checked, eps):
    jac = []
    with no_grad():
        for i in checked:
            x = inputs[i].data
            cols = []
            for k in range(x.size):
                # index x itself: reshape(-1) of a non-contiguous array is a copy
                idx = np.unravel_index(k, x.shape)
                orig = x[idx]
                x[idx] = orig + eps
                f_plus = np.array(fn(*inputs).data, dtype=np.float64).reshape(-1)
                x[idx] = orig - eps
                f_minus = np.array(fn(*inputs).data, dtype=np.float64).reshape(-1)
                x[idx] = orig
                cols.append((f_plus - f_minus) / (2 * eps))
            jac.append(np.stack(cols, axis=1) if cols else np.zeros((0, 0)))
    return jac


def _index(flat, shape):
    return tuple(int(i) for i in np.unravel_index(flat, shape)) if shape else ()


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_on_failure=False):
    """Check ``fn(*inputs)``'s gradients w.r.t. every input with ``autograd=True``.

    Inputs must be float64 Tensors (float32 central differences are noise).
    Returns a ``GradcheckResult``; ``bool(result)`` is True when every entry
    satisfies ``|analytic - numeric| <= atol + rtol * |numeric|``.
    """
    inputs = list(inputs)
    checked = []
    for i, x in enumerate(inputs):
        if not isinstance(x, Tensor):
            raise TypeError(f"gradcheck: input {i} must be a Tensor, got {type(x).__name__}")
        if x.autograd:
            if x.data.dtype != np.float64:
                raise TypeError(
                    f"gradcheck: input {i} is {x.data.dtype}; central differences need float64"
                )
            checked.append(i)
    if not checked:
        return GradcheckResult(True, 0.0, None, eps, atol, rtol)
    out_shape, analytic = _analytic_jacobian(fn, inputs, checked)
    numeric = _numeric_jacobian(fn, inputs, checked, eps)

    worst, max_abs, passed = None, 0.0, True
    worst_ratio = -1.0
    for col, i in enumerate(checked):
        a, n = analytic[col], numeric[col]
        if a.size == 0:
            continue
        diff = np.abs(a - n)
        allowed = atol + rtol * np.abs(n)
        ratio = diff / allowed
        j, k = np.unravel_index(np.argmax(ratio), ratio.shape)
        max_abs = max(max_abs, float(diff.max()))
        if ratio[j, k] > 1.0:
            passed = False
        if ratio[j, k] > worst_ratio:
            worst_ratio = float(ratio[j, k])
            worst = {
                "input": i,
                "input_index": _index(k, inputs[i].data.shape),
                "output_index": _index(j, out_shape),
                "analytic": float(a[j, k]),
                "numeric": float(n[j, k]),
                "abs_error": float(diff[j, k]),
                "allowed": float(allowed[j, k]),
            }
    result = GradcheckResult(passed, max_abs, worst, eps, atol, rtol)
    if raise_on_failure and not passed:
        raise GradcheckError(str(result))
    return result
