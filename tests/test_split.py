"""Split learning: the split DeepFM equals the centralized one; only cut tensors cross."""

import numpy as np
import pytest
from statecheck import assert_same, snapshot

from minigrad import Tensor, no_grad
from minigrad.datasets import synthetic_movielens, vertical_split
from minigrad.deepfm import CentralizedDeepFM, DeepFMBase, DeepFMFuse
from minigrad.federated import compression, split
from minigrad.federated.split import Alice, Bob, Channel, Message, batch_id
from minigrad.optim import Adam
from minigrad.recipes.deepfm import alice_features, bob_features

BATCH = 16


@pytest.fixture(scope="module")
def movielens():
    return synthetic_movielens(num_users=40, num_items=60, seed=3)


@pytest.fixture(scope="module")
def features(movielens):
    alice_df, bob_df = vertical_split(movielens)
    user = alice_features(alice_df)
    item, y = bob_features(bob_df, movielens.genre_names)
    return user, item, y


def make_parties(features, seed=0, dtype=np.float64, aggregation="concat", units=(8, 4),
                 fuse_units=(8, 6), dim=3, **kw):
    user, item, y = features
    rng = np.random.default_rng(seed)
    alice_base = DeepFMBase(user.cardinalities, user.slots, dim=dim, units=units, rng=rng,
                            dtype=dtype, **kw)
    bob_base = DeepFMBase(item.cardinalities, item.slots, dim=dim, units=units, rng=rng,
                          dtype=dtype, **kw)
    for base in (alice_base, bob_base):     # non-zero first order and biases: every path shows
        table = base.first_order.weights.weight
        table.data[:-1] = rng.standard_normal((len(table.data) - 1, 1)) * 0.1
        base.embedding.bias.data[...] = rng.standard_normal(base.embedding.bias.shape) * 0.1
    n_inputs = 2 * units[-1] if aggregation == "concat" else units[-1]
    fuse = DeepFMFuse(n_inputs, units=fuse_units, rng=rng, dtype=dtype)
    alice = Alice(user.X, alice_base)
    bob = Bob(item.X, y, bob_base, fuse, aggregation=aggregation)
    return alice, bob


def central_copy(alice, bob):
    return CentralizedDeepFM.from_parties([alice.model, bob.model], bob.fuse,
                                          bob.aggregation.mode)


def central_params(model):
    return model.bases[0].get_parameters() + model.bases[1].get_parameters() + \
        model.fuse.get_parameters()


def split_params(alice, bob):
    return alice.model.get_parameters() + bob.model.get_parameters() + bob.fuse.get_parameters()


def split_gradients(alice, bob, rows, channel=None):
    """One protocol round trip without the optimizer steps: (probabilities, grads)."""
    hidden_msg = alice.forward(rows, channel)
    logits, parts = bob.logits(rows, [hidden_msg])
    loss = logits.bce_with_logits(bob.y[rows])
    loss.backward()
    grad = np.concatenate([p.grad for p in parts[0]], axis=1)
    alice.backward(Message("bob", "alice", "grad", {"values": grad},
                           batch=batch_id(rows, len(alice.X))))   # steps alice too
    return logits.sigmoid().data, grad


# ---------------------------------------------------------------------------
# the equivalence proof
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("aggregation", ["concat", "sum"])
@pytest.mark.parametrize("fm_stop_gradient", [False, True])
def test_split_equals_centralized_outputs_and_every_gradient(features, aggregation,
                                                             fm_stop_gradient):
    # Arrange: float64, weights copied across
    alice, bob = make_parties(features, aggregation=aggregation,
                              fm_stop_gradient=fm_stop_gradient)
    central = central_copy(alice, bob)
    rows = np.arange(5, 5 + BATCH)
    user, item, y = features
    # Act: centralized
    logits = central([user.X[rows], item.X[rows]])
    logits.bce_with_logits(y[rows].reshape(-1, 1).astype(np.float64)).backward()
    central_grads = [p.grad.copy() for p in central_params(central)]
    # Act: split, one protocol round trip (alice.backward would step: keep her grads)
    hidden_msg = alice.forward(rows)
    split_logits, parts = bob.logits(rows, [hidden_msg])
    split_logits.bce_with_logits(bob.y[rows]).backward()
    cut_grad = np.concatenate([p.grad for p in parts[0]], axis=1)
    alice._hidden.backward(cut_grad)
    # Assert: outputs and every parameter's gradient, to 1e-10
    np.testing.assert_allclose(split_logits.data, logits.data, rtol=0, atol=1e-10)
    params = split_params(alice, bob)
    assert len(params) == len(central_grads) == 22
    for p, g in zip(params, central_grads, strict=True):
        assert p.grad is not None and p.grad.shape == g.shape
        np.testing.assert_allclose(p.grad, g, rtol=0, atol=1e-10)
    assert max(float(np.abs(g).max()) for g in central_grads) > 1e-3   # not all trivially 0


def test_split_and_centralized_stay_equal_over_training_steps(features):
    # Arrange
    alice, bob = make_parties(features, seed=1)
    central = central_copy(alice, bob)
    optimizer = Adam(central_params(central), alpha=1e-3)
    user, item, y = features
    target = y.reshape(-1, 1).astype(np.float64)
    # Act: 5 steps each
    for b in split.batches(5 * BATCH, BATCH):
        split.train_step(alice, bob, b)
        central([user.X[b], item.X[b]]).bce_with_logits(target[b]).backward()
        optimizer.step()
    # Assert
    for p, q in zip(split_params(alice, bob), central_params(central), strict=True):
        np.testing.assert_allclose(p.data, q.data, rtol=0, atol=1e-10)
    rows = np.arange(len(y))
    with_central = central([user.X, item.X]).sigmoid().data[:, 0]
    np.testing.assert_allclose(split.predict(alice, bob, rows), with_central, atol=1e-10)


def test_three_parties_equal_centralized(features, rng):
    # Arrange: alice's fields split between two feature parties, alice and carol
    user, item, y = features
    dim, units = 3, (6, 4)
    bases = [DeepFMBase(user.cardinalities[:2], dim=dim, units=units, rng=rng,
                        dtype=np.float64),
             DeepFMBase(user.cardinalities[2:], dim=dim, units=units, rng=rng,
                        dtype=np.float64),
             DeepFMBase(item.cardinalities, item.slots, dim=dim, units=units, rng=rng,
                        dtype=np.float64)]
    fuse = DeepFMFuse(12, units=(5,), rng=rng, dtype=np.float64)
    alice = Alice(user.X[:, :2], bases[0])
    carol = Alice(user.X[:, 2:], bases[1], name="carol")
    bob = Bob(item.X, y, bases[2], fuse)
    central = CentralizedDeepFM.from_parties(bases, fuse)
    rows = slice(0, BATCH)
    # Act
    messages = [alice.forward(rows), carol.forward(rows)]
    split_logits, _ = bob.logits(rows, messages)
    logits = central([user.X[rows, :2], user.X[rows, 2:], item.X[rows]])
    grads = bob.step(rows, messages)
    # Assert: the same function; each feature party gets its own gradient message
    np.testing.assert_allclose(split_logits.data, logits.data, rtol=0, atol=1e-10)
    assert [g.receiver for g in grads] == ["alice", "carol"]
    assert [g.decode().shape for g in grads] == [(BATCH, 8), (BATCH, 8)]


def test_cut_gradient_is_dloss_dhidden_by_central_differences(features):
    # Arrange
    alice, bob = make_parties(features, seed=2)
    rows = slice(0, BATCH)
    hidden = alice.model.hidden(alice.X[rows]).data

    def loss_at(h):
        with no_grad():
            logits, _ = bob.logits(rows, [Message("alice", "bob", "hidden", {"values": h},
                                                  batch=batch_id(rows, len(bob.X)))])
            return float(logits.bce_with_logits(bob.y[rows]).data)

    numeric = np.zeros_like(hidden)
    eps = 1e-6
    for idx in np.ndindex(*hidden.shape):
        plus, minus = hidden.copy(), hidden.copy()
        plus[idx] += eps
        minus[idx] -= eps
        numeric[idx] = (loss_at(plus) - loss_at(minus)) / (2 * eps)
    # Act
    grad = bob.step(rows, Message("alice", "bob", "hidden", {"values": hidden},
                                  batch=batch_id(rows, len(bob.X)))).decode(
        np.float64)
    # Assert
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-9)


# ---------------------------------------------------------------------------
# what crosses the wire
# ---------------------------------------------------------------------------
def test_messages_carry_only_cut_tensors_of_the_expected_shape_and_dtype(features):
    # Arrange: float32, as in training
    alice, bob = make_parties(features, dtype=np.float32)
    channel = Channel(keep=True)
    user, item, y = features
    # Act: two steps
    for b in split.batches(2 * BATCH, BATCH):
        split.train_step(alice, bob, b, channel)
    # Assert
    assert [(m.sender, m.receiver, m.kind) for m in channel.log] == \
        [("alice", "bob", "hidden"), ("bob", "alice", "grad")] * 2
    width = alice.model.hidden_dim
    for m in channel.log:
        assert m.describe() == {"values": ((BATCH, width), "float32")}
        assert m.nbytes == BATCH * width * 4
        arrays = list(m.payload.values())
        assert all(isinstance(a, np.ndarray) and a.dtype.kind == "f" for a in arrays)
        secrets = [c for c in [*user.X[:BATCH].T, *item.X[:BATCH].T, y[:BATCH]]
                   if len(np.unique(c)) > 1]            # (a constant column says nothing)
        assert len(secrets) >= 4
        for a in arrays:             # no column of anyone's features or labels is in it
            for column in secrets:
                assert not any(np.allclose(col, column) for col in a.T)
    assert channel.bytes_sent("alice", "bob") == channel.bytes_sent("bob", "alice") == \
        2 * BATCH * width * 4
    assert channel.messages[("alice", "bob")] == 2


def test_parties_hold_only_their_own_columns(features):
    alice, bob = make_parties(features)
    user, item, y = features
    assert alice.X is user.X and not hasattr(alice, "y")
    assert bob.X is item.X and np.array_equal(bob.labels(slice(None)), y)
    assert set(vars(alice)) == {"name", "X", "model", "optimizer", "codec", "peer", "dtype",
                                "_hidden", "_batch"}


def test_message_copies_its_payload_and_refuses_tensors():
    values = np.ones((2, 3))
    m = Message("alice", "bob", "hidden", {"values": values})
    values[...] = 5
    assert np.all(m.payload["values"] == 1)
    with pytest.raises(TypeError, match="graph"):
        Message("alice", "bob", "hidden", {"values": Tensor(values)})


def test_protocol_errors_are_explained(features):
    alice, bob = make_parties(features)
    grad = Message("bob", "alice", "grad", {"values": np.zeros((2, 8))})
    with pytest.raises(RuntimeError, match="no forward pass"):
        alice.backward(grad)
    hidden = alice.forward(slice(0, 2))
    with pytest.raises(ValueError, match="'grad' message"):
        alice.backward(hidden)
    with pytest.raises(ValueError, match="'hidden' messages"):
        bob.step(slice(0, 2), grad)
    with pytest.raises(ValueError, match="labels"):
        Bob(np.zeros((3, 2), dtype=np.int64), np.zeros(4), bob.model, bob.fuse)
    with pytest.raises(ValueError, match="2-D integer"):
        Alice(np.zeros((3, 2)), alice.model)


@pytest.mark.parametrize("codec, nbytes", [("float16", 2), ("int8", 1)])
def test_compressed_cut_tensors_are_counted_and_still_train(features, codec, nbytes):
    # Arrange
    user, item, y = features
    alice, bob = make_parties(features, dtype=np.float32)
    alice.codec = compression.get_codec(codec)
    bob.codec = compression.get_codec(codec)
    channel = Channel(keep=True)
    # Act
    loss = split.train_epoch(alice, bob, rows=np.arange(4 * BATCH), batch_size=BATCH,
                             channel=channel)
    # Assert
    width = alice.model.hidden_dim
    extra = 5 if codec == "int8" else 0                # scale (float32) + zero point (uint8)
    assert channel.log[0].nbytes == BATCH * width * nbytes + extra
    assert np.isfinite(loss)
    assert channel.log[0].decode().shape == (BATCH, width)


def test_topk_gradients_keep_k_entries(features):
    alice, bob = make_parties(features, dtype=np.float32)
    bob.codec = compression.TopK(fraction=0.25)
    channel = Channel(keep=True)
    split.train_step(alice, bob, slice(0, BATCH), channel)
    grad_msg = channel.log[1]
    k = int(np.ceil(0.25 * BATCH * alice.model.hidden_dim))
    assert grad_msg.payload["values"].shape == (k,)
    assert grad_msg.payload["indices"].dtype == np.uint8      # 128 positions fit a byte
    assert np.count_nonzero(grad_msg.decode()) <= k


# ---------------------------------------------------------------------------
# training and evaluation helpers
# ---------------------------------------------------------------------------
def test_training_lowers_the_loss_and_evaluation_is_vectorized(features):
    alice, bob = make_parties(features, dtype=np.float32, units=(16, 8), fuse_units=(16, 8))
    rows = np.arange(len(features[2]))
    before = split.evaluate(alice, bob, rows)
    rng = np.random.default_rng(0)
    for _ in range(5):
        split.train_epoch(alice, bob, rows, batch_size=64, rng=rng)
    after = split.evaluate(alice, bob, rows)
    assert set(after) == {"loss", "auc", "precision", "recall", "accuracy"}
    assert after["loss"] < before["loss"]
    p = split.predict(alice, bob, rows)
    assert p.shape == rows.shape and np.all((p > 0) & (p < 1))


def test_prediction_in_blocks_equals_all_at_once(features):
    alice, bob = make_parties(features)
    rows = np.arange(3, 200)
    whole = split.predict(alice, bob, rows, batch_size=10_000)
    np.testing.assert_allclose(split.predict(alice, bob, rows, batch_size=7), whole,
                               rtol=0, atol=1e-12)
    np.testing.assert_allclose(split.predict(alice, bob, slice(3, 200)), whole, atol=1e-12)
    assert split.predict(alice, bob).shape == (len(features[2]),)
    assert split.predict(alice, bob, np.arange(0)).shape == (0,)


def test_batches_in_order_and_shuffled():
    assert split.batches(5, 2) == [slice(0, 2), slice(2, 4), slice(4, 5)]
    parts = split.batches(np.arange(10, 15), 2, rng=np.random.default_rng(0))
    assert sorted(np.concatenate(parts).tolist()) == [10, 11, 12, 13, 14]
    assert [len(p) for p in parts] == [2, 2, 1]


# ---------------------------------------------------------------------------
# issue 17: each party checks what it receives before it steps
# ---------------------------------------------------------------------------
def party_state(party):
    """Everything a party holds: weights and their grads, optimizer moments, what's pending."""
    return snapshot(party)


def trained_parties(features):
    alice, bob = make_parties(features)
    split.train_step(alice, bob, np.arange(BATCH))  # Adam moments now nonzero
    return alice, bob


@pytest.mark.parametrize("bad", ["nan", "inf", "rows", "width", "batch", "order", "twice"])
def test_bob_refuses_a_bad_hidden_message_before_any_step(features, bad):
    alice, bob = trained_parties(features)
    rows = np.arange(BATCH, 2 * BATCH)
    good = alice.forward(rows)
    values = good.decode(np.float64)
    batch = good.batch
    message = None
    if bad == "nan":
        values[3, 1] = np.nan
    elif bad == "inf":
        values[0, 0] = np.inf
    elif bad == "rows":
        values = values[:-1]
    elif bad == "width":
        values = values[:, 1:]
    elif bad == "batch":                                # alice on rows 0-15, bob on 16-31
        message = alice.forward(np.arange(BATCH))
    elif bad == "order":
        message = alice.forward(rows[::-1])
    if message is None:
        message = Message("alice", "bob", "hidden", {"values": values}, batch=batch)
    messages = [message, message] if bad == "twice" else message
    before = party_state(bob)

    with pytest.raises(ValueError, match="Bob"):
        bob.step(rows, messages)

    assert_same(before, party_state(bob), "bob")


def test_misaligned_batches_no_longer_train_silently(features):
    alice, bob = make_parties(features)

    hidden = alice.forward(np.arange(8))                 # alice on rows 0-7
    with pytest.raises(ValueError, match="batch"):
        bob.step(np.arange(8, 16), hidden)               # bob on rows 8-15


def test_labels_must_be_zero_or_one_for_bce(features):
    user, item, y = features
    alice, bob = make_parties(features)
    ratings = np.asarray(y, dtype=np.float64).copy() + 1    # 1 and 2, not 0 and 1
    with pytest.raises(ValueError, match="labels must be 0 or 1"):
        Bob(item.X, ratings, bob.model, bob.fuse)
    one_nan = np.asarray(y, dtype=np.float64).copy()
    one_nan[5] = np.nan
    with pytest.raises(ValueError, match="labels must be 0 or 1"):
        Bob(item.X, one_nan, bob.model, bob.fuse)
    Bob(item.X, np.asarray(y).astype(bool), bob.model, bob.fuse)   # booleans are 0/1


@pytest.mark.parametrize("bad", ["shape", "nan", "batch", "receiver"])
def test_a_refused_gradient_keeps_alices_pending_forward(features, bad):
    alice, bob = trained_parties(features)
    rows = np.arange(BATCH, 2 * BATCH)
    right = bob.step(rows, alice.forward(rows))
    grad = right.decode(np.float64)
    wrong = {"shape": Message("bob", "alice", "grad", {"values": grad[:, :-1]},
                              batch=right.batch),
             "nan": Message("bob", "alice", "grad", {"values": np.where(grad == grad.max(),
                                                                         np.nan, grad)},
                            batch=right.batch),
             "batch": Message("bob", "alice", "grad", {"values": grad},
                              batch=batch_id(np.arange(BATCH), len(alice.X))),
             "receiver": Message("bob", "carol", "grad", {"values": grad},
                                 batch=right.batch)}[bad]
    before = party_state(alice)

    with pytest.raises(ValueError, match="Alice.backward"):
        alice.backward(wrong)

    assert_same(before, party_state(alice), "alice")
    alice.backward(right)                                # the right one still applies
    assert alice._hidden is None
