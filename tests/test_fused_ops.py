"""Fused ops (fused_ops.py): float64 gradchecks, brute-force oracles, and their errors."""

import re
import warnings

import numpy as np
import pytest
from deepfmdata import brute_force_fm, off_kink, randn

from minigrad import Tensor
from minigrad.gradcheck import gradcheck

# ---------------------------------------------------------------------------
# gradcheck in float64
# ---------------------------------------------------------------------------
LOGITS = np.array([[30.0, -30.0], [30.0, -30.0], [0.3, -1.2]])  # large |x| must not overflow
TARGETS = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])  # both right and badly wrong at ±30
REPEATED = np.array([[0, 2, 2, 5], [5, 5, 1, 0], [3, 0, 2, 5]])  # repeats within and across rows
OP_CASES = [
    ("fm_interaction", lambda r: [randn(r, 2, 3, 4)], lambda v: v.fm_interaction()),
    (
        "bce_with_logits_mean",
        lambda r: [Tensor(LOGITS.copy(), autograd=True)],
        lambda z: z.bce_with_logits(TARGETS),
    ),
    (
        "bce_with_logits_sum",
        lambda r: [Tensor(LOGITS.copy(), autograd=True)],
        lambda z: z.bce_with_logits(TARGETS, reduction="sum"),
    ),
    (
        "bce_with_logits_none",
        lambda r: [Tensor(LOGITS.copy(), autograd=True)],
        lambda z: z.bce_with_logits(Tensor(TARGETS), reduction="none"),
    ),
    ("embedding_bag_plain", lambda r: [randn(r, 6, 3)],
     lambda w: w.embedding_bag(REPEATED)),
    ("embedding_bag_bags", lambda r: [randn(r, 6, 3)],
     lambda w: w.embedding_bag(REPEATED, offsets=(0, 1))),
    ("embedding_bag_one_bag_padding", lambda r: [randn(r, 6, 1)],
     lambda w: w.embedding_bag(REPEATED, offsets=(0,), padding_idx=5)),
    ("embedding_bag_three_bags_padding", lambda r: [randn(r, 6, 2)],
     lambda w: w.embedding_bag(REPEATED, offsets=[0, 2, 3], padding_idx=2)),
    ("linear_relu", lambda r: [off_kink(r, 4, 3), randn(r, 3, 5), randn(r, 5)],
     lambda x, w, b: x.linear(w, b, activation="relu")),
    ("linear_no_activation", lambda r: [randn(r, 4, 3), randn(r, 3, 2), randn(r, 2)],
     lambda x, w, b: x.linear(w, b)),
    ("linear_no_bias", lambda r: [randn(r, 4, 3), randn(r, 3, 2)],
     lambda x, w: x.linear(w)),
    ("linear_input_used_twice", lambda r: [randn(r, 3, 3), randn(r, 3)],
     lambda w, b: w.linear(w, b)),
    ("fm_stats", lambda r: [randn(r, 3, 4, 2), randn(r, 3, 1)],
     lambda v, lin: v.fm_stats(lin)),
    ("fm_from_stats", lambda r: [randn(r, 3, 5)], lambda s: s.fm_from_stats()),
    ("fm_stats_then_from_stats", lambda r: [randn(r, 2, 3, 4), randn(r, 2, 1)],
     lambda v, lin: v.fm_stats(lin).fm_from_stats()),
]


@pytest.mark.parametrize("build, fn", [c[1:] for c in OP_CASES], ids=[c[0] for c in OP_CASES])
def test_fused_op_gradcheck_float64(rng, build, fn):
    # Arrange
    inputs = build(rng)
    # Act
    result = gradcheck(fn, inputs)
    # Assert
    assert result, str(result)


def test_a_too_coarse_eps_fails_the_check_on_a_fused_op(rng):
    v, lin = randn(rng, 2, 3, 2), randn(rng, 2, 1)
    assert not gradcheck(lambda v, lin: v.fm_stats(lin).fm_from_stats().exp(), [v, lin],
                         eps=1.0, atol=1e-9, rtol=1e-9)


def test_embedding_bag_equals_a_naive_loop_over_bags(rng):
    table = rng.standard_normal((6, 3))
    offsets = (0, 2, 3)
    got = Tensor(table).embedding_bag(REPEATED, offsets=offsets).data
    bounds = list(zip(offsets, list(offsets[1:]) + [REPEATED.shape[1]], strict=True))
    for b in range(REPEATED.shape[0]):
        for f, (lo, hi) in enumerate(bounds):
            np.testing.assert_allclose(got[b, f], table[REPEATED[b, lo:hi]].sum(0), rtol=1e-12)


def test_embedding_bag_padding_slots_add_nothing_and_get_no_gradient(rng):
    table = Tensor(rng.standard_normal((6, 2)), autograd=True)
    out = table.embedding_bag(REPEATED, offsets=(0, 2), padding_idx=5)
    out.sum().backward()
    assert np.all(table.grad[5] == 0)
    assert np.all(table.grad[0] == 3)     # row 0 appears three times, in bags of both fields
    np.testing.assert_allclose(out.data[1, 0], 0 * table.data[5])      # slots 5, 5: nothing
    np.testing.assert_allclose(out.data[0, 1], table.data[2], rtol=1e-12)  # 2 + (5 ignored)


@pytest.mark.parametrize("offsets, match", [((1, 2), "start at 0"), ((0, 0, 2), "strictly"),
                                            ((0, 4), "below"), ((), "start at 0")])
def test_embedding_bag_rejects_bad_offsets(offsets, match):
    with pytest.raises(ValueError, match=match):
        Tensor(np.zeros((6, 2))).embedding_bag(REPEATED, offsets=offsets)


def test_embedding_bag_rejects_out_of_range_and_float_indices():
    table = Tensor(np.zeros((6, 2)))
    with pytest.raises(IndexError, match="index 6 at position"):
        table.embedding_bag(np.array([[0, 6]]))
    with pytest.raises(TypeError, match="integer"):
        table.embedding_bag(np.array([[0.0, 1.0]]))
    with pytest.raises(TypeError, match="2-D"):
        table.embedding_bag(np.array([0, 1]))


def test_linear_op_equals_mm_add_relu_bit_for_bit(rng):
    # Arrange: float32, as in training
    data = [rng.standard_normal(s).astype(np.float32) for s in ((8, 5), (5, 7), (7,))]
    grad = rng.standard_normal((8, 7)).astype(np.float32)
    fused = [Tensor(d.copy(), autograd=True) for d in data]
    apart = [Tensor(d.copy(), autograd=True) for d in data]
    # Act
    y1 = fused[0].linear(fused[1], fused[2], activation="relu")
    y2 = (apart[0].mm(apart[1]) + apart[2]).relu()
    y1.backward(grad)
    y2.backward(grad)
    # Assert
    assert np.array_equal(y1.data, y2.data)
    for a, b in zip(fused, apart, strict=True):
        assert a.grad.dtype == np.float32 and np.array_equal(a.grad, b.grad)


def test_linear_rejects_misaligned_shapes_and_unknown_activation():
    with pytest.raises(ValueError, match="do not align"):
        Tensor(np.zeros((2, 3))).linear(np.zeros((4, 1)))
    with pytest.raises(ValueError, match="activation"):
        Tensor(np.zeros((2, 3))).linear(np.zeros((3, 1)), activation="tanh")
    with pytest.raises(ValueError, match="bias"):
        Tensor(np.zeros((2, 3))).linear(np.zeros((3, 2)), np.zeros(3))


def test_fm_interaction_equals_brute_force_pairwise_sum(rng):
    v = rng.standard_normal((4, 5, 3))
    np.testing.assert_allclose(Tensor(v).fm_interaction().data, brute_force_fm(v), rtol=1e-12)


def test_fm_shares_of_two_field_groups_add_up_to_the_whole_fm(rng):
    # Arrange: 6 fields split 4 / 2 between two parties, with linear terms
    v = rng.standard_normal((3, 6, 4))
    lin_a, lin_b = rng.standard_normal((3, 1)), rng.standard_normal((3, 1))
    # Act
    shares = Tensor(v[:, :4]).fm_stats(lin_a) + Tensor(v[:, 4:]).fm_stats(lin_b)
    fm = shares.fm_from_stats().data
    # Assert
    np.testing.assert_allclose(fm, brute_force_fm(v) + lin_a + lin_b, rtol=1e-12)
    np.testing.assert_allclose(shares.data[:, :4], v.sum(1), rtol=1e-12)


def test_fm_stats_rejects_bad_shapes():
    with pytest.raises(ValueError, match="batch, fields, dim"):
        Tensor(np.zeros((3, 4))).fm_stats(np.zeros((3, 1)))
    with pytest.raises(ValueError, match="linear must have shape"):
        Tensor(np.zeros((3, 2, 4))).fm_stats(np.zeros((3,)))
    with pytest.raises(ValueError, match="dim \\+ 1"):
        Tensor(np.zeros((3, 1))).fm_from_stats()


def test_fm_interaction_equals_sum_of_pairwise_dot_products(rng):
    v = rng.standard_normal((2, 3, 4))
    pairwise = np.array(
        [sum(v[b, i] @ v[b, j] for i in range(3) for j in range(i + 1, 3)) for b in range(2)]
    )

    out = Tensor(v, autograd=True).fm_interaction()

    assert out.shape == (2, 1)
    np.testing.assert_allclose(out.data[:, 0], pairwise, rtol=1e-12)


def test_bce_with_logits_matches_naive_formula_for_moderate_logits():
    z = np.array([-2.0, -0.5, 0.0, 1.5])
    y = np.array([0.0, 1.0, 1.0, 0.0])
    p = 1.0 / (1.0 + np.exp(-z))
    naive = -(y * np.log(p) + (1 - y) * np.log(1 - p))

    out = Tensor(z, autograd=True).bce_with_logits(y, reduction="none")

    np.testing.assert_allclose(out.data, naive, rtol=1e-12)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_bce_with_logits_is_finite_for_huge_logits(reduction):
    z = Tensor([[1000.0, -1000.0], [30.0, -30.0]], autograd=True)
    y = np.array([[0.0, 1.0], [1.0, 0.0]])

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an overflow in exp would be a RuntimeWarning
        loss = z.bce_with_logits(y, reduction=reduction)
        loss.backward(np.ones_like(loss.data))

    assert np.all(np.isfinite(loss.data))
    assert np.all(np.isfinite(z.grad))
    per_element = np.array([[1000.0, 1000.0], [0.0, 0.0]])  # wrong at ±1000, right at ±30
    expected = {"mean": per_element.mean(), "sum": per_element.sum(), "none": per_element}
    np.testing.assert_allclose(loss.data, expected[reduction], atol=1e-12)


def test_bce_with_logits_target_shape_mismatch_names_both_shapes():
    z = Tensor(np.zeros((4, 1)), autograd=True)

    with pytest.raises(ValueError) as err:
        z.bce_with_logits(np.zeros(4))

    assert "(4,)" in str(err.value)
    assert "(4, 1)" in str(err.value)


def test_bce_with_logits_rejects_unknown_reduction():
    z = Tensor(np.zeros(3), autograd=True)

    with pytest.raises(ValueError, match="reduction"):
        z.bce_with_logits(np.zeros(3), reduction="max")


def test_fm_interaction_needs_3d_input():
    v = Tensor(np.zeros((2, 3)), autograd=True)

    with pytest.raises(ValueError, match=re.escape("(2, 3)")):
        v.fm_interaction()
