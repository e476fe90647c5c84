"""Synthetic stand-ins: the real containers' schemas, determinism by seed, planted structure."""

import re

import numpy as np
import pandas as pd
import pytest

from minigrad.datasets.synthetic import (
    HAM_WORDS,
    ML1M_GENRES,
    ML1M_OCCUPATIONS,
    ML100K_GENRES,
    ML100K_OCCUPATIONS,
    SPAM_WORDS,
    synthetic_movielens,
    synthetic_spam,
)
from minigrad.datasets.types import MovieLens, SpamCorpus

RATING_COLUMNS = ["user_id", "item_id", "rating", "timestamp", "orig_user_id", "orig_item_id"]
USER_COLUMNS = ["orig_user_id", "gender", "age", "occupation", "zip"]
ITEM_COLUMNS = ["orig_item_id", "title", "genres"]


@pytest.fixture(scope="module")
def spam():
    return synthetic_spam(num_emails=1200, seed=0)


@pytest.fixture(scope="module")
def ml_truth():
    return synthetic_movielens(seed=0, return_truth=True)


def tokens(text):
    return re.findall(r"[a-z]+", text.lower())


# ---------------------------------------------------------------------------
# spam
# ---------------------------------------------------------------------------
def test_spam_has_the_spamcorpus_schema_and_says_it_is_synthetic(spam):
    assert isinstance(spam, SpamCorpus)
    assert len(spam) == 1200
    assert isinstance(spam.texts, list) and all(isinstance(t, str) for t in spam.texts)
    assert isinstance(spam.files, list) and len(spam.files) == 1200
    assert spam.labels.dtype == np.int64 and set(np.unique(spam.labels)) == {0, 1}
    assert isinstance(spam.owners, np.ndarray) and spam.owners.shape == (1200,)
    assert spam.synthetic is True and spam.source == "synthetic"
    assert repr(spam).startswith("SYNTHETIC SpamCorpus(1200 emails")
    assert any("SYNTHETIC DATA" in note for note in spam.notes)
    assert all(t.startswith("Subject: ") and "\r" not in t for t in spam.texts)


def test_spam_files_name_owner_and_label(spam):
    for f, owner, label in zip(spam.files, spam.owners, spam.labels, strict=True):
        assert re.fullmatch(r"synthetic\d+/(ham|spam)/\d{4}\.txt", f)
        assert f.startswith(f"{owner}/{'spam' if label else 'ham'}/")
    assert len(set(spam.files)) == len(spam.files)
    assert spam.files[0] == "synthetic1/ham/0001.txt"


def test_spam_mix_varies_by_owner_like_enron(spam):
    table = spam.counts()
    assert list(table.index) == [f"synthetic{k}" for k in range(1, 7)]
    spam_share = table["spam"] / table["total"]
    assert (spam_share.iloc[:3] < 0.35).all() and (spam_share.iloc[3:] > 0.65).all()
    assert table["total"].sum() == 1200


def test_spam_lengths_vary_and_some_exceed_500_words(spam):
    lengths = np.array([len(t.split()) for t in spam.texts])
    assert lengths.min() < 30 and (lengths > 500).sum() >= 10
    assert 60 < np.median(lengths) < 200


def test_spam_is_deterministic_by_seed():
    a, b = synthetic_spam(300, seed=3), synthetic_spam(300, seed=3)
    c = synthetic_spam(300, seed=4)
    assert a.texts == b.texts and a.files == b.files
    np.testing.assert_array_equal(a.labels, b.labels)
    np.testing.assert_array_equal(a.owners, b.owners)
    assert a.texts != c.texts


def test_spam_words_are_planted_in_spam_and_ham_words_in_ham(spam):
    spam_words, ham_words = set(SPAM_WORDS), set(HAM_WORDS)
    toks = [tokens(t) for t in spam.texts]
    share_spam = np.array([np.mean([w in spam_words for w in t]) for t in toks])
    share_ham = np.array([np.mean([w in ham_words for w in t]) for t in toks])
    y = spam.labels
    assert share_spam[y == 1].mean() > 3 * share_spam[y == 0].mean()
    assert share_ham[y == 0].mean() > 3 * share_ham[y == 1].mean()


def test_spam_is_learnable_by_bag_of_words_but_not_perfectly(spam):
    # Arrange: Bernoulli naive Bayes on word presence, first half train, second half test
    rng = np.random.default_rng(0)
    order = rng.permutation(len(spam))
    train, test = order[:600], order[600:]
    vocab = {w: j for j, w in enumerate(sorted({w for t in spam.texts for w in tokens(t)}))}
    X = np.zeros((len(spam), len(vocab)))
    for i, t in enumerate(spam.texts):
        X[i, [vocab[w] for w in set(tokens(t))]] = 1.0
    y = spam.labels
    # Act
    p_spam = (X[train][y[train] == 1].sum(0) + 1) / ((y[train] == 1).sum() + 2)
    p_ham = (X[train][y[train] == 0].sum(0) + 1) / ((y[train] == 0).sum() + 2)
    log_odds = (X[test] @ (np.log(p_spam) - np.log(p_ham))
                + (1 - X[test]) @ (np.log1p(-p_spam) - np.log1p(-p_ham)))
    accuracy = np.mean((log_odds > 0) == y[test])
    # Assert
    assert 0.85 < accuracy < 0.995


def test_spam_rejects_impossible_sizes():
    with pytest.raises(ValueError, match="too small"):
        synthetic_spam(num_emails=5, num_owners=6)
    with pytest.raises(ValueError, match="num_owners"):
        synthetic_spam(num_emails=100, num_owners=0)


# ---------------------------------------------------------------------------
# MovieLens
# ---------------------------------------------------------------------------
def test_movielens_has_the_movielens_schema(ml_truth):
    ml, _ = ml_truth
    assert isinstance(ml, MovieLens)
    assert ml.synthetic is True and ml.name == "synthetic-ml-100k"
    assert repr(ml).startswith("SYNTHETIC MovieLens('synthetic-ml-100k': 100000 ratings")
    r, users, items = ml.ratings, ml.users, ml.items
    assert list(r.columns) == RATING_COLUMNS
    assert all(r[c].dtype == np.int64 for c in RATING_COLUMNS)
    assert list(users.columns) == USER_COLUMNS and users.index.name == "user_id"
    assert list(items.columns) == ITEM_COLUMNS and items.index.name == "item_id"
    assert (ml.num_users, ml.num_items, len(r)) == (943, 1682, 100_000)
    np.testing.assert_array_equal(users.index, np.arange(943))
    np.testing.assert_array_equal(items.index, np.arange(1682))
    assert users["age"].dtype == np.int64 and users["orig_user_id"].dtype == np.int64
    for col in ["gender", "occupation", "zip"]:
        assert pd.api.types.is_string_dtype(users[col]), col
    assert set(users["gender"]) == {"M", "F"}
    assert set(users["occupation"]) <= set(ML100K_OCCUPATIONS)
    assert users["zip"].str.fullmatch(r"\d{5}").all()
    assert ml.genre_names == ML100K_GENRES and len(ml.genre_names) == 19
    assert all(isinstance(g, list) and g and set(g) <= set(ML100K_GENRES)
               for g in items["genres"])
    assert items["title"].str.fullmatch(r"Synthetic movie \d+ \(\d{4}\)").all()
    assert ml.genre_matrix().shape == (1682, 19)


def test_movielens_ids_and_ratings_are_consistent(ml_truth):
    ml, _ = ml_truth
    r = ml.ratings
    assert r["rating"].between(1, 5).all()
    orig_user = ml.users["orig_user_id"].to_numpy()
    orig_item = ml.items["orig_item_id"].to_numpy()
    np.testing.assert_array_equal(r["orig_user_id"], orig_user[r["user_id"]])
    np.testing.assert_array_equal(r["orig_item_id"], orig_item[r["item_id"]])
    assert not r.duplicated(["user_id", "item_id"]).any()
    per_user = r.groupby("user_id").size()
    assert per_user.min() >= 20 and len(per_user) == 943
    assert r["item_id"].nunique() == 1682                       # every movie rated
    ts = r.groupby("user_id")["timestamp"]
    assert (ts.diff().dropna() > 0).all()                      # strictly increasing per user
    assert r["user_id"].is_monotonic_increasing


def test_movielens_marginals_look_like_ml100k(ml_truth):
    ml, _ = ml_truth
    r = ml.ratings
    stars = np.bincount(r["rating"], minlength=6)[1:] / len(r)
    np.testing.assert_allclose(stars, [0.061, 0.114, 0.271, 0.342, 0.212], atol=0.01)
    per_item = np.sort(r.groupby("item_id").size().to_numpy())[::-1]
    assert per_item[:168].sum() > 0.3 * len(r)                 # long tail: top 10% of items
    assert (per_item <= 3).sum() > 20
    assert 0.6 < (ml.users["gender"] == "M").mean() < 0.8


def test_movielens_is_deterministic_by_seed():
    a = synthetic_movielens(num_users=40, num_items=80, seed=5)
    b = synthetic_movielens(num_users=40, num_items=80, seed=5)
    c = synthetic_movielens(num_users=40, num_items=80, seed=6)
    pd.testing.assert_frame_equal(a.ratings, b.ratings)
    pd.testing.assert_frame_equal(a.users, b.users)
    pd.testing.assert_frame_equal(a.items, b.items)
    assert not a.ratings.equals(c.ratings)


def test_planted_item_and_user_biases_show_in_mean_ratings(ml_truth):
    ml, truth = ml_truth
    r = ml.ratings
    item_mean = r.groupby("item_id")["rating"].mean().to_numpy()
    good = truth["item_bias"] > np.quantile(truth["item_bias"], 0.9)
    bad = truth["item_bias"] < np.quantile(truth["item_bias"], 0.1)
    assert item_mean[good].mean() > item_mean[bad].mean() + 1.0
    user_mean = r.groupby("user_id")["rating"].mean().to_numpy()
    assert np.corrcoef(user_mean, truth["user_bias"])[0, 1] > 0.5


def test_planted_demographic_genre_tastes_show_in_ratings(ml_truth):
    ml, _ = ml_truth
    r = ml.ratings
    users = ml.users
    gm = ml.genre_matrix(dtype=bool)
    # each rating relative to the rater's own mean, so user biases cancel
    centred = r["rating"] - r.groupby("user_id")["rating"].transform("mean")
    female = (users["gender"].to_numpy() == "F")[r["user_id"]]
    old = (users["age"].to_numpy() >= 45)[r["user_id"]]
    programmer = (users["occupation"].to_numpy() == "programmer")[r["user_id"]]

    def gap(genre, group):
        in_genre = gm[r["item_id"], ML100K_GENRES.index(genre)]
        return centred[in_genre & group].mean() - centred[in_genre & ~group].mean()

    assert gap("Romance", female) > 0.1 and gap("Action", female) < -0.1
    assert gap("Film-Noir", old) > 0.1 and gap("Animation", old) < -0.05
    assert gap("Sci-Fi", programmer) > 0.1


def test_small_and_ml1m_flavoured_variants():
    small = synthetic_movielens(num_users=50, num_items=100, seed=1)
    assert (small.num_users, small.num_items) == (50, 100)
    assert small.ratings.groupby("user_id").size().min() >= 20
    ml1m = synthetic_movielens("ml-1m", num_users=50, num_items=100, seed=1)
    assert ml1m.name == "synthetic-ml-1m" and ml1m.genre_names == ML1M_GENRES
    assert set(ml1m.users["age"]) <= {1, 18, 25, 35, 45, 50, 56}
    assert set(ml1m.users["occupation"]) <= set(ML1M_OCCUPATIONS)
    # like the real ml-1m, a few listed movies have no ratings (95 of 100 rated here)
    assert ml1m.num_items == 100 and ml1m.ratings["item_id"].nunique() == 95
    assert list(ml1m.ratings.columns) == RATING_COLUMNS


def test_movielens_rejects_bad_requests():
    with pytest.raises(ValueError, match="unknown MovieLens name"):
        synthetic_movielens("ml-25m")
    with pytest.raises(ValueError, match="num_items"):
        synthetic_movielens(num_users=10, num_items=10)
    with pytest.raises(ValueError, match="num_ratings"):
        synthetic_movielens(num_users=10, num_items=100, num_ratings=50)
