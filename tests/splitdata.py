"""Small split-DeepFM data and parties shared by several test files (imported like
``realdata``): one definition, so the tests of the package and of the solutions agree."""

import numpy as np

from minigrad.datasets import synthetic_movielens, vertical_split
from minigrad.deepfm import DeepFMBase, DeepFMFuse
from minigrad.federated import split
from minigrad.recipes.deepfm import alice_features, bob_features

SMALL = dict(dim=3, units=(8, 4), fuse_units=(8, 6))   # fast, every path still present


def small_movielens():
    """A 30-user, 40-movie synthetic MovieLens (seed 0)."""
    return synthetic_movielens(num_users=30, num_items=40, seed=0)


def imbalanced_gradients(rng, batch=128, width=16, positive_rate=0.1):
    """A cut gradient as bob computes it for a model that predicts about the base rate.

    g_i = (p_i - y_i) / B * J_i with J_i = dlogit_i/dh_i, a direction shared by all
    examples plus a per-example spread. -> (g (B, D) float32, y (B,) int).
    """
    y = (rng.random(batch) < positive_rate).astype(np.int64)
    y[:2] = (1, 0)                                          # both classes in every batch
    p = np.clip(positive_rate + 0.05 * rng.standard_normal(batch), 0.01, 0.99)
    J = np.linspace(1.0, 2.0, width) + 0.3 * rng.standard_normal((batch, width))
    return (((p - y) / batch)[:, None] * J).astype(np.float32), y


def leakage_features(label_threshold):
    """Synthetic ml-100k-shaped parties' features, bob's label rating > label_threshold
    (4: 'rating == 5', about 21 % positive). -> (user, item, y)."""
    movielens = synthetic_movielens(num_users=60, num_items=80, seed=3)
    alice_df, bob_df = vertical_split(movielens, label_threshold=label_threshold)
    user = alice_features(alice_df)
    item, y = bob_features(bob_df, movielens.genre_names)
    return user, item, y


def leakage_parties(features, codec=None, seed=0):
    """A small float64 split DeepFM (alice, bob) on ``features``; bob sends through ``codec``."""
    user, item, y = features
    rng = np.random.default_rng(seed)
    kw = dict(dim=4, units=(16, 8), rng=rng, dtype=np.float64)
    alice = split.Alice(user.X, DeepFMBase(user.cardinalities, user.slots, **kw), lr=3e-3)
    bob = split.Bob(item.X, y, DeepFMBase(item.cardinalities, item.slots, **kw),
                    DeepFMFuse(16, units=(16,), rng=rng, dtype=np.float64), lr=3e-3,
                    codec=codec)
    return alice, bob
