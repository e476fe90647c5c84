"""Notebook 04's pipeline: row split, party/centralized/alone models, training histories,
the equivalence check, byte accounting and compression runs (small models, synthetic
MovieLens), plus the real-data split and a SecretFlow-sized equivalence check."""

import numpy as np
import pytest
from realdata import ML100K_MISSING, ML100K_ROOT
from splitdata import SMALL, small_movielens

from minigrad.datasets import load_movielens, vertical_split
from minigrad.federated import compression
from minigrad.recipes import deepfm


@pytest.fixture(scope="module")
def movielens():
    return small_movielens()


@pytest.fixture(scope="module")
def data(movielens):
    return deepfm.prepare(movielens, seed=0)


def small_parties(data, seed=0, dtype=np.float64, **kw):
    return deepfm.make_parties(data, seed=seed, dtype=dtype, **{**SMALL, **kw})


def all_params(alice, bob):
    return alice.model.get_parameters() + bob.model.get_parameters() + \
        bob.fuse.get_parameters()


# ---------------------------------------------------------------------------
# rows and features
# ---------------------------------------------------------------------------
def test_alice_and_bob_features(movielens):
    alice_df, bob_df = vertical_split(movielens)
    user = deepfm.alice_features(alice_df)
    item, y = deepfm.bob_features(bob_df, movielens.genre_names)
    ratings = movielens.ratings
    assert user.names == ("user_id", "gender", "age", "occupation")
    assert user.X.shape == (len(ratings), 4) and user.slots == (1, 1, 1, 1)
    assert np.array_equal(user.X[:, 0], ratings["user_id"].to_numpy())
    assert user.cardinalities[2] == 7 and user.X[:, 2].max() < 7
    assert item.names == ("item_id", "genres")
    assert np.array_equal(y, (ratings["rating"].to_numpy() > 3).astype(np.int64))
    genres = movielens.items["genres"]
    for r in range(0, len(ratings), 97):    # each row's bag lists its movie's genres
        bag = [movielens.genre_names[g] for g in item.X[r, 1:] if g >= 0]
        assert bag == list(genres.loc[item.X[r, 0]])
    assert item.slots == (1, item.X.shape[1] - 1)
    assert (item.X[:, 1:] >= -1).all() and (item.X[:, 1:] < len(movielens.genre_names)).all()


def test_age_groups_follow_ml1m_codes():
    import pandas as pd

    df = pd.DataFrame({"user_id": [0, 1, 2, 3], "gender": ["M", "F", "M", "F"],
                       "age": [1, 17, 18, 56], "occupation": ["a", "b", "a", "c"]})
    user = deepfm.alice_features(df)
    assert user.X[:, 2].tolist() == [0, 0, 1, 6]
    assert user.vocabularies["gender"] == ["F", "M"] and user.cardinalities == (4, 2, 7, 3)


def test_holdout_rows_are_disjoint_cover_everything_and_have_the_asked_sizes():
    # Arrange / Act
    parts = deepfm.holdout_rows(1000, np.random.default_rng(0), test_fraction=0.2,
                                val_fraction=0.1)
    # Assert
    assert [len(parts[p]) for p in ("train", "val", "test")] == [720, 80, 200]
    every = np.concatenate(list(parts.values()))
    assert sorted(every.tolist()) == list(range(1000))
    for rows in parts.values():
        assert rows.dtype == np.int64 and np.all(np.diff(rows) > 0)


def test_holdout_rows_are_deterministic_and_the_test_rows_do_not_depend_on_val():
    a = deepfm.holdout_rows(500, np.random.default_rng(7), 0.2, 0.1)
    b = deepfm.holdout_rows(500, np.random.default_rng(7), 0.2, 0.1)
    c = deepfm.holdout_rows(500, np.random.default_rng(7), 0.2, 0.25)
    for p in a:
        np.testing.assert_array_equal(a[p], b[p])
    np.testing.assert_array_equal(a["test"], c["test"])     # val is carved from training only
    assert len(c["val"]) == 100


def test_holdout_rows_rejects_bad_fractions():
    with pytest.raises(ValueError, match="val_fraction"):
        deepfm.holdout_rows(10, np.random.default_rng(0), 0.2, 1.0)
    with pytest.raises(ValueError, match="test_fraction"):
        deepfm.holdout_rows(10, np.random.default_rng(0), 1.5, 0.1)


def test_prepare_gives_each_party_its_columns_and_bob_the_labels(movielens, data):
    ratings = movielens.ratings
    assert data.user.names == ("user_id", "gender", "age", "occupation")
    assert data.item.names == ("item_id", "genres")
    np.testing.assert_array_equal(data.user.X[:, 0], ratings["user_id"].to_numpy())
    np.testing.assert_array_equal(data.item.X[:, 0], ratings["item_id"].to_numpy())
    np.testing.assert_array_equal(data.y, (ratings["rating"].to_numpy() > 3).astype(np.int64))
    assert len(data.train) + len(data.val) + len(data.test) == len(ratings)
    assert "train" in repr(data) and "positive" in repr(data)
    with pytest.raises(ValueError, match="'train', 'val' or 'test'"):
        data.rows("everything")


def test_prepare_without_held_out_rows_trains_on_every_row(movielens):
    every = deepfm.prepare(movielens, test_fraction=0.0, val_fraction=0.0)
    np.testing.assert_array_equal(every.train, np.arange(len(movielens.ratings)))
    assert len(every.val) == len(every.test) == 0 and "val 0," in repr(every)


# ---------------------------------------------------------------------------
# models
# ---------------------------------------------------------------------------
def test_make_parties_uses_secretflow_sizes_by_default(data):
    alice, bob = deepfm.make_parties(data)
    assert alice.model.dim == bob.model.dim == 16
    assert alice.model.dnn.units == bob.model.dnn.units == (256, 32)
    assert bob.fuse.dnn.units == (256, 256, 32)
    assert bob.fuse.dnn.layers[0].weight.shape == (64, 256)      # concat of two 32-wide outputs
    assert alice.model.hidden_dim == 32 + 16 + 1
    assert alice.dtype == np.float32 and bob.aggregation.mode == "concat"
    summed = deepfm.make_parties(data, aggregation="sum")[1]
    assert summed.fuse.dnn.layers[0].weight.shape == (32, 256)


def test_make_parties_is_seeded_and_sets_the_codecs(data):
    a1, b1 = small_parties(data, seed=3)
    a2, b2 = small_parties(data, seed=3, codecs=("float16", "topk:0.1"))
    a3, _ = small_parties(data, seed=4)
    for p, q in zip(all_params(a1, b1), all_params(a2, b2), strict=True):
        np.testing.assert_array_equal(p.data, q.data)
    assert not np.array_equal(a1.model.dnn.layers[0].weight.data,
                              a3.model.dnn.layers[0].weight.data)
    assert a2.codec.name == "float16" and b2.codec.name == "top0.1"
    assert a1.codec.name == b1.codec.name == "float32"


def test_centralized_model_computes_the_split_function_on_its_own_copy(data):
    # Arrange
    alice, bob = small_parties(data)
    split_model = deepfm.SplitModel(alice, bob)
    central = deepfm.JointModel.centralized(alice, bob)
    rows = np.arange(50)
    # Act
    p_split, p_central = split_model.predict(rows), central.predict(rows)
    central.train_epoch(np.arange(128), batch_size=32)        # trains the copy only
    # Assert
    np.testing.assert_allclose(p_central, p_split, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(split_model.predict(rows), p_split)
    assert not np.allclose(central.predict(rows), p_split)
    np.testing.assert_array_equal(central.labels(rows), bob.labels(rows))


def test_alone_model_sees_one_partys_fields_with_a_copied_base(data):
    # Arrange
    alice, bob = small_parties(data)
    before = alice.model.embedding.weight.data.copy()
    # Act
    alone = deepfm.JointModel.alone(alice.model, alice.X, bob.y, seed=1,
                                    fuse_units=SMALL["fuse_units"])
    alone.train_epoch(np.arange(128), batch_size=32)
    # Assert
    assert len(alone.Xs) == 1 and alone.Xs[0] is not bob.X
    assert alone.model.fuse.dnn.layers[0].weight.shape == (4, 8)   # alice's deep output only
    np.testing.assert_array_equal(alice.model.embedding.weight.data, before)
    assert not np.array_equal(alone.model.bases[0].embedding.weight.data, before)
    p = alone.predict(data.test)
    assert p.shape == data.test.shape and np.all((p > 0) & (p < 1))


def test_joint_model_rejects_misaligned_rows(data):
    alice, bob = small_parties(data)
    with pytest.raises(ValueError, match="differ"):
        deepfm.JointModel(deepfm.JointModel.centralized(alice, bob).model,
                          [alice.X, bob.X[:-1]], bob.y)


# ---------------------------------------------------------------------------
# training histories
# ---------------------------------------------------------------------------
def test_train_records_metrics_and_bytes_per_epoch(data):
    # Arrange
    alice, bob = small_parties(data, dtype=np.float32)
    model = deepfm.SplitModel(alice, bob)
    # Act
    history = deepfm.train(model, data, num_epochs=3, batch_size=64, seed=0)
    # Assert
    assert [r["epoch"] for r in history] == [1, 2, 3]
    for record in history:
        assert set(record) == {"epoch", "lr", "train_loss", "seconds", "bytes", "val", "test"}
        assert record["lr"] is None                                 # the optimizers' own
        assert set(record["test"]) == {"loss", "auc", "precision", "recall", "accuracy"}
        expected = deepfm.epoch_bytes(None, len(data.train), alice.model.hidden_dim, 64)
        assert record["bytes"] == {"alice_to_bob": expected, "bob_to_alice": expected}
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    # evaluation sends alice's cut tensors only: 3 epochs x (val + test) rows
    width = alice.model.hidden_dim
    assert model.eval_channel.bytes_sent("alice", "bob") == \
        3 * (len(data.val) + len(data.test)) * width * 4
    assert model.eval_channel.bytes_sent("bob", "alice") == 0


def test_split_and_centralized_train_alike_from_the_same_seed(data):
    # Arrange: float64, so only rounding could separate them
    alice, bob = small_parties(data)
    central = deepfm.JointModel.centralized(alice, bob)
    # Act
    h_split = deepfm.train(deepfm.SplitModel(alice, bob), data, 2, batch_size=32, seed=5)
    h_central = deepfm.train(central, data, 2, batch_size=32, seed=5)
    # Assert
    for a, b in zip(h_split, h_central, strict=True):
        assert a["train_loss"] == pytest.approx(b["train_loss"], abs=1e-10)
        assert a["test"]["auc"] == pytest.approx(b["test"]["auc"], abs=1e-12)
    for p, q in zip(all_params(alice, bob), central.model.get_parameters(), strict=True):
        np.testing.assert_allclose(p.data, q.data, rtol=0, atol=1e-9)


def test_train_is_deterministic_and_checks_num_epochs(data):
    runs = [deepfm.train(deepfm.SplitModel(*small_parties(data, dtype=np.float32)), data, 1,
                         seed=2)[0] for _ in range(2)]
    assert runs[0]["train_loss"] == runs[1]["train_loss"]
    assert runs[0]["test"] == runs[1]["test"]
    with pytest.raises(ValueError, match="num_epochs"):
        deepfm.train(deepfm.SplitModel(*small_parties(data)), data, 0)


def test_linear_decay_falls_by_equal_steps_towards_zero():
    np.testing.assert_allclose(deepfm.linear_decay(3e-3, 5), [3e-3, 2.4e-3, 1.8e-3, 1.2e-3, 6e-4])
    assert deepfm.linear_decay(0.1, 1) == [0.1]
    with pytest.raises(ValueError, match="num_epochs"):
        deepfm.linear_decay(1e-3, 0)
    with pytest.raises(ValueError, match="lr must be positive"):
        deepfm.linear_decay(0.0, 3)


@pytest.mark.parametrize("kind", ["split", "centralized"])
def test_train_with_lrs_sets_each_epochs_step_size(data, kind):
    # Arrange: a constant schedule must equal building Adam with that step size
    def model(lr):
        alice, bob = small_parties(data, lr=lr)
        return deepfm.SplitModel(alice, bob) if kind == "split" else \
            deepfm.JointModel.centralized(alice, bob, lr=lr)
    scheduled, built = model(1e-3), model(5e-3)
    # Act
    h_sched = deepfm.train(scheduled, data, 2, batch_size=32, seed=1, lrs=[5e-3, 5e-3])
    h_built = deepfm.train(built, data, 2, batch_size=32, seed=1)
    decayed = model(1e-3)
    h_decay = deepfm.train(decayed, data, 2, batch_size=32, seed=1,
                           lrs=deepfm.linear_decay(5e-3, 2))
    # Assert
    assert [r["lr"] for r in h_sched] == [5e-3, 5e-3]
    assert [r["test"] for r in h_sched] == [r["test"] for r in h_built]
    assert [r["lr"] for r in h_decay] == [5e-3, 2.5e-3]
    assert h_decay[0]["test"] == h_sched[0]["test"]             # same first epoch
    assert h_decay[1]["test"] != h_sched[1]["test"]             # a smaller second step
    optimizers = [decayed.alice.optimizer, decayed.bob.optimizer] if kind == "split" else \
        [decayed.optimizer]
    assert all(o.alpha == 2.5e-3 for o in optimizers)


def test_train_rejects_a_short_schedule_and_empty_parts(data):
    model = deepfm.SplitModel(*small_parties(data))
    with pytest.raises(ValueError, match="lrs has 1 step sizes for 2 epochs"):
        deepfm.train(model, data, 2, lrs=[1e-3])
    with pytest.raises(ValueError, match="'val' rows are empty"):
        deepfm.train(model, data.refit(), 1)


def test_refit_gives_the_validation_rows_back_to_training(data):
    # Act
    refit = data.refit()
    # Assert
    np.testing.assert_array_equal(refit.train, np.sort(np.concatenate([data.train, data.val])))
    assert len(refit.val) == 0 and refit.val.dtype == np.int64
    np.testing.assert_array_equal(refit.test, data.test)
    assert refit.user is data.user and refit.item is data.item and refit.y is data.y
    history = deepfm.train(deepfm.SplitModel(*small_parties(refit)), refit, 1, parts=("test",))
    assert set(history[0]) >= {"test"} and "val" not in history[0]


def test_validate_schedules_scores_validation_only(data):
    # Arrange: a copy of the data without test rows; scoring them would raise
    no_test = deepfm.DeepFMData(data.name, data.user, data.item, data.y, data.train, data.val,
                                np.zeros(0, dtype=np.int64))
    schedules = {"constant": [2e-3, 2e-3], "decay": deepfm.linear_decay(2e-3, 2)}
    # Act
    out = deepfm.validate_schedules(no_test, schedules, 2, seeds=(0, 1), batch_size=32,
                                    **SMALL)
    # Assert
    assert set(out) == set(schedules) and out["decay"].shape == (2, 2)
    again = deepfm.train(deepfm.SplitModel(*deepfm.make_parties(no_test, seed=1, **SMALL)),
                         no_test, 2, 32, seed=1, parts=("val",), lrs=schedules["decay"])
    np.testing.assert_array_equal(out["decay"][1], [r["val"]["auc"] for r in again])
    assert out["constant"][0, 0] == out["decay"][0, 0]           # same first epoch
    assert not np.array_equal(out["constant"][0], out["decay"][0])


def test_best_epoch_is_chosen_on_the_named_part():
    # Arrange: validation and test disagree on purpose
    history = [{"epoch": 1, "val": {"auc": 0.70, "loss": 0.60}, "test": {"auc": 0.80}},
               {"epoch": 2, "val": {"auc": 0.75, "loss": 0.58}, "test": {"auc": 0.60}},
               {"epoch": 3, "val": {"auc": 0.75, "loss": 0.59}, "test": {"auc": 0.90}}]
    # Act / Assert
    assert deepfm.best_epoch(history)["epoch"] == 2            # the earliest of a tie
    assert deepfm.best_epoch(history, metric="loss")["epoch"] == 2
    assert deepfm.best_epoch(history, part="test")["epoch"] == 3
    with pytest.raises(KeyError, match="no 'train' metrics"):
        deepfm.best_epoch(history, part="train")
    with pytest.raises(ValueError, match="empty"):
        deepfm.best_epoch([])


# ---------------------------------------------------------------------------
# the equivalence proof
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("aggregation", ["concat", "sum"])
def test_gradient_equivalence_in_float64_after_some_training(data, aggregation):
    # Arrange: train first, so biases and first-order weights are no longer zero
    alice, bob = small_parties(data, aggregation=aggregation)
    deepfm.train(deepfm.SplitModel(alice, bob), data, 1, batch_size=32, parts=())
    before = [p.data.copy() for p in all_params(alice, bob)]
    # Act
    check = deepfm.gradient_equivalence(alice, bob, data.test[:40])
    # Assert
    assert check["max_output_diff"] < 1e-10 and check["max_grad_diff"] < 1e-10
    assert check["max_abs_grad"] > 1e-3                       # not trivially zero
    names = [row[0] for row in check["parameters"]]
    assert len(names) == 8 + 8 + 6 and names[0] == "alice.embedding.weight"
    assert "fuse.dnn.output.weight" in names
    for p, b in zip(all_params(alice, bob), before, strict=True):   # no optimizer step
        np.testing.assert_array_equal(p.data, b)
        assert p.grad is None


def test_gradient_equivalence_measures_rounding_in_float32(data):
    alice, bob = small_parties(data, dtype=np.float32)
    check = deepfm.gradient_equivalence(alice, bob, data.test[:40])
    assert 0 < check["max_grad_diff"] < 1e-4


# ---------------------------------------------------------------------------
# bytes and compression
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("codec, expected", [
    (None, 128 * 49 * 4),
    ("float16", 128 * 49 * 2),
    ("int8", 128 * 49 + 4 + 1),                     # + scale (float32) and zero point (uint8)
    ("topk:0.1", 628 * 4 + 628 * 2 + 2 * 4),        # k = ceil(627.2); uint16 positions; shape
])
def test_message_bytes_per_codec(codec, expected):
    assert deepfm.message_bytes(codec, 128, 49) == expected


def test_epoch_bytes_counts_the_short_last_batch():
    assert deepfm.epoch_bytes(None, 300, 49, batch_size=128) == (128 + 128 + 44) * 49 * 4
    assert deepfm.epoch_bytes("float16", 256, 10, batch_size=128) == 2 * 128 * 10 * 2


def test_compression_runs_count_the_bytes_their_codecs_send(data):
    # Arrange
    variants = {"plain": (None, None), "int8 up, top-25% down": ("int8", "topk:0.25")}
    # Act
    runs = deepfm.compression_runs(data, 1, variants, seed=0, batch_size=64, **SMALL)
    plain = deepfm.train(deepfm.SplitModel(*deepfm.make_parties(data, seed=0, **SMALL)), data,
                         1, batch_size=64, seed=0)
    # Assert
    width, n = 4 + 3 + 1, len(data.train)
    assert runs["plain"][0]["bytes"]["alice_to_bob"] == deepfm.epoch_bytes(None, n, width, 64)
    assert runs["plain"][0]["test"] == plain[0]["test"]         # same start, same batches
    squeezed = runs["int8 up, top-25% down"][0]["bytes"]
    assert squeezed == {"alice_to_bob": deepfm.epoch_bytes("int8", n, width, 64),
                        "bob_to_alice": deepfm.epoch_bytes("topk:0.25", n, width, 64)}
    assert runs["int8 up, top-25% down"][0]["test"] != plain[0]["test"]


def test_compression_runs_pass_the_schedule_and_the_parts_to_train(data):
    # Act
    runs = deepfm.compression_runs(data, 2, {"plain": (None, None)}, seed=0, batch_size=64,
                                   lrs=[3e-3, 1e-3], parts=("val",), **SMALL)
    plain = deepfm.train(deepfm.SplitModel(*deepfm.make_parties(data, seed=0, **SMALL)), data,
                         2, batch_size=64, seed=0, parts=("val",), lrs=[3e-3, 1e-3])
    # Assert
    assert [r["lr"] for r in runs["plain"]] == [3e-3, 1e-3]
    assert "test" not in runs["plain"][0]
    assert [r["val"] for r in runs["plain"]] == [r["val"] for r in plain]


def test_the_default_variants_name_real_codecs():
    assert list(deepfm.COMPRESSION_VARIANTS)[0] == "float32 (SplitRec)"
    for up, down in deepfm.COMPRESSION_VARIANTS.values():
        compression.get_codec(up), compression.get_codec(down)


# ---------------------------------------------------------------------------
# real data
# ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def ml100k():
    if ML100K_ROOT is None:
        pytest.skip(ML100K_MISSING)
    return load_movielens("ml-100k", ML100K_ROOT)


def test_real_split_sizes_and_labels(ml100k):
    data = deepfm.prepare(ml100k, seed=0)
    assert (len(data.train), len(data.val), len(data.test)) == (72_000, 8_000, 20_000)
    assert data.y.mean() == pytest.approx(0.55375)           # ratings 4 and 5 of 100,000
    assert data.user.cardinalities == (943, 2, 7, 21)
    assert data.item.cardinalities == (1682, 19) and data.item.slots == (1, 6)


def test_real_secretflow_sized_split_equals_centralized_in_float64(ml100k):
    data = deepfm.prepare(ml100k, seed=0)
    alice, bob = deepfm.make_parties(data, seed=0, dtype=np.float64)
    check = deepfm.gradient_equivalence(alice, bob, data.train[:128])
    assert check["max_output_diff"] < 1e-10 and check["max_grad_diff"] < 1e-10


@pytest.mark.parametrize("codec, expected", [(None, 4 * 3 * 4), ("float16", 4 * 3 * 2),
                                             ("int8", 4 * 3 + 4 + 1)],
                         ids=["float32", "float16", "int8"])
def test_message_bytes_is_the_payload_size_of_one_cut_tensor(codec, expected):
    sent = compression.get_codec(codec).encode(np.ones((4, 3), np.float32))

    assert deepfm.message_bytes(codec, 4, 3) == expected
    assert deepfm.message_bytes(codec, 4, 3) == sum(a.nbytes for a in sent.values())
