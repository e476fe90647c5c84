"""DeepFM layers (deepfm.py): float64 gradchecks, brute-force oracles, errors."""


import numpy as np
import pytest
from deepfmdata import brute_force_fm, off_kink, randn

from minigrad import Tensor, concat
from minigrad.deepfm import (
    DNN,
    Aggregation,
    CentralizedDeepFM,
    DeepFMBase,
    DeepFMFuse,
    FieldEmbedding,
    FirstOrder,
    hidden_parts,
)
from minigrad.gradcheck import gradcheck

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
