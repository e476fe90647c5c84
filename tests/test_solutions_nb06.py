"""Reference solutions to notebook 06's exercises (read from the notebook): the residual column,
max_norm, no known label."""

import numpy as np
import pytest
from realdata import ML100K_ROOT, needs_ml100k
from splitdata import imbalanced_gradients, leakage_features, leakage_parties
from teacher import solutions

from minigrad.datasets import load_movielens, vertical_split
from minigrad.deepfm import DeepFMBase, DeepFMFuse
from minigrad.federated import split
from minigrad.privacy.label_leakage import (
    GaussianNoise,
    NormEqualize,
    batch_leak_aucs,
    direction_scores,
    leak_auc,
    norm_scores,
)
from minigrad.recipes.deepfm import alice_features, bob_features

nb06 = solutions("06")


def parties(label_threshold, codec=None, seed=0):
    """A small float64 split DeepFM on synthetic MovieLens; bob's label rating > threshold."""
    return leakage_parties(leakage_features(label_threshold), codec, seed)


def protocol_batches(alice, bob, num_epochs=1, batch_size=64):
    """Train; yield (rows, p before the step, the gradient alice received, true labels)."""
    for epoch in range(num_epochs):
        for rows in split.batches(len(bob.y), batch_size, np.random.default_rng(epoch)):
            p = split.predict(alice, bob, rows)
            reply = bob.step(rows, alice.forward(rows))
            yield rows, p, reply.decode(np.float64), bob.labels(rows)
            alice.backward(reply)


# ---------------------------------------------------------------------------
# exercise 1: the residual column
# ---------------------------------------------------------------------------
def test_the_last_column_times_the_batch_size_is_the_residual():
    alice, bob = parties(label_threshold=3)
    count = 0

    for _, p, g, y in protocol_batches(alice, bob):
        np.testing.assert_allclose(nb06.residuals(g), p - y, rtol=0, atol=1e-12)
        assert np.array_equal(nb06.residual_labels(g), y)
        count += 1

    assert count == 29


def test_residual_labels_are_exact_under_norm_equalisation_not_under_noise():
    # Arrange
    rng = np.random.default_rng(0)
    exact, noisy_auc = [], []
    alice, bob = parties(label_threshold=4, codec=NormEqualize())
    noisy_alice, noisy_bob = parties(label_threshold=4, codec=GaussianNoise(1.0, rng))
    # Act
    for _, _, g, y in protocol_batches(alice, bob):
        exact.append(np.array_equal(nb06.residual_labels(g), y))
    for _, _, g, y in protocol_batches(noisy_alice, noisy_bob):
        noisy_auc.append(leak_auc(y, -nb06.residuals(g)))
    # Assert
    assert all(exact)
    assert 0.5 < np.nanmean(noisy_auc) < 0.9


def test_residuals_on_a_literal_gradient():
    g = np.array([[0.3, -0.25], [1.0, 0.125], [0.0, 0.0], [2.0, -0.125]])

    np.testing.assert_allclose(nb06.residuals(g), [-1.0, 0.5, 0.0, -0.5])
    assert nb06.residual_labels(g).tolist() == [1, 0, 0, 1]


# ---------------------------------------------------------------------------
# exercise 2: Li et al.'s max_norm
# ---------------------------------------------------------------------------
def test_max_norm_gives_every_row_the_largest_norm_on_average():
    # Arrange: norms 1, 2 and 4, one zero row
    g = np.array([[1.0, 0.0], [0.0, 2.0], [4.0, 0.0], [0.0, 0.0]])
    codec = nb06.MaxNormNoise(np.random.default_rng(0))
    # Act
    draws = np.stack([codec.perturb(g) for _ in range(20_000)])       # (draws, B, D)
    # Assert: E|g~_i|^2 = 16; along g_i; the largest row and the zero row unchanged
    mean_sq = np.square(draws).sum(axis=2).mean(axis=0)
    np.testing.assert_allclose(mean_sq[:3], 16.0, rtol=0.03)
    assert np.all(draws[:, 0, 1] == 0) and np.all(draws[:, 1, 0] == 0)
    assert np.all(draws[:, 2] == g[2]) and not draws[:, 3].any()
    np.testing.assert_allclose(nb06.MaxNormNoise.sigmas(g), [np.sqrt(15), np.sqrt(3), 0, 0])


def test_max_norm_flips_the_small_rows_signs_about_half_the_time(rng):
    g = np.array([[1e-3, 0.0], [1.0, 0.0]])
    codec = nb06.MaxNormNoise(rng)

    flipped = np.mean([codec.perturb(g)[0, 0] < 0 for _ in range(4000)])

    assert 0.47 < flipped < 0.53     # P(1 + 1000 z < 0) = P(z < -0.001)


def test_max_norm_weakens_both_attacks_on_imbalanced_gradients(rng):
    # Arrange
    codec = nb06.MaxNormNoise(np.random.default_rng(1))
    plain, defended = [], []
    # Act
    for _ in range(100):
        g, y = imbalanced_gradients(rng)
        plain.append(batch_leak_aucs(g, y, rng))
        defended.append(batch_leak_aucs(codec.decode(codec.encode(g), g.dtype), y, rng))
    # Assert
    for attack in ("norm", "direction"):
        before = np.mean([a[attack] for a in plain])
        after = np.mean([a[attack] for a in defended])
        assert before > 0.95 and after < before - 0.15


def test_max_norm_bytes_and_errors(rng):
    g, _ = imbalanced_gradients(rng, batch=8, width=5)

    _, size = nb06.MaxNormNoise(rng, inner="float16").round_trip(g)

    assert size == 2 * g.size
    with pytest.raises(ValueError):
        nb06.MaxNormNoise(None)
    with pytest.raises(ValueError):
        nb06.MaxNormNoise(rng).encode(np.ones(3))


# ---------------------------------------------------------------------------
# exercise 3: no known label
# ---------------------------------------------------------------------------
def test_unsupervised_scores_on_a_literal_batch():
    # one positive (minority) against three negatives along the same line
    g = np.array([[-3.0, -3.0], [1.0, 1.0], [0.5, 0.5], [1.0, 1.2]])

    scores = nb06.unsupervised_scores(g)

    assert np.argmax(scores) == 0 and leak_auc([1, 0, 0, 0], scores) == 1.0
    assert not nb06.unsupervised_scores(np.zeros((3, 2))).any()


def test_unsupervised_scores_need_no_label_when_positives_are_the_minority(rng):
    aucs = []
    for _ in range(20):
        g, y = imbalanced_gradients(rng)
        aucs.append(leak_auc(y, nb06.unsupervised_scores(g)))

    assert np.mean(aucs) > 0.95


def test_unsupervised_scores_through_the_protocol_and_the_minority_assumption():
    # Arrange: rating == 5 (positives ~21%) and rating > 3 (positives ~55%, the majority)
    aucs = {}
    for threshold in (4, 3):
        alice, bob = parties(label_threshold=threshold)
        # Act: the second epoch
        batches = list(protocol_batches(alice, bob, num_epochs=2))[29:]
        aucs[threshold] = np.nanmean([leak_auc(y, nb06.unsupervised_scores(g))
                                      for _, _, g, y in batches])
    # Assert: when positives are the majority the minority side is mostly the negatives
    # (reversed, AUC near 0), except in the batches where positives happen to be fewer
    assert aucs[4] > 0.95
    assert aucs[3] < 0.25


# ---------------------------------------------------------------------------
# real data: MovieLens-100K, SecretFlow's sizes, the first 25,600 ratings
# ---------------------------------------------------------------------------


@needs_ml100k
def test_real_movielens_residual_column_and_max_norm():
    # Arrange
    movielens = load_movielens("ml-100k", ML100K_ROOT)
    alice_df, bob_df = vertical_split(movielens, label_threshold=4)
    user = alice_features(alice_df)
    item, y = bob_features(bob_df, movielens.genre_names)
    results = {}
    for name, codec in (("none", None), ("max_norm", nb06.MaxNormNoise(1))):
        rng = np.random.default_rng(0)
        alice = split.Alice(user.X, DeepFMBase(user.cardinalities, user.slots, rng=rng))
        bob = split.Bob(item.X, y, DeepFMBase(item.cardinalities, item.slots, rng=rng),
                        DeepFMFuse(64, rng=rng), codec=codec)
        exact, norm_auc = [], []
        # Act: 100 batches of 256
        for rows in split.batches(np.arange(25_600), 256):
            reply = bob.step(rows, alice.forward(rows))
            g, labels = reply.decode(np.float32), bob.labels(rows)
            exact.append(np.mean(nb06.residual_labels(g) == labels))
            norm_auc.append(leak_auc(labels, norm_scores(g)))
            alice.backward(reply)
        results[name] = (float(np.mean(exact)), float(np.mean(norm_auc)))
    # Assert: every label read from one column, float32 and all
    assert results["none"][0] == 1.0
    assert results["none"][1] > 0.9 and results["max_norm"][1] < results["none"][1] - 0.1


# ---------------------------------------------------------------------------
# the lesson's short exercises, against the package's scores
# ---------------------------------------------------------------------------
def test_my_scores_agree_with_the_package(rng):
    g, _ = imbalanced_gradients(rng, batch=32, width=7)
    g[3] = 0

    np.testing.assert_allclose(nb06.my_norm_scores(g), norm_scores(g))
    np.testing.assert_allclose(nb06.my_direction_scores(g, g[0]),
                               direction_scores(g, g[0]), atol=1e-12)
