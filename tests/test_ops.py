"""Every textbook op (ops.py): float64 full-Jacobian gradcheck, a few forward values, errors."""

import re

import numpy as np
import pytest

from minigrad import Tensor, concat
from minigrad.gradcheck import gradcheck


# ---------------------------------------------------------------------------
# inputs
# ---------------------------------------------------------------------------
def randn(rng, *shape):
    return Tensor(rng.standard_normal(shape), autograd=True)


def positive(rng, *shape):
    """Values in [0.5, 2]: safe for log, division and fractional powers."""
    return Tensor(rng.uniform(0.5, 2.0, shape), autograd=True)


def off_kink(rng, *shape):
    """|x| in [0.1, 1.5]: central differences never straddle ReLU's kink at 0."""
    magnitude = rng.uniform(0.1, 1.5, shape)
    sign = rng.choice([-1.0, 1.0], shape)
    return Tensor(magnitude * sign, autograd=True)


CONST_2x2 = np.array([[1.0, -2.0], [0.5, 3.0]])
CONST_3x3 = np.arange(9.0).reshape(3, 3) - 4.0


def diamond(a):
    """a -> b -> (c, d) -> c * d: b's gradient arrives along two paths."""
    b = a.tanh()
    c = b * 2.0
    d = b.exp()
    return c * d


# (id, build inputs from rng, fn)
CASES = [
    # + - * / with broadcasting, scalars and reflected ops
    ("add", lambda r: [randn(r, 3, 4), randn(r, 3, 4)], lambda a, b: a + b),
    ("add_(3,4)+(4,)", lambda r: [randn(r, 3, 4), randn(r, 4)], lambda a, b: a + b),
    ("add_(4,)+(3,4)", lambda r: [randn(r, 4), randn(r, 3, 4)], lambda a, b: a + b),
    ("add_(3,4)+()", lambda r: [randn(r, 3, 4), randn(r)], lambda a, b: a + b),
    ("add_python_scalar", lambda r: [randn(r, 3)], lambda a: a + 2.0),
    ("radd_python_scalar", lambda r: [randn(r, 3)], lambda a: 2.0 + a),
    ("add_ndarray_operand", lambda r: [randn(r, 2, 2)], lambda a: CONST_2x2 + a),
    ("sub", lambda r: [randn(r, 3, 4), randn(r, 3, 4)], lambda a, b: a - b),
    ("sub_(3,1)-(1,4)", lambda r: [randn(r, 3, 1), randn(r, 1, 4)], lambda a, b: a - b),
    ("sub_()-(3,4)", lambda r: [randn(r), randn(r, 3, 4)], lambda a, b: a - b),
    ("rsub_2.0-x", lambda r: [randn(r, 3)], lambda a: 2.0 - a),
    ("sub_x-2.0", lambda r: [randn(r, 3)], lambda a: a - 2.0),
    ("mul", lambda r: [randn(r, 3, 4), randn(r, 3, 4)], lambda a, b: a * b),
    ("mul_(3,1)*(1,4)", lambda r: [randn(r, 3, 1), randn(r, 1, 4)], lambda a, b: a * b),
    ("mul_(2,3,4)*(3,1)", lambda r: [randn(r, 2, 3, 4), randn(r, 3, 1)], lambda a, b: a * b),
    ("mul_python_scalar", lambda r: [randn(r, 3)], lambda a: a * -1.5),
    ("rmul_python_scalar", lambda r: [randn(r, 3)], lambda a: -1.5 * a),
    ("div", lambda r: [randn(r, 3, 4), positive(r, 3, 4)], lambda a, b: a / b),
    ("div_(3,4)/(4,)", lambda r: [randn(r, 3, 4), positive(r, 4)], lambda a, b: a / b),
    ("div_(3,1)/(1,4)", lambda r: [randn(r, 3, 1), positive(r, 1, 4)], lambda a, b: a / b),
    ("div_by_python_scalar", lambda r: [randn(r, 3)], lambda a: a / 4.0),
    ("rdiv_1.0/x", lambda r: [positive(r, 3)], lambda a: 1.0 / a),
    ("neg", lambda r: [randn(r, 3, 2)], lambda a: -a),
    ("pow_2", lambda r: [randn(r, 3, 2)], lambda a: a**2),
    ("pow_3", lambda r: [randn(r, 3, 2)], lambda a: a**3),
    ("pow_0.5", lambda r: [positive(r, 3, 2)], lambda a: a**0.5),
    ("pow_-1.5", lambda r: [positive(r, 3, 2)], lambda a: a**-1.5),
    # linear algebra and shapes
    ("mm", lambda r: [randn(r, 2, 3), randn(r, 3, 4)], lambda a, b: a.mm(b)),
    ("matmul_operator", lambda r: [randn(r, 2, 3), randn(r, 3, 1)], lambda a, b: a @ b),
    ("mm_constant_weight", lambda r: [randn(r, 2, 2)], lambda a: a.mm(Tensor(CONST_2x2))),
    ("transpose", lambda r: [randn(r, 2, 3)], lambda a: a.transpose()),
    ("T", lambda r: [randn(r, 2, 3)], lambda a: a.T),
    ("transpose_axes_(2,0,1)", lambda r: [randn(r, 2, 3, 4)], lambda a: a.transpose(2, 0, 1)),
    ("transpose_axes_tuple", lambda r: [randn(r, 2, 3, 4)], lambda a: a.transpose((1, 0, 2))),
    ("transpose_negative_axes", lambda r: [randn(r, 2, 3, 4)], lambda a: a.transpose(-1, 0, 1)),
    # (0, -1) is the identity on a matrix: its gradient must not be transposed
    ("transpose_(0,-1)", lambda r: [randn(r, 3, 3)], lambda a: a.transpose(0, -1) * CONST_3x3),
    ("reshape", lambda r: [randn(r, 2, 6)], lambda a: a.reshape(3, 4)),
    ("reshape_tuple_-1", lambda r: [randn(r, 2, 3, 2)], lambda a: a.reshape((-1,))),
    ("sum_all", lambda r: [randn(r, 3, 4)], lambda a: a.sum()),
    ("sum_dim0", lambda r: [randn(r, 3, 4)], lambda a: a.sum(0)),
    ("sum_dim1", lambda r: [randn(r, 3, 4)], lambda a: a.sum(1)),
    ("sum_dim-1", lambda r: [randn(r, 2, 3, 4)], lambda a: a.sum(-1)),
    ("sum_all_keepdims", lambda r: [randn(r, 3, 4)], lambda a: a.sum(keepdims=True)),
    ("sum_dim0_keepdims", lambda r: [randn(r, 3, 4)], lambda a: a.sum(0, keepdims=True)),
    ("sum_dim1_keepdims", lambda r: [randn(r, 3, 4)], lambda a: a.sum(dim=1, keepdims=True)),
    ("mean_all", lambda r: [randn(r, 3, 4)], lambda a: a.mean()),
    ("mean_dim0", lambda r: [randn(r, 3, 4)], lambda a: a.mean(0)),
    ("mean_dim1_keepdims", lambda r: [randn(r, 3, 4)], lambda a: a.mean(1, keepdims=True)),
    ("expand_dim0", lambda r: [randn(r, 3)], lambda a: a.expand(0, 4)),
    ("expand_dim1", lambda r: [randn(r, 2, 3)], lambda a: a.expand(1, 2)),
    ("expand_dim-1", lambda r: [randn(r, 2, 3)], lambda a: a.expand(-1, 2)),
    (
        "index_select_repeated_out_of_order",
        lambda r: [randn(r, 5, 3)],
        lambda t: t.index_select(np.array([3, 0, 3, 1, 3])),
    ),
    (
        "index_select_2d_indices",
        lambda r: [randn(r, 5, 2)],
        lambda t: t.index_select(np.array([[4, 0], [4, 2], [1, 4]])),
    ),
    (
        "index_select_tensor_indices",
        lambda r: [randn(r, 4, 2)],
        lambda t: t.index_select(Tensor(np.array([2, 2, 0]))),
    ),
    ("concat_dim0", lambda r: [randn(r, 2, 3), randn(r, 1, 3)], lambda a, b: concat([a, b], 0)),
    ("concat_dim1", lambda r: [randn(r, 2, 3), randn(r, 2, 2)], lambda a, b: concat([a, b], 1)),
    (
        "concat_with_constant",
        lambda r: [randn(r, 2, 2), randn(r, 2, 1)],
        lambda a, b: concat([a, Tensor(CONST_2x2), b], dim=1),
    ),
    ("concat_same_tensor_twice", lambda r: [randn(r, 2, 2)], lambda a: concat([a, a], 0)),
    # elementwise nonlinearities
    ("sigmoid", lambda r: [randn(r, 3, 4)], lambda a: a.sigmoid()),
    ("tanh", lambda r: [randn(r, 3, 4)], lambda a: a.tanh()),
    ("relu", lambda r: [off_kink(r, 3, 4)], lambda a: a.relu()),
    ("exp", lambda r: [randn(r, 3, 4)], lambda a: a.exp()),
    ("log", lambda r: [positive(r, 3, 4)], lambda a: a.log()),
    # graph shapes
    ("tensor_used_twice_x*x+x", lambda r: [randn(r, 3)], lambda x: x * x + x),
    ("diamond", lambda r: [randn(r, 2, 3)], diamond),
    (
        "composite_mm_sigmoid_mean",
        lambda r: [randn(r, 4, 3), randn(r, 3, 2), randn(r, 2)],
        lambda x, w, b: (x.mm(w) + b).sigmoid().mean(),
    ),
]


@pytest.mark.parametrize(("build", "fn"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_gradcheck_op_float64(rng, build, fn):
    # Arrange
    inputs = build(rng)
    # Act
    result = gradcheck(fn, inputs)
    # Assert
    assert result, repr(result)


# ---------------------------------------------------------------------------
# forward values
# ---------------------------------------------------------------------------
def test_broadcast_add_forward_matches_numpy():
    a = Tensor([[1.0, 2.0], [3.0, 4.0]], autograd=True)
    b = Tensor([10.0, 20.0], autograd=True)

    out = a + b

    np.testing.assert_array_equal(out.data, [[11.0, 22.0], [13.0, 24.0]])


def test_broadcast_mul_gradient_sums_over_broadcast_axes():
    a = Tensor([[1.0], [2.0], [3.0]], autograd=True)  # (3, 1)
    b = Tensor([[1.0, 10.0]], autograd=True)  # (1, 2)

    (a * b).sum().backward()

    np.testing.assert_array_equal(a.grad, [[11.0], [11.0], [11.0]])
    np.testing.assert_array_equal(b.grad, [[6.0, 6.0]])


def test_index_select_returns_rows_in_index_order():
    table = Tensor([[0.0, 0.5], [1.0, 1.5], [2.0, 2.5]], autograd=True)

    out = table.index_select(np.array([[2, 0], [2, 2]]))

    assert out.shape == (2, 2, 2)
    np.testing.assert_array_equal(out.data[0], [[2.0, 2.5], [0.0, 0.5]])
    np.testing.assert_array_equal(out.data[1], [[2.0, 2.5], [2.0, 2.5]])


def test_concat_joins_and_splits_gradient_back():
    a = Tensor([[1.0, 2.0]], autograd=True)
    b = Tensor([[3.0, 4.0], [5.0, 6.0]], autograd=True)

    out = concat([a, b], dim=0)
    out.backward(np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]))

    np.testing.assert_array_equal(out.data, [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    np.testing.assert_array_equal(a.grad, [[1.0, 2.0]])
    np.testing.assert_array_equal(b.grad, [[3.0, 4.0], [5.0, 6.0]])


def test_expand_repeats_along_new_axis():
    x = Tensor([1.0, 2.0], autograd=True)

    out = x.expand(0, 3)

    np.testing.assert_array_equal(out.data, [[1.0, 2.0]] * 3)


def test_sum_and_mean_shapes_follow_dim_and_keepdims():
    x = Tensor(np.arange(12.0).reshape(3, 4), autograd=True)

    assert x.sum().shape == ()
    assert x.sum(0).shape == (4,)
    assert x.sum(1, keepdims=True).shape == (3, 1)
    assert x.mean(0, keepdims=True).shape == (1, 4)
    np.testing.assert_array_equal(x.sum(0).data, [12.0, 15.0, 18.0, 21.0])
    np.testing.assert_array_equal(x.mean(1).data, [1.5, 5.5, 9.5])


# ---------------------------------------------------------------------------
# bad input -> a clear error naming shapes / index
# ---------------------------------------------------------------------------
def test_mm_mismatched_shapes_names_both_shapes():
    a = Tensor(np.zeros((2, 3)), autograd=True)
    b = Tensor(np.zeros((4, 5)), autograd=True)

    with pytest.raises(ValueError) as err:
        a.mm(b)

    assert "(2, 3)" in str(err.value)
    assert "(4, 5)" in str(err.value)


def test_mm_rejects_1d_operand():
    a = Tensor(np.zeros(3), autograd=True)
    b = Tensor(np.zeros((3, 2)), autograd=True)

    with pytest.raises(ValueError, match=re.escape("(3,)")):
        a.mm(b)


def test_index_select_out_of_range_names_index_and_table_size():
    table = Tensor(np.zeros((5, 2)), autograd=True)

    with pytest.raises(IndexError) as err:
        table.index_select(np.array([0, 7, 1]))

    message = str(err.value)
    assert "7" in message
    assert "5 rows" in message


def test_index_select_negative_index_is_rejected():
    table = Tensor(np.zeros((5, 2)), autograd=True)

    with pytest.raises(IndexError, match="-1"):
        table.index_select(np.array([2, -1]))


def test_index_select_float_indices_are_rejected():
    table = Tensor(np.zeros((5, 2)), autograd=True)

    with pytest.raises(TypeError, match="float64"):
        table.index_select(np.array([0.0, 1.0]))


def test_log_of_non_positive_input_is_rejected():
    x = Tensor([1.0, 0.0, 2.0], autograd=True)

    with pytest.raises(ValueError, match="positive"):
        x.log()


def test_pow_rejects_tensor_exponent():
    x = Tensor([1.0, 2.0], autograd=True)

    with pytest.raises(TypeError):
        x ** Tensor(2.0)
