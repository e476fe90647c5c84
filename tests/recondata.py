"""Small FedRecon data sets shared by the reconstruction, lockstep and recipe tests."""

import numpy as np

from minigrad.datasets import split_users, synthetic_movielens
from minigrad.federated import reconstruction as fr

ALL_BIASES = dict(item_bias=True, user_bias=True, global_bias=True)


def uneven_clients(rng, num_items=30, sizes=(1, 2, 5, 9, 14, 23, 40, 61), repeats=False):
    """ClientRatings with very different sizes, incl. a client with one example.

    repeats=False: each client rates an item at most once (as in MovieLens);
    True: items may repeat inside a client (and so inside a batch).
    """
    items = [rng.choice(num_items, size=n, replace=repeats or n > num_items) for n in sizes]
    item = np.concatenate(items).astype(np.int64)
    rating = rng.integers(1, 6, size=len(item)).astype(np.float64)
    return fr.ClientRatings(item, rating, np.r_[0, np.cumsum(sizes)], np.arange(len(sizes)) + 100)


def small_clients(rng, num_items=12, sizes=(3, 5, 8, 12)):
    """Four clients of distinct items each, ratings 1-5."""
    item = np.concatenate([rng.choice(num_items, size=n, replace=False) for n in sizes])
    rating = rng.integers(1, 6, size=len(item)).astype(np.float64)
    return fr.ClientRatings(item.astype(np.int64), rating, np.r_[0, np.cumsum(sizes)],
                            np.arange(len(sizes)))


def max_abs_diff(a, b):
    assert set(a) == set(b)
    return max(float(np.max(np.abs(np.asarray(a[k]) - np.asarray(b[k])))) for k in a)


def planted_movielens():
    """500 users x 400 items, 180 ratings each: (ml, truth, train users, unseen users)."""
    ml, truth = synthetic_movielens(num_users=500, num_items=400, num_ratings=500 * 180,
                                    seed=0, return_truth=True)
    users = split_users(ml.num_users, np.random.default_rng(0), (0.8, 0.2, 0.0))
    train = fr.client_datasets(ml.ratings, users["train"])
    unseen = fr.client_datasets(ml.ratings, users["val"])
    return ml, truth, train, unseen
