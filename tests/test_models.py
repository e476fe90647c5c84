"""DeepFM pieces and the ops added for them: float64 gradchecks, brute-force oracles, errors."""

import itertools

import numpy as np
import pytest

from minigrad import Tensor, concat
from minigrad.gradcheck import gradcheck
from minigrad.models import (
    DNN,
    Aggregation,
    CentralizedDeepFM,
    DeepFMBase,
    DeepFMFuse,
    FieldEmbedding,
    FirstOrder,
    hidden_parts,
)


def randn(rng, *shape):
    return Tensor(rng.standard_normal(shape), autograd=True)


def off_kink(rng, *shape):
    """|x| in [0.1, 1.5]: central differences never straddle ReLU's kink at 0."""
    return Tensor(rng.uniform(0.1, 1.5, shape) * rng.choice([-1.0, 1.0], shape), autograd=True)


def brute_force_fm(v):
    """sum over field pairs i < j of <v_i, v_j>, row by row: (B, F, K) -> (B, 1)."""
    out = np.zeros((v.shape[0], 1))
    for b in range(v.shape[0]):
        for i, j in itertools.combinations(range(v.shape[1]), 2):
            out[b, 0] += v[b, i] @ v[b, j]
    return out


# ---------------------------------------------------------------------------
# new ops: gradcheck in float64
# ---------------------------------------------------------------------------
REPEATED = np.array([[0, 2, 2, 5], [5, 5, 1, 0], [3, 0, 2, 5]])  # repeats within and across rows
OP_CASES = [
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
def test_new_op_gradcheck_float64(rng, build, fn):
    # Arrange
    inputs = build(rng)
    # Act
    result = gradcheck(fn, inputs)
    # Assert
    assert result, str(result)


def test_a_too_coarse_eps_fails_the_check_on_a_new_op(rng):
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


# ---------------------------------------------------------------------------
# layers
# ---------------------------------------------------------------------------
CARDS, SLOTS = (4, 3, 5), (1, 1, 3)            # the last field is a bag of up to 3 ids
X = np.array([[0, 2, 4, 1, -1], [3, 0, 0, -1, -1], [3, 1, 2, 2, 0]])


def test_field_embedding_is_per_field_lookup_plus_bias(rng):
    layer = FieldEmbedding(CARDS, 2, SLOTS, rng=rng, dtype=np.float64)
    layer.bias.data[...] = rng.standard_normal(layer.bias.shape)
    w, offsets = layer.weight.data, layer.row_offsets
    out = layer(X).data
    assert out.shape == (3, 3, 2)
    for b in range(3):
        np.testing.assert_allclose(out[b, 0], w[offsets[0] + X[b, 0]] + layer.bias.data[0])
        np.testing.assert_allclose(out[b, 1], w[offsets[1] + X[b, 1]] + layer.bias.data[1])
        bag = [w[offsets[2] + i] for i in X[b, 2:] if i >= 0]      # -1: empty slot
        np.testing.assert_allclose(out[b, 2], np.sum(bag, axis=0) + layer.bias.data[2])


def test_field_embedding_empty_slot_row_stays_zero_and_untrained(rng):
    layer = FieldEmbedding(CARDS, 2, SLOTS, rng=rng, dtype=np.float64)
    layer(X).sum().backward()
    assert layer.padding_idx == sum(CARDS)
    assert np.all(layer.weight.data[layer.padding_idx] == 0)
    assert np.all(layer.weight.grad[layer.padding_idx] == 0)


@pytest.mark.parametrize("bad, match", [
    (np.array([[4, 0, 0, 0, 0]]), "id 4 in row 0, column 0 is outside 0..3"),
    (np.array([[0, 0, 5, 0, 0]]), "column 2 is outside 0..4"),
    (np.array([[0, 0, 0, -2, 0]]), "outside"),
    (np.array([[0, 0, 0]]), "shape"),
])
def test_field_embedding_checks_each_field_range(bad, match, rng):
    layer = FieldEmbedding(CARDS, 2, SLOTS, rng=rng)
    with pytest.raises((IndexError, ValueError), match=match):
        layer(bad)


def test_one_hot_fields_reject_empty_slots(rng):
    with pytest.raises(IndexError, match="outside 0..2$"):
        FieldEmbedding((3, 3), 2, rng=rng)(np.array([[0, -1]]))
    with pytest.raises(IndexError, match="column 0 is outside 0..3$"):  # one-hot beside a bag
        FieldEmbedding(CARDS, 2, SLOTS, rng=rng)(np.array([[-1, 0, 0, 0, 0]]))


def test_first_order_sums_every_id_weight_plus_bias(rng):
    layer = FirstOrder(CARDS, SLOTS, dtype=np.float64)
    layer.weights.weight.data[:-1] = rng.standard_normal((sum(CARDS), 1))
    layer.bias.data[...] = 0.5
    w, offsets = layer.weights.weight.data[:, 0], layer.weights.row_offsets
    expected = [0.5 + sum(w[offsets[min(c, 2)] + i] for c, i in enumerate(row) if i >= 0)
                for row in X]
    np.testing.assert_allclose(layer(X).data[:, 0], expected, rtol=1e-12)


def test_dnn_shapes_and_relu(rng):
    dnn = DNN(6, (5, 4), output_dim=1, rng=rng, dtype=np.float64)
    x = Tensor(rng.standard_normal((3, 6)))
    assert dnn(x).shape == (3, 1)
    hidden = DNN(6, (5, 4), rng=rng)(x)
    assert hidden.shape == (3, 4) and hidden.data.min() >= 0
    assert [name for name, _ in dnn.named_parameters()] == [
        "layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias",
        "output.weight", "output.bias"]


def small_base(rng, cards=CARDS, slots=SLOTS, **kw):
    kw = {"dim": 3, "units": (5, 4), "rng": rng, "dtype": np.float64} | kw
    base = DeepFMBase(cards, slots, **kw)
    for p in (base.embedding.bias, base.first_order.weights.weight, base.first_order.bias):
        p.data[...] = rng.standard_normal(p.shape) * 0.3   # non-zero, so every path shows
    base.first_order.weights.weight.data[-1] = 0
    for layer in base.dnn.layers:
        layer.bias.data[...] = rng.uniform(0.2, 0.4, layer.bias.shape)  # fewer dead units
    return base


def test_deepfm_base_outputs_and_cut_layout(rng):
    base = small_base(rng)
    deep, fm = base(X)
    hidden = base.hidden(X)
    assert deep.shape == (3, 4) and fm.shape == (3, 4)
    assert hidden.shape == (3, base.hidden_dim) == (3, 4 + 3 + 1)
    d, f = hidden_parts(hidden.data, base.dim)
    assert np.array_equal(d, deep.data) and np.array_equal(f, fm.data)
    v = base.embedding(X).data
    np.testing.assert_allclose(fm.data[:, :3], v.sum(1), rtol=1e-12)
    np.testing.assert_allclose(fm.data[:, 3:], base.first_order(X).data
                               - 0.5 * (v ** 2).sum((1, 2))[:, None], rtol=1e-12)


def test_deepfm_base_gradcheck_float64(rng):
    base = small_base(rng)
    params = base.get_parameters()
    result = gradcheck(lambda *_: base.hidden(X), params)
    assert result, str(result)


def test_deepfm_fuse_gradcheck_float64(rng):
    fuse = DeepFMFuse(4, units=(5, 3), rng=rng, dtype=np.float64)
    deep, fm = off_kink(rng, 3, 4), randn(rng, 3, 4)
    result = gradcheck(lambda *args: fuse(deep, fm), [deep, fm] + fuse.get_parameters())
    assert result, str(result)


def test_fm_stop_gradient_keeps_fm_from_training_embeddings(rng):
    stop = small_base(rng, fm_stop_gradient=True)
    deep, fm = stop(X)
    fm.sum().backward()                       # only the FM share: no path to the embeddings
    assert stop.embedding.weight.grad is None
    assert stop.first_order.weights.weight.grad is not None   # the linear term still learns


def test_aggregation_concat_and_sum(rng):
    parts = [(randn(rng, 2, 3), randn(rng, 2, 4)), (randn(rng, 2, 3), randn(rng, 2, 4))]
    deep, fm = Aggregation("concat")(parts)
    assert deep.shape == (2, 6)
    np.testing.assert_allclose(fm.data, parts[0][1].data + parts[1][1].data)
    deep, _ = Aggregation("sum")(parts)
    np.testing.assert_allclose(deep.data, parts[0][0].data + parts[1][0].data)
    assert Aggregation("concat").output_dim([3, 5]) == 8 and Aggregation("sum").output_dim(
        [4, 4]) == 4
    with pytest.raises(ValueError, match="concat"):
        Aggregation("mean")
    with pytest.raises(ValueError, match="differ in width"):
        Aggregation("sum")([(randn(rng, 2, 3), parts[0][1]), (randn(rng, 2, 2), parts[1][1])])


def test_centralized_deepfm_fm_part_is_brute_force_fm_plus_first_orders(rng):
    # Arrange: zero the fuse DNN's output layer, so logits are the FM part alone
    bases = [small_base(rng), small_base(rng, cards=(3, 2), slots=(1, 1))]
    fuse = DeepFMFuse(8, units=(5,), rng=rng, dtype=np.float64)
    fuse.dnn.output.weight.data[...] = 0
    model = CentralizedDeepFM(bases, fuse)
    Xs = [X, np.array([[0, 1], [2, 0], [1, 1]])]
    # Act
    logits = model(Xs).data
    # Assert
    v = np.concatenate([b.embedding(x).data for b, x in zip(bases, Xs, strict=True)], axis=1)
    first = sum(b.first_order(x).data for b, x in zip(bases, Xs, strict=True))
    np.testing.assert_allclose(logits, brute_force_fm(v) + first, rtol=1e-12)


def test_centralized_deepfm_gradcheck_float64(rng):
    bases = [small_base(rng), small_base(rng, cards=(3, 2), slots=(1, 1))]
    model = CentralizedDeepFM(bases, DeepFMFuse(4, units=(5,), rng=rng, dtype=np.float64),
                              aggregation="sum")
    Xs = [X, np.array([[0, 1], [2, 0], [1, 1]])]
    result = gradcheck(lambda *_: model(Xs), model.get_parameters())
    assert result, str(result)


def test_from_parties_copies_weights(rng):
    bases = [small_base(rng), small_base(rng)]
    fuse = DeepFMFuse(8, units=(5,), rng=rng, dtype=np.float64)
    model = CentralizedDeepFM.from_parties(bases, fuse)
    model.bases[0].embedding.weight.data[...] += 1.0
    assert not np.allclose(model.bases[0].embedding.weight.data, bases[0].embedding.weight.data)
    assert np.array_equal(model.fuse.dnn.output.weight.data, fuse.dnn.output.weight.data)
    with pytest.raises(ValueError, match="one per party"):
        model([X])


def test_secretflow_sizes_are_the_defaults(rng):
    base = DeepFMBase((10, 3))
    fuse = DeepFMFuse(64)
    assert base.dim == 16 and base.dnn.units == (256, 32) and base.hidden_dim == 49
    assert fuse.dnn.units == (256, 256, 32) and fuse.dnn.output.weight.shape == (32, 1)
    assert base.embedding.weight.dtype == np.float32      # float32 for training speed
    assert np.all(base.first_order.weights.weight.data == 0)   # Dense(1, zeros)


def test_concat_of_cut_is_what_hidden_returns(rng):
    base = small_base(rng)
    deep, fm = base(X)
    assert np.array_equal(concat([deep, fm], dim=1).data, base.hidden(X).data)
