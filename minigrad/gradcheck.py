"""Numerical gradient check: float64 central differences over the full Jacobian.

``gradcheck(fn, inputs)`` compares, for every input element x_k and output
element y_j, the analytic dy_j/dx_k (one ``backward`` per output element)
with (f(x + eps e_k) - f(x - eps e_k)) / (2 eps), and reports the worst entry.
"""

import numbers

import numpy as np

from .tensor import Tensor, no_grad

__all__ = ["gradcheck", "GradcheckResult", "GradcheckError"]


class GradcheckError(AssertionError):
    """Raised by ``gradcheck(..., raise_on_failure=True)`` when it fails."""


class GradcheckResult:
    """Outcome of a check; truthy when it passed. ``str()`` is the report.

    ``worst`` is the finite entry furthest outside its tolerance (None if there is
    none); ``nonfinite`` the entries where the analytic or numeric derivative is NaN
    or infinite (each one a failure), and ``num_nonfinite`` how many there are.
    """

    def __init__(self, passed, max_abs_error, worst, eps, atol, rtol, nonfinite=(),
                 num_nonfinite=0):
        self.passed = passed
        self.max_abs_error = max_abs_error
        self.worst = worst
        self.eps, self.atol, self.rtol = eps, atol, rtol
        self.nonfinite = list(nonfinite)
        self.num_nonfinite = num_nonfinite

    def __bool__(self):
        return self.passed

    def __repr__(self):
        status = "passed" if self.passed else "FAILED"
        head = f"gradcheck {status} (eps={self.eps:g}, atol={self.atol:g}, rtol={self.rtol:g}): "
        parts = []
        if self.num_nonfinite:
            listed = "; ".join(
                f"d out{e['output_index']} / d input[{e['input']}]{e['input_index']}: "
                f"analytic {e['analytic']:.10g}, numeric {e['numeric']:.10g}"
                for e in self.nonfinite
            )
            more = self.num_nonfinite - len(self.nonfinite)
            parts.append(f"{self.num_nonfinite} non-finite entr"
                         f"{'y' if self.num_nonfinite == 1 else 'ies'} ({listed}"
                         f"{f'; {more} more' if more else ''})")
        w = self.worst
        if w is not None:
            label = "worst finite entry" if self.num_nonfinite else "worst entry"
            parts.append(
                f"{label} d out{w['output_index']} / d input[{w['input']}]{w['input_index']}: "
                f"analytic {w['analytic']:.10g}, numeric {w['numeric']:.10g}, "
                f"|diff| {w['abs_error']:.3g} (allowed {w['allowed']:.3g})"
            )
        if not parts:
            return f"gradcheck {status}: no input needs a gradient"
        return head + "; ".join(parts)

    __str__ = __repr__


def _analytic_jacobian(fn, inputs, checked):
    out = fn(*inputs)
    if not isinstance(out, Tensor) or not out.autograd:
        raise TypeError("gradcheck: fn must return a Tensor that depends on an autograd input")
    if out.data.dtype != np.float64:
        raise TypeError(
            f"gradcheck: fn returned {out.data.dtype}; central differences need a float64 output"
        )
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


def _check_tolerance(name, value, positive):
    """``value`` as a float, or a ValueError naming the argument."""
    bound = "> 0" if positive else ">= 0"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ValueError(f"gradcheck: {name} must be a finite number {bound}, got {value!r}")
    x = float(value)
    if not np.isfinite(x) or (x <= 0 if positive else x < 0):
        raise ValueError(f"gradcheck: {name} must be a finite number {bound}, got {value!r}")
    return x


_MAX_LISTED = 5  # non-finite entries named in the report; the count says how many in all


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_on_failure=False):
    """Check ``fn(*inputs)``'s gradients w.r.t. every input with ``autograd=True``.

    Inputs must be float64 Tensors (float32 central differences are noise), and so
    must the output. Returns a ``GradcheckResult``; ``bool(result)`` is True when
    every entry is finite, analytic and numeric, and satisfies
    ``|analytic - numeric| <= atol + rtol * |numeric|``. eps must be finite and
    > 0; atol and rtol finite and >= 0.
    """
    eps = _check_tolerance("eps", eps, positive=True)
    atol = _check_tolerance("atol", atol, positive=False)
    rtol = _check_tolerance("rtol", rtol, positive=False)
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
            if not np.isfinite(x.data).all():
                raise ValueError(
                    f"gradcheck: input {i} holds NaN or infinite values; expected a finite "
                    f"point to differentiate at"
                )
            checked.append(i)
    if not checked:
        return GradcheckResult(True, 0.0, None, eps, atol, rtol)
    out_shape, analytic = _analytic_jacobian(fn, inputs, checked)
    numeric = _numeric_jacobian(fn, inputs, checked, eps)

    worst, max_abs, passed = None, 0.0, True
    worst_ratio = -1.0
    nonfinite, num_nonfinite = [], 0
    for col, i in enumerate(checked):
        a, n = analytic[col], numeric[col]
        if a.size == 0:
            continue
        finite = np.isfinite(a) & np.isfinite(n)
        if not finite.all():
            # NaN compares False with everything, so it would pass `diff > allowed`
            # and hide behind any finite entry: each one is a failure of its own
            passed = False
            bad = np.argwhere(~finite)
            num_nonfinite += len(bad)
            for j, k in bad[: max(0, _MAX_LISTED - len(nonfinite))]:
                nonfinite.append(_entry(i, j, k, a, n, inputs, out_shape))
            if not finite.any():
                continue
        a_finite, n_finite = np.where(finite, a, 0.0), np.where(finite, n, 0.0)  # no inf - inf
        diff = np.abs(a_finite - n_finite)
        allowed = atol + rtol * np.abs(n_finite)
        over = diff > allowed
        # diff / allowed, with 0/0 -> 0 and x/0 -> inf, so atol = rtol = 0 still ranks
        ratio = np.divide(diff, allowed, out=np.where(over, np.inf, 0.0), where=allowed > 0)
        ratio[~finite] = -np.inf  # the worst *finite* mismatch is reported beside them
        # among equal ratios (all inf when atol = rtol = 0) the largest |diff| is worst
        top = np.where(ratio == ratio.max(), diff, -1.0)
        j, k = np.unravel_index(np.argmax(top), ratio.shape)
        max_abs = max(max_abs, float(diff.max()))
        if over.any():
            passed = False
        if ratio[j, k] > worst_ratio:
            worst_ratio = float(ratio[j, k])
            worst = _entry(i, j, k, a, n, inputs, out_shape)
            worst["abs_error"] = float(diff[j, k])
            worst["allowed"] = float(allowed[j, k])
    result = GradcheckResult(passed, max_abs, worst, eps, atol, rtol, nonfinite, num_nonfinite)
    if raise_on_failure and not passed:
        raise GradcheckError(str(result))
    return result


def _entry(i, j, k, a, n, inputs, out_shape):
    return {
        "input": i,
        "input_index": _index(k, inputs[i].data.shape),
        "output_index": _index(j, out_shape),
        "analytic": float(a[j, k]),
        "numeric": float(n[j, k]),
    }
