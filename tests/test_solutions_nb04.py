"""Reference solutions to notebook 04's exercises, read from its solution cells, on literals and
a small synthetic MovieLens."""

import numpy as np
import pytest
from splitdata import SMALL, small_movielens
from teacher import solutions

from minigrad import Tensor
from minigrad.deepfm import CentralizedDeepFM
from minigrad.federated import split
from minigrad.recipes import deepfm

nb04 = solutions("04")


@pytest.fixture(scope="module")
def movielens():
    return small_movielens()


@pytest.fixture(scope="module")
def data(movielens):
    return deepfm.prepare(movielens, seed=0)


# ---------------------------------------------------------------------------
# the lesson's try-it: the parties' FM shares
# ---------------------------------------------------------------------------
def test_fm_shares_agree_with_the_package_fused_ops():
    # Arrange: alice 4 fields, bob 2, dim 3
    rng = np.random.default_rng(0)
    v_alice, v_bob = rng.standard_normal((5, 4, 3)), rng.standard_normal((5, 2, 3))
    # Act
    shares = [nb04.my_fm_share(v) for v in (v_alice, v_bob)]
    fm = nb04.my_fm_from_shares(shares)
    # Assert: each share is fm_stats without first order; together, fm_interaction of all six
    for v, (s, ell) in zip((v_alice, v_bob), shares, strict=True):
        stats = Tensor(v).fm_stats(np.zeros((5, 1))).data
        np.testing.assert_allclose(np.concatenate([s, ell[:, None]], axis=1), stats, atol=1e-12)
    joint = Tensor(np.concatenate([v_alice, v_bob], axis=1)).fm_interaction().data[:, 0]
    np.testing.assert_allclose(fm, joint, atol=1e-12)


# ---------------------------------------------------------------------------
# going further 1: 'sum' aggregation
# ---------------------------------------------------------------------------
def test_sum_aggregation_is_still_the_centralized_model_with_a_narrower_fuse(data):
    result = nb04.sum_aggregation(data, num_epochs=2, seed=0, batch_size=32, **SMALL)

    assert result["fuse_inputs"] == 4                       # one deep width, not two
    assert result["max_output_diff"] < 1e-10 and result["max_grad_diff"] < 1e-10
    history = result["history"]
    assert [r["epoch"] for r in history] == [1, 2]
    assert history[1]["train_loss"] < history[0]["train_loss"]


# ---------------------------------------------------------------------------
# exercises 1 and 2 (graded), going further 2: a time-based split
# ---------------------------------------------------------------------------
def test_time_split_puts_the_latest_rows_in_test_then_val():
    # Arrange: 10 rows, times out of order, one tie (rows 3 and 8 at t=40)
    t = np.array([90, 10, 50, 40, 80, 20, 70, 30, 40, 60])
    # Act
    parts = nb04.time_split_rows(t, test_fraction=0.2, val_fraction=0.25)
    # Assert: by time 1, 5, 7, 3, 8, 2, 9, 6 | 4, 0 -> test; rest's last 2 -> val
    np.testing.assert_array_equal(parts["test"], [0, 4])
    np.testing.assert_array_equal(parts["val"], [6, 9])
    np.testing.assert_array_equal(parts["train"], [1, 2, 3, 5, 7, 8])
    assert t[parts["train"]].max() <= t[parts["val"]].min()
    assert t[parts["val"]].max() <= t[parts["test"]].min()


def test_time_split_rejects_bad_input():
    with pytest.raises(ValueError):
        nb04.time_split_rows(np.zeros((2, 2)))
    with pytest.raises(ValueError):
        nb04.time_split_rows(np.arange(5), test_fraction=1.0)


def test_unseen_share_counts_rows_whose_id_training_never_had():
    ids = np.array([1, 1, 2, 3, 3, 4])
    assert nb04.unseen_share(ids, train_rows=[0, 2], rows=[1, 3, 4, 5]) == 0.75
    assert nb04.unseen_share(ids, train_rows=[0, 2, 3, 5], rows=[1, 4]) == 0.0
    assert np.isnan(nb04.unseen_share(ids, [0], []))


def test_prepare_by_time_keeps_the_features_and_splits_by_timestamp(movielens):
    data = nb04.prepare_by_time(movielens, nb04.time_split_rows)
    t = movielens.ratings["timestamp"].to_numpy()
    assert (len(data.train), len(data.val), len(data.test)) == (432, 48, 120)
    assert t[data.train].max() <= t[data.val].min() <= t[data.val].max() <= t[data.test].min()
    np.testing.assert_array_equal(data.y, deepfm.prepare(movielens).y)


# ---------------------------------------------------------------------------
# exercise 3 (graded, two steps), going further 3: a third party
# ---------------------------------------------------------------------------
def test_split_fields_takes_columns_cardinalities_and_vocabularies(data):
    carol = nb04.split_fields(data.user, ["age", "occupation"])
    assert carol.names == ("age", "occupation")
    np.testing.assert_array_equal(carol.X, data.user.X[:, 2:])
    assert carol.cardinalities == data.user.cardinalities[2:]
    assert set(carol.vocabularies) == {"age", "occupation"}
    genres = nb04.split_fields(data.item, [1])                 # a bag keeps all its slots
    np.testing.assert_array_equal(genres.X, data.item.X[:, 1:])
    assert genres.slots == data.item.slots[1:]


def test_three_parties_compute_the_centralized_function(data):
    # Arrange: float64
    alice, carol, bob = nb04.three_parties(data, nb04.split_fields, seed=0, dtype=np.float64,
                                             **SMALL)
    central = CentralizedDeepFM.from_parties([alice.model, carol.model, bob.model], bob.fuse)
    rows = data.test[:30]
    # Act
    p_split = nb04.predict_many([alice, carol], bob, rows)
    p_central = central([alice.X[rows], carol.X[rows], bob.X[rows]]).sigmoid().data[:, 0]
    # Assert
    np.testing.assert_allclose(p_split, p_central, rtol=0, atol=1e-12)
    assert alice.X.shape[1] == 2 and carol.X.shape[1] == 2
    assert bob.fuse.dnn.layers[0].weight.shape[0] == 3 * 4


def test_three_party_training_sends_one_message_each_way_per_feature_party(data):
    # Arrange
    alice, carol, bob = nb04.three_parties(data, nb04.split_fields, seed=0, **SMALL)
    channel = split.Channel()
    before = nb04.evaluate_many([alice, carol], bob, data.train)["loss"]
    # Act
    for _ in range(3):
        nb04.train_epoch_many([alice, carol], bob, data.train, nb04.train_step_many,
                              batch_size=64, rng=np.random.default_rng(0), channel=channel)
    # Assert
    steps = 3 * -(-len(data.train) // 64)
    for name in ("alice", "carol"):
        assert channel.messages[(name, "bob")] == channel.messages[("bob", name)] == steps
        assert channel.bytes_sent(name, "bob") == 3 * len(data.train) * 8 * 4
    assert nb04.evaluate_many([alice, carol], bob, data.train)["loss"] < before


# ---------------------------------------------------------------------------
# going further 4: top-k in one direction at a time
# ---------------------------------------------------------------------------
def test_one_way_topk_sparsifies_only_the_named_direction(data):
    # Act
    runs = nb04.one_way_topk(data, 2, fraction=0.25, seed=0, batch_size=32,
                             lrs=deepfm.linear_decay(3e-3, 2), **SMALL)
    # Assert
    width, n = 4 + 3 + 1, len(data.train)
    full = deepfm.epoch_bytes(None, n, width, 32)
    sparse = deepfm.epoch_bytes("topk:0.25", n, width, 32)
    assert sparse < full
    assert runs["float32"][0]["bytes"] == {"alice_to_bob": full, "bob_to_alice": full}
    assert runs["top-k gradients"][0]["bytes"] == {"alice_to_bob": full, "bob_to_alice": sparse}
    assert runs["top-k cut tensors"][0]["bytes"] == {"alice_to_bob": sparse, "bob_to_alice": full}
    assert all("test" not in r for h in runs.values() for r in h)     # validation only
    assert runs["top-k gradients"][1]["val"] != runs["float32"][1]["val"]
    assert runs["top-k cut tensors"][1]["val"] != runs["float32"][1]["val"]
    with pytest.raises(ValueError):
        nb04.one_way_topk(data, 1, fraction=1.0)
