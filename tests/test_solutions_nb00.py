"""The reference solutions of notebook 00 (read from the teacher's notebook) against oracles."""

import numpy as np
import pytest
from teacher import solutions

from minigrad import Tensor, gradcheck
from minigrad.function import unbroadcast
from minigrad.tensor import apply

nb00 = solutions("00")


def test_mm_backward_matches_the_package_op():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((4, 2))
    grad = rng.standard_normal((3, 2))
    X, W = Tensor(a, autograd=True), Tensor(b, autograd=True)

    X.mm(W).backward(grad)
    grad_a, grad_b = nb00.mm_backward(a, b, grad)

    np.testing.assert_allclose(grad_a, X.grad)
    np.testing.assert_allclose(grad_b, W.grad)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_scatter_add_equals_add_at_with_repeated_indices(dtype):
    rng = np.random.default_rng(1)
    indices = np.r_[rng.integers(0, 6, size=200), [2, 2, 2]]
    rows = rng.standard_normal((indices.size, 3)).astype(dtype)
    expected = np.zeros((8, 3), dtype=dtype)
    np.add.at(expected, indices, rows)

    got = nb00.my_scatter_add(indices, rows, 8)

    assert got.dtype == dtype
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    assert not got[6:].any()


def test_numerical_gradient_is_a_central_difference_and_leaves_x_alone():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 2)).T  # non-contiguous
    before = x.copy()

    got = nb00.numerical_gradient(lambda v: float(np.sum(np.exp(v))), x)

    np.testing.assert_allclose(got, np.exp(before), rtol=1e-6)
    np.testing.assert_array_equal(x, before)


@pytest.mark.parametrize(("big", "small"), [((3, 4), (4,)), ((3, 4), (3, 1)), ((2, 3, 4), ()),
                                            ((2, 3, 4), (1, 3, 1)), ((5, 1, 2), (1, 2))])
def test_sum_to_shape_equals_the_package_unbroadcast(big, small):
    grad = np.random.default_rng(3).standard_normal(big)

    got = nb00.sum_to_shape(grad, small)

    assert got.shape == small
    np.testing.assert_allclose(got, unbroadcast(grad, small))


@pytest.mark.parametrize(("sa", "sb"), [((3, 2), (3, 2)), ((3, 4), (4,)), ((2, 1), (1, 3))])
def test_squared_difference_passes_gradcheck_in_float64(sa, sb):
    # (a - b)**2 is smooth everywhere: no kink to keep the random inputs away from
    rng = np.random.default_rng(4)
    inputs = [Tensor(rng.standard_normal(sa), autograd=True),
              Tensor(rng.standard_normal(sb), autograd=True)]

    result = gradcheck(lambda a, b: apply(nb00.SquaredDifference, a, b), inputs)

    assert result, str(result)


def test_squared_difference_of_a_tensor_with_itself_has_zero_gradient():
    x = Tensor(np.array([1.0, -2.0, 3.0]), autograd=True)

    apply(nb00.SquaredDifference, x, x).sum().backward()

    np.testing.assert_array_equal(x.grad, np.zeros(3))


def test_tape_gradients_equal_autograd_when_values_are_used_twice():
    rng = np.random.default_rng(5)
    values = {name: rng.standard_normal(4) for name in "xwb"}
    tape = [("h", "mul", ("x", "w")), ("s", "add", ("h", "x")), ("t", "tanh", ("s",)),
            ("z", "mul", ("t", "t")), ("out", "add", ("z", "b"))]
    x, w, b = (Tensor(values[n].copy(), autograd=True) for n in "xwb")
    t = (x * w + x).tanh()
    (t * t + b).sum().backward()

    got = nb00.tape_gradients(tape, values, "out")

    np.testing.assert_allclose(got["x"], x.grad)
    np.testing.assert_allclose(got["w"], w.grad)
    np.testing.assert_allclose(got["b"], b.grad)
