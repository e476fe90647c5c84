"""gradcheck itself: it passes correct gradients, fails wrong ones, and says where."""

import numpy as np
import pytest

from minigrad import Tensor
from minigrad.function import Function
from minigrad.gradcheck import GradcheckError, gradcheck
from minigrad.tensor import apply


class WrongSquare(Function):
    """x ** 2 with a deliberately wrong backward (forgets the factor 2)."""

    def forward(self, x):
        self.save(x)
        return x * x

    def backward(self, grad):
        (x,) = self.saved
        return (grad * x,)


def test_passes_on_correct_gradient_and_reports_passed():
    x = Tensor([0.5, -1.0, 2.0], autograd=True)

    result = gradcheck(lambda x: x * x, [x])

    assert result
    assert result.passed
    assert "passed" in repr(result)
    assert result.max_abs_error < 1e-6


@pytest.mark.parametrize("fn", [lambda x: x.exp(), lambda x: x**3], ids=["exp", "cube"])
def test_coarse_eps_fails(fn):
    x = Tensor([[2.0, -1.5], [0.2, 3.0]], autograd=True)

    result = gradcheck(fn, [x], eps=1.0)

    assert not result
    assert "FAILED" in repr(result)


def test_failure_report_names_the_worst_entry():
    # With eps=1 the central difference of x**3 is 3x^2 + 1 instead of 3x^2: the
    # absolute error is 1 everywhere, so relative to the tolerance it is worst
    # where |x| is smallest, at input index (1, 0) (x = 0.2).
    x = Tensor([[2.0, -1.5], [0.2, 3.0]], autograd=True)

    result = gradcheck(lambda x: x**3, [x], eps=1.0)

    report = repr(result)
    assert result.worst["input"] == 0
    assert result.worst["input_index"] == (1, 0)
    assert result.worst["output_index"] == (1, 0)
    assert "d out(1, 0) / d input[0](1, 0)" in report
    assert "analytic 0.12" in report  # 3 * 0.2**2
    assert "numeric 1.12" in report
    assert str(result) == report


def test_detects_a_wrong_backward():
    x = Tensor([0.5, -1.0, 2.0], autograd=True)

    result = gradcheck(lambda x: apply(WrongSquare, x), [x])

    assert not result
    assert result.worst["analytic"] == pytest.approx(0.5 * result.worst["numeric"])


def test_raise_on_failure_raises_with_the_report():
    x = Tensor([0.5, -1.0, 2.0], autograd=True)

    with pytest.raises(GradcheckError, match="worst entry"):
        gradcheck(lambda x: apply(WrongSquare, x), [x], raise_on_failure=True)


def test_refuses_float32_inputs():
    x = Tensor(np.array([0.5, 1.0], dtype=np.float32), autograd=True)

    with pytest.raises(TypeError, match="float32"):
        gradcheck(lambda x: x * x, [x])


def test_refuses_non_tensor_inputs():
    with pytest.raises(TypeError, match="Tensor"):
        gradcheck(lambda x: x * x, [np.array([1.0])])


def test_checks_only_inputs_with_autograd():
    x = Tensor([0.5, -1.0], autograd=True)
    w = Tensor([3.0, 4.0])  # a constant: not perturbed, not checked

    result = gradcheck(lambda x, w: x * w, [x, w])

    assert result
    assert result.worst["input"] == 0


def test_multiple_inputs_worst_entry_names_the_broken_input():
    x = Tensor([0.5, -1.0], autograd=True)
    y = Tensor([1.5, 2.0], autograd=True)

    result = gradcheck(lambda x, y: x + apply(WrongSquare, y), [x, y])

    assert not result
    assert result.worst["input"] == 1
    assert "input[1]" in repr(result)


def test_leaves_inputs_unchanged(rng):
    data = rng.standard_normal((2, 3))
    x = Tensor(data.copy(), autograd=True)

    gradcheck(lambda x: (x * x).sum(), [x])

    np.testing.assert_array_equal(x.data, data)
    assert x.grad is None


def test_works_on_non_contiguous_input(rng):
    # A transposed view: perturbing a reshape(-1) copy of it would perturb nothing.
    x = Tensor(rng.standard_normal((3, 2)).T, autograd=True)
    assert not x.data.flags.c_contiguous

    result = gradcheck(lambda x: x * x, [x])

    assert result, repr(result)


def test_scalar_input_and_output():
    x = Tensor(np.array(0.7), autograd=True)

    result = gradcheck(lambda x: (x * x).exp(), [x])

    assert result, repr(result)


# ----------------------------------------------------------- hostile inputs (issue 17)
class NaNSquare(Function):
    """x ** 2 whose backward puts NaN in entry ``nan_at`` and is 50x wrong at ``wrong_at``."""

    nan_at, wrong_at, bad = 0, None, np.nan

    def forward(self, x):
        self.save(x)
        return x * x

    def backward(self, grad):
        (x,) = self.saved
        g = grad * 2.0 * x
        if grad[self.nan_at] != 0:  # only the diagonal entry d y0 / d x0 is NaN
            g[self.nan_at] = self.bad
        if self.wrong_at is not None:
            g[self.wrong_at] *= 50.0
        return (g,)


def test_nan_in_the_analytic_gradient_fails_and_is_named():
    x = Tensor([0.5, -1.0, 2.0], autograd=True)

    result = gradcheck(lambda x: apply(NaNSquare, x), [x])

    assert not result
    assert result.num_nonfinite == 1
    assert result.nonfinite[0]["input_index"] == (0,)
    assert np.isnan(result.nonfinite[0]["analytic"])
    assert "non-finite" in repr(result) and "d out(0,) / d input[0](0,)" in repr(result)
    with pytest.raises(GradcheckError, match="non-finite"):
        gradcheck(lambda x: apply(NaNSquare, x), [x], raise_on_failure=True)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_non_finite_entry_does_not_hide_a_wrong_finite_entry(bad):
    NaNAndWrong = type("NaNAndWrong", (NaNSquare,), {"nan_at": 0, "wrong_at": 2, "bad": bad})
    x = Tensor([0.5, -1.0, 2.0], autograd=True)

    result = gradcheck(lambda x: apply(NaNAndWrong, x), [x])

    assert not result
    assert result.num_nonfinite == 1
    assert result.worst["input_index"] == (2,) and result.worst["output_index"] == (2,)
    assert result.worst["analytic"] == pytest.approx(50 * result.worst["numeric"])
    assert "worst finite entry d out(2,) / d input[0](2,)" in repr(result)


def test_non_finite_numeric_derivative_fails():
    # log near 0: the step x - eps leaves the domain, so f(x - eps) is NaN
    x = Tensor([1e-9, 1.0], autograd=True)

    with np.errstate(all="ignore"):
        result = gradcheck(_unsafe_log, [x], eps=1e-6)

    assert not result
    assert result.num_nonfinite >= 1
    assert result.nonfinite[0]["input_index"] == (0,)


class _UnguardedLog(Function):
    def forward(self, x):
        self.save(x)
        return np.log(x)

    def backward(self, grad):
        (x,) = self.saved
        return (grad / x,)


def _unsafe_log(x):
    return apply(_UnguardedLog, x)


@pytest.mark.parametrize("kwargs", [
    {"eps": 0.0}, {"eps": -1e-6}, {"eps": np.nan}, {"eps": np.inf}, {"eps": "1e-6"},
    {"atol": np.nan}, {"atol": -1.0}, {"atol": np.inf},
    {"rtol": -1.0}, {"rtol": np.nan}, {"rtol": np.inf}, {"rtol": True},
])
def test_bad_tolerances_are_refused_before_any_check(kwargs):
    x = Tensor([0.5, -1.0, 2.0], autograd=True)
    name = next(iter(kwargs))

    with pytest.raises(ValueError, match=f"gradcheck: {name} must be a finite number"):
        gradcheck(lambda x: apply(WrongSquare, x), [x], **kwargs)


def test_zero_tolerances_are_allowed_and_still_rank_the_worst_entry():
    x = Tensor([0.5, -1.0, 2.0], autograd=True)

    result = gradcheck(lambda x: apply(WrongSquare, x), [x], atol=0.0, rtol=0.0)

    assert not result
    assert result.worst["input_index"] == (2,)  # |x - 2x| is largest at x = 2


def test_refuses_non_finite_inputs_and_float32_outputs():
    with pytest.raises(ValueError, match="input 0 holds NaN"):
        gradcheck(lambda x: x * x, [Tensor([np.nan, 1.0], autograd=True)])
    with pytest.raises(TypeError, match="float64 output"):
        gradcheck(lambda x: apply(_ToFloat32, x), [Tensor([0.5, 1.0], autograd=True)])


class _ToFloat32(Function):
    def forward(self, x):
        return x.astype(np.float32)

    def backward(self, grad):
        return (grad.astype(np.float64),)
