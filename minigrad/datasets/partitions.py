"""Who holds which examples: client partitions for federated and split learning.

Pure functions of arrays or DataFrames and an explicit ``np.random.Generator``. They
return integer *row positions* (for ``arr[idx]`` / ``df.iloc[idx]``), never copies of
the data, so one corpus can be partitioned many ways.

Enron-Spam (FedAvg): ``iid_partition``, ``partition_by_owner``,
``dirichlet_label_partition``. MovieLens (Federated Reconstruction): ``split_users``,
``client_ratings``, ``reconstruction_split``, ``reconstruction_split_all``. MovieLens
(split learning): ``vertical_split``, ``train_test_split_rows``.
"""

import re

import numpy as np
import pandas as pd

from ..rng import check_generator

__all__ = [
    "iid_partition",
    "partition_by_owner",
    "dirichlet_label_partition",
    "split_users",
    "client_ratings",
    "reconstruction_split",
    "reconstruction_split_all",
    "vertical_split",
    "train_test_split_rows",
    "ALICE_COLUMNS",
    "BOB_COLUMNS",
]


def _check_num_clients(num_clients, n):
    if int(num_clients) != num_clients or num_clients < 1:
        raise ValueError(f"num_clients must be a positive integer, got {num_clients}")
    if num_clients > n:
        raise ValueError(f"cannot give each of {num_clients} clients an example: "
                         f"only {n} examples")
    return int(num_clients)


# ---------------------------------------------------------------------------
# horizontal partitions (FedAvg on Enron-Spam)
# ---------------------------------------------------------------------------
def iid_partition(n, num_clients, rng):
    """Shuffle 0..n-1 and cut it into ``num_clients`` near-equal parts.

    Returns a list of num_clients int64 arrays, each sorted; sizes differ by at most 1
    and every index 0..n-1 is in exactly one part.
    """
    check_generator(rng, "iid_partition")
    num_clients = _check_num_clients(num_clients, n)
    perm = rng.permutation(n)
    return [np.sort(part).astype(np.int64) for part in np.array_split(perm, num_clients)]


def _natural_key(name):
    """'enron10' sorts after 'enron9': digits compare as numbers."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", str(name))]


def partition_by_owner(owners):
    """One client per mailbox: {owner: sorted int64 indices}, keys in natural order.

    owners: (n,) array of owner names (SpamCorpus.owners) -> dict; the arrays partition
    0..n-1. Keys are sorted naturally ('enron2' before 'enron10').
    """
    owners = np.asarray(owners)
    if owners.ndim != 1:
        raise ValueError(f"owners must be 1-D, got shape {owners.shape}")
    names, inverse = np.unique(owners, return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    cuts = np.cumsum(np.bincount(inverse, minlength=len(names)))[:-1]
    groups = dict(zip(names.tolist(), np.split(order.astype(np.int64), cuts), strict=True))
    return {name: groups[name] for name in sorted(groups, key=_natural_key)}


def dirichlet_label_partition(labels, num_clients, alpha, rng, min_size=1, max_tries=100):
    """Label-skewed non-IID split: each class is spread over clients by Dirichlet(alpha).

    For every class k, proportions p_k ~ Dir(alpha * 1_{num_clients}) and the class's
    examples (shuffled) are cut at the cumulative proportions. Small alpha (0.1) gives
    clients dominated by one class; large alpha (100) gives near-IID clients. If some
    client gets fewer than ``min_size`` examples, everything is drawn again, up to
    ``max_tries`` times, then a ValueError says what to change.

    This per-class form is the one most code uses (Yurochkin et al., 2019; Wang et al.,
    2020; Li et al.'s NIID-Bench, 2022); Hsu, Qi & Brown (2019) draw each client's class
    mix from Dir(alpha * prior) instead. Both give the same qualitative skew.

    labels (n,) ints -> list of num_clients sorted int64 arrays partitioning 0..n-1.
    """
    check_generator(rng, "dirichlet_label_partition")
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"labels must be 1-D, got shape {labels.shape}")
    n = len(labels)
    num_clients = _check_num_clients(num_clients, n)
    if not alpha > 0:
        raise ValueError(f"alpha must be > 0, got {alpha}")
    if min_size < 0:
        raise ValueError(f"min_size must be >= 0, got {min_size}")
    if num_clients * min_size > n:
        raise ValueError(f"impossible: {num_clients} clients x min_size={min_size} needs "
                         f"{num_clients * min_size} examples, only {n} given")
    classes = np.unique(labels)
    by_class = [np.flatnonzero(labels == c) for c in classes]
    for _ in range(max_tries):
        owner = np.empty(n, dtype=np.int64)
        for idx in by_class:
            p = rng.dirichlet(np.full(num_clients, float(alpha)))
            cuts = np.floor(np.cumsum(p)[:-1] * len(idx)).astype(np.int64)
            sizes = np.diff(np.r_[0, cuts, len(idx)])
            owner[rng.permutation(idx)] = np.repeat(np.arange(num_clients), sizes)
        counts = np.bincount(owner, minlength=num_clients)
        if counts.min() >= min_size:
            order = np.argsort(owner, kind="stable").astype(np.int64)
            return np.split(order, np.cumsum(counts)[:-1])
    raise ValueError(
        f"could not give every one of {num_clients} clients at least min_size={min_size} "
        f"examples in {max_tries} draws with alpha={alpha} over {len(classes)} classes and "
        f"{n} examples; raise alpha, or lower num_clients or min_size")


# ---------------------------------------------------------------------------
# MovieLens: users as clients (Federated Reconstruction)
# ---------------------------------------------------------------------------
def split_users(users, rng, fractions=(0.8, 0.1, 0.1)):
    """Disjoint train/val/test *users*, so val and test users are unseen in training.

    users: a count (ids 0..users-1) or an array of distinct user ids. The ids are
    shuffled and cut at int(n * 0.8) and int(n * 0.9), as in the TFF Federated
    Reconstruction tutorial. Returns {'train', 'val', 'test'}: sorted int64 id arrays.
    """
    check_generator(rng, "split_users")
    ids = (np.arange(users, dtype=np.int64) if np.ndim(users) == 0
           else np.asarray(users).astype(np.int64, copy=False))
    if ids.ndim != 1:
        raise ValueError(f"users must be a count or a 1-D array of ids, got shape {ids.shape}")
    if len(np.unique(ids)) != len(ids):
        raise ValueError("user ids must be distinct")
    fractions = np.asarray(fractions, dtype=np.float64)
    if fractions.shape != (3,) or (fractions < 0).any() or abs(fractions.sum() - 1) > 1e-9:
        raise ValueError(f"fractions must be three non-negative numbers summing to 1 "
                         f"(train, val, test), got {tuple(fractions.tolist())}")
    n = len(ids)
    shuffled = ids[rng.permutation(n)]
    a = int(n * fractions[0])
    b = int(n * (fractions[0] + fractions[1]) + 1e-9)
    return {"train": np.sort(shuffled[:a]), "val": np.sort(shuffled[a:b]),
            "test": np.sort(shuffled[b:])}


def _user_column(ratings):
    """The user id of each rating row, as an int64 array, from a DataFrame or an array."""
    if isinstance(ratings, pd.DataFrame):
        return ratings["user_id"].to_numpy(dtype=np.int64)
    user = np.asarray(ratings)
    if user.ndim != 1:
        raise ValueError(f"expected a ratings DataFrame or a 1-D user id array, "
                         f"got shape {user.shape}")
    return user.astype(np.int64, copy=False)


def client_ratings(ratings, user_ids=None, max_per_user=None):
    """Each user's rating rows: {user_id: int64 row positions in ascending order}.

    ratings: DataFrame with a 'user_id' column (or the (R,) user id array itself).
    user_ids: which users (default: all that have ratings, ascending); users without
    ratings get an empty array. max_per_user keeps each user's first rows (the TFF
    tutorial keeps 300). One stable argsort over all rows, then one slice per user.
    """
    user = _user_column(ratings)
    order = np.argsort(user, kind="stable").astype(np.int64)
    sorted_user = user[order]
    if user_ids is None:
        user_ids = np.unique(user)
    user_ids = np.asarray(user_ids, dtype=np.int64)
    lo = np.searchsorted(sorted_user, user_ids, side="left")
    hi = np.searchsorted(sorted_user, user_ids, side="right")
    if max_per_user is not None:
        hi = np.minimum(hi, lo + int(max_per_user))
    return {int(u): order[a:b] for u, a, b in zip(user_ids, lo, hi, strict=True)}


def reconstruction_split(row_indices, rng=None):
    """Split one user's rows into a reconstruction half and an evaluation half.

    As TFF's ``build_dataset_split_fn(split_dataset=True)``: even positions (0, 2, ...)
    reconstruct the user's local embedding, odd positions (1, 3, ...) evaluate the model
    after reconstruction, so the reconstruction half gets the extra row when the count
    is odd. With ``rng``, the rows are shuffled first (TFF's tutorial shuffles each
    client's dataset before splitting); without it the split is by the given order.

    row_indices (n,) -> (recon (ceil(n/2),), eval (floor(n/2),)), disjoint, covering.
    """
    rows = np.asarray(row_indices)
    if rows.ndim != 1:
        raise ValueError(f"row_indices must be 1-D, got shape {rows.shape}")
    if rng is not None:
        check_generator(rng, "reconstruction_split")
        rows = rows[rng.permutation(len(rows))]
    return rows[0::2], rows[1::2]


def reconstruction_split_all(ratings):
    """``reconstruction_split`` for every user at once: a boolean mask over rating rows.

    True = reconstruction row (an even position among that user's rows, in row order),
    False = evaluation row. ratings: DataFrame with 'user_id' (or the (R,) user ids)
    -> (R,) bool. Agrees with ``reconstruction_split(client_ratings(r)[u])`` per user.
    """
    user = _user_column(ratings)
    n = len(user)
    order = np.argsort(user, kind="stable")
    sorted_user = user[order]
    is_first = np.r_[True, sorted_user[1:] != sorted_user[:-1]] if n else np.zeros(0, bool)
    first_pos = np.flatnonzero(is_first)
    rank = np.arange(n) - first_pos[np.cumsum(is_first) - 1]     # position within user
    mask = np.empty(n, dtype=bool)
    mask[order] = rank % 2 == 0
    return mask


# ---------------------------------------------------------------------------
# MovieLens: features split between two parties (split learning)
# ---------------------------------------------------------------------------
ALICE_COLUMNS = ["row_id", "user_id", "gender", "age", "occupation"]
"""What alice (the user side) holds after ``vertical_split``."""
BOB_COLUMNS = ["row_id", "item_id", "genres", "label"]
"""What bob (the movie side and label holder) holds after ``vertical_split``."""


def vertical_split(movielens, label_threshold=3):
    """The same rating rows seen by two parties: alice has the user, bob the movie and label.

    alice: row_id, user_id, gender, age, occupation (no item, no rating, no label).
    bob: row_id, item_id, genres (list of str; ``movielens.genre_matrix()[bob.item_id]``
    is its multi-hot), label = int64(rating > label_threshold) (bob is the label holder).
    Both are (R, ·) DataFrames in ratings order; row_id (0..R-1, the rating's position)
    is the shared key, already aligned, standing in for a private set intersection.
    """
    r = movielens.ratings
    row_id = np.arange(len(r), dtype=np.int64)
    user_id = r["user_id"].to_numpy(dtype=np.int64)
    item_id = r["item_id"].to_numpy(dtype=np.int64)
    users = movielens.users.loc[user_id]
    items = movielens.items.loc[item_id]
    alice = pd.DataFrame({"row_id": row_id, "user_id": user_id,
                          "gender": users["gender"].to_numpy(),
                          "age": users["age"].to_numpy(),
                          "occupation": users["occupation"].to_numpy()})
    bob = pd.DataFrame({"row_id": row_id, "item_id": item_id,
                        "genres": items["genres"].to_numpy(),
                        "label": (r["rating"].to_numpy() > label_threshold).astype(np.int64)})
    assert (alice["row_id"].to_numpy() == bob["row_id"].to_numpy()).all()
    return alice, bob


def train_test_split_rows(n, test_fraction, rng):
    """Shuffle 0..n-1 and hold out round(n * test_fraction) rows for testing.

    Returns (train (n - n_test,), test (n_test,)), sorted int64, disjoint and covering.
    """
    check_generator(rng, "train_test_split_rows")
    if not 0.0 <= test_fraction <= 1.0:
        raise ValueError(f"test_fraction must lie in [0, 1], got {test_fraction}")
    n_test = int(round(n * test_fraction))
    perm = rng.permutation(n).astype(np.int64)
    return np.sort(perm[n_test:]), np.sort(perm[:n_test])
