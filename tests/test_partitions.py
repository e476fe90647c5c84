"""Client partitions: every example lands with exactly one client, skew is what was asked."""

import numpy as np
import pandas as pd
import pytest

from minigrad.datasets.partitions import (
    ALICE_COLUMNS,
    BOB_COLUMNS,
    client_ratings,
    dirichlet_label_partition,
    iid_partition,
    partition_by_owner,
    reconstruction_split,
    reconstruction_split_all,
    split_users,
    train_test_split_rows,
    vertical_split,
)
from minigrad.datasets.synthetic import synthetic_movielens, synthetic_spam


@pytest.fixture(scope="module")
def ml():
    return synthetic_movielens(num_users=60, num_items=120, seed=0)


@pytest.fixture
def shuffled_ratings(ml):
    """The ratings in a random row order, as a real u.data file would be."""
    perm = np.random.default_rng(1).permutation(len(ml.ratings))
    return ml.ratings.iloc[perm].reset_index(drop=True)


def assert_partitions(parts, n):
    """Every index 0..n-1 is in exactly one part."""
    allidx = np.concatenate(list(parts))
    assert allidx.dtype == np.int64
    np.testing.assert_array_equal(np.sort(allidx), np.arange(n))


def label_skew(parts, labels):
    """Mean total-variation distance between each client's label mix and the global one."""
    classes = np.unique(labels)
    overall = np.array([(labels == c).mean() for c in classes])
    tv = [0.5 * np.abs(np.array([(labels[p] == c).mean() for c in classes]) - overall).sum()
          for p in parts]
    return float(np.mean(tv))


# ---------------------------------------------------------------------------
# horizontal partitions
# ---------------------------------------------------------------------------
def test_iid_partition_covers_each_index_once_in_near_equal_parts(rng):
    parts = iid_partition(103, 10, rng)
    assert len(parts) == 10
    assert_partitions(parts, 103)
    assert {len(p) for p in parts} == {10, 11}
    assert all((np.diff(p) > 0).all() for p in parts)


def test_iid_partition_is_deterministic_by_generator_and_shuffles():
    a = iid_partition(50, 5, np.random.default_rng(7))
    b = iid_partition(50, 5, np.random.default_rng(7))
    c = iid_partition(50, 5, np.random.default_rng(8))
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c, strict=True))
    assert not np.array_equal(a[0], np.arange(10))


def test_iid_partition_rejects_bad_requests(rng):
    with pytest.raises(ValueError, match="num_clients"):
        iid_partition(10, 0, rng)
    with pytest.raises(ValueError, match="only 3 examples"):
        iid_partition(3, 5, rng)
    with pytest.raises(TypeError, match="Generator"):
        iid_partition(10, 2, 0)


def test_partition_by_owner_groups_mailboxes_in_natural_order():
    owners = np.array(["enron10", "enron2", "enron1", "enron2", "enron10", "enron1"])
    parts = partition_by_owner(owners)
    assert list(parts) == ["enron1", "enron2", "enron10"]
    np.testing.assert_array_equal(parts["enron1"], [2, 5])
    np.testing.assert_array_equal(parts["enron2"], [1, 3])
    np.testing.assert_array_equal(parts["enron10"], [0, 4])


def test_partition_by_owner_on_the_synthetic_corpus():
    corpus = synthetic_spam(num_emails=240, seed=0)
    parts = partition_by_owner(corpus.owners)
    assert list(parts) == [f"synthetic{k}" for k in range(1, 7)]
    assert_partitions(parts.values(), len(corpus))
    for owner, idx in parts.items():
        assert (corpus.owners[idx] == owner).all()
        assert len(idx) == corpus.counts().loc[owner, "total"]


def test_dirichlet_partition_covers_each_index_once_and_respects_min_size(rng):
    labels = np.repeat(np.arange(4), [300, 50, 100, 150])
    parts = dirichlet_label_partition(labels, 8, 0.5, rng, min_size=10)
    assert len(parts) == 8
    assert_partitions(parts, len(labels))
    assert min(len(p) for p in parts) >= 10


def test_dirichlet_small_alpha_skews_labels_and_large_alpha_does_not(rng):
    labels = np.repeat(np.arange(10), 300)
    skewed = dirichlet_label_partition(labels, 10, 0.1, rng)
    near_iid = dirichlet_label_partition(labels, 10, 1000.0, rng)
    assert label_skew(skewed, labels) > 0.5
    assert label_skew(near_iid, labels) < 0.1
    # per client, the most common class holds most of a small-alpha client's data
    top_share = np.mean([np.bincount(labels[p]).max() / len(p) for p in skewed])
    assert top_share > 0.5


def test_dirichlet_is_deterministic_by_generator():
    labels = np.repeat([0, 1], [70, 30])
    a = dirichlet_label_partition(labels, 4, 0.3, np.random.default_rng(3))
    b = dirichlet_label_partition(labels, 4, 0.3, np.random.default_rng(3))
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def test_dirichlet_impossible_requests_raise_clear_errors(rng):
    labels = np.repeat([0, 1], 50)
    with pytest.raises(ValueError, match="impossible"):
        dirichlet_label_partition(labels, 10, 1.0, rng, min_size=11)
    with pytest.raises(ValueError, match="raise alpha"):
        dirichlet_label_partition(labels, 10, 0.01, rng, min_size=5, max_tries=20)
    with pytest.raises(ValueError, match="alpha"):
        dirichlet_label_partition(labels, 2, 0.0, rng)
    with pytest.raises(ValueError, match="only 100 examples"):
        dirichlet_label_partition(labels, 101, 1.0, rng, min_size=0)


# ---------------------------------------------------------------------------
# MovieLens: users as clients
# ---------------------------------------------------------------------------
def test_split_users_are_disjoint_and_cover_everyone(rng):
    split = split_users(943, rng)
    assert list(split) == ["train", "val", "test"]
    assert [len(split[k]) for k in split] == [754, 94, 95]      # int(n*.8), int(n*.9)
    assert_partitions(split.values(), 943)
    assert not set(split["train"]) & (set(split["val"]) | set(split["test"]))


def test_split_users_accepts_ids_and_validates_fractions(rng):
    ids = np.array([10, 20, 30, 40, 50, 60, 70, 80, 90, 100])
    split = split_users(ids, rng, fractions=(0.6, 0.2, 0.2))
    assert [len(v) for v in split.values()] == [6, 2, 2]
    np.testing.assert_array_equal(np.sort(np.concatenate(list(split.values()))), ids)
    with pytest.raises(ValueError, match="summing to 1"):
        split_users(10, rng, fractions=(0.8, 0.1, 0.2))
    with pytest.raises(ValueError, match="distinct"):
        split_users(np.array([1, 1, 2]), rng)


def test_client_ratings_match_a_naive_loop_on_shuffled_rows(shuffled_ratings):
    users = shuffled_ratings["user_id"].to_numpy()
    clients = client_ratings(shuffled_ratings)
    assert list(clients) == sorted(set(users.tolist()))
    for u, rows in clients.items():
        np.testing.assert_array_equal(rows, np.flatnonzero(users == u))
    assert_partitions(clients.values(), len(shuffled_ratings))


def test_client_ratings_selected_users_cap_and_missing_users(shuffled_ratings):
    clients = client_ratings(shuffled_ratings, user_ids=[3, 1, 999], max_per_user=5)
    assert list(clients) == [3, 1, 999]
    users = shuffled_ratings["user_id"].to_numpy()
    np.testing.assert_array_equal(clients[3], np.flatnonzero(users == 3)[:5])
    assert len(clients[999]) == 0


def test_reconstruction_split_even_positions_reconstruct_odd_evaluate():
    rows = np.array([40, 11, 7, 23, 5])
    recon, evaluate = reconstruction_split(rows)
    np.testing.assert_array_equal(recon, [40, 7, 5])
    np.testing.assert_array_equal(evaluate, [11, 23])


def test_reconstruction_split_with_rng_is_disjoint_and_covering(rng):
    rows = np.arange(100, 137)
    recon, evaluate = reconstruction_split(rows, rng)
    assert (len(recon), len(evaluate)) == (19, 18)
    assert not set(recon) & set(evaluate)
    np.testing.assert_array_equal(np.sort(np.r_[recon, evaluate]), rows)
    assert not np.array_equal(np.sort(recon), rows[0::2])


def test_reconstruction_split_all_agrees_with_the_per_user_split(shuffled_ratings):
    mask = reconstruction_split_all(shuffled_ratings)
    assert mask.dtype == bool and mask.shape == (len(shuffled_ratings),)
    for rows in client_ratings(shuffled_ratings).values():
        recon, evaluate = reconstruction_split(rows)
        assert mask[recon].all() and not mask[evaluate].any()
    np.testing.assert_array_equal(reconstruction_split_all(shuffled_ratings["user_id"]), mask)


# ---------------------------------------------------------------------------
# MovieLens: vertical split for split learning
# ---------------------------------------------------------------------------
def test_vertical_split_gives_alice_users_and_bob_items_and_labels(ml):
    alice, bob = vertical_split(ml)
    r = ml.ratings
    assert list(alice.columns) == ALICE_COLUMNS == ["row_id", "user_id", "gender", "age",
                                                    "occupation"]
    assert list(bob.columns) == BOB_COLUMNS == ["row_id", "item_id", "genres", "label"]
    assert not {"label", "rating", "item_id", "genres", "timestamp"} & set(alice.columns)
    assert not {"user_id", "gender", "age", "occupation", "zip"} & set(bob.columns)
    assert len(alice) == len(bob) == len(r)
    np.testing.assert_array_equal(alice["row_id"], bob["row_id"])
    np.testing.assert_array_equal(alice["row_id"], np.arange(len(r)))
    np.testing.assert_array_equal(bob["label"], (r["rating"] > 3).astype(np.int64))
    assert bob["label"].dtype == np.int64
    np.testing.assert_array_equal(alice["user_id"], r["user_id"])
    np.testing.assert_array_equal(alice["gender"], ml.users["gender"].to_numpy()[r["user_id"]])
    np.testing.assert_array_equal(alice["age"], ml.users["age"].to_numpy()[r["user_id"]])
    np.testing.assert_array_equal(bob["item_id"], r["item_id"])
    assert list(bob["genres"]) == list(ml.items["genres"].to_numpy()[r["item_id"]])


def test_vertical_split_threshold(ml):
    _, bob = vertical_split(ml, label_threshold=4)
    np.testing.assert_array_equal(bob["label"], (ml.ratings["rating"] == 5).astype(np.int64))


def test_train_test_split_rows(rng):
    train, test = train_test_split_rows(101, 0.2, rng)
    assert (len(train), len(test)) == (81, 20)
    assert_partitions([train, test], 101)
    with pytest.raises(ValueError, match="test_fraction"):
        train_test_split_rows(10, 1.5, rng)
    assert isinstance(pd.Series(train).iloc[0], np.integer)
