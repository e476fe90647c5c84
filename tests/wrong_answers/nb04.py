"""Notebook 04's exercises: one plausible wrong answer each, and right answers written otherwise."""

WRONG = {
    # ell summed with the wrong sign: +1/2 sum |v_f|^2 counts each field with itself
    "try_fm_shares": '''\
import numpy as np


def my_fm_share(v):
    s = v.sum(axis=1)
    ell = 0.5 * (v ** 2).sum(axis=(1, 2))
    return s, ell


def my_fm_from_shares(shares):
    s = sum(share[0] for share in shares)
    ell = sum(share[1] for share in shares)
    return 0.5 * (s ** 2).sum(axis=1) + ell
''',
    # the validation rows taken from the earliest of the remaining rows, not the latest
    "time_split_rows": '''\
import numpy as np


def time_split_rows(timestamps, test_fraction=0.2, val_fraction=0.1):
    timestamps = np.asarray(timestamps)
    if timestamps.ndim != 1:
        raise ValueError("timestamps must be 1-D")
    if not (0 <= test_fraction < 1 and 0 <= val_fraction < 1):
        raise ValueError("fractions must lie in [0, 1)")
    order = np.argsort(timestamps, kind="stable")
    n_test = int(round(len(order) * test_fraction))
    rest, test = order[:len(order) - n_test], order[len(order) - n_test:]
    n_val = int(round(len(rest) * val_fraction))
    val, train = rest[:n_val], rest[n_val:]
    return {"train": np.sort(train), "val": np.sort(val), "test": np.sort(test)}
''',
    # the share of distinct unseen ids, not of rows
    "unseen_share": '''\
import numpy as np


def unseen_share(ids, train_rows, rows):
    ids = np.asarray(ids)
    if len(rows) == 0:
        return float("nan")
    wanted = np.unique(ids[np.asarray(rows)])
    return float(np.mean(~np.isin(wanted, ids[np.asarray(train_rows)])))
''',
    # one column per field: a bag's extra slots shift every later field
    "split_fields": '''\
from minigrad.recipes import deepfm


def split_fields(features, fields):
    names = list(features.names)
    picks = [names.index(f) if isinstance(f, str) else int(f) for f in fields]
    return deepfm.PartyFeatures(
        features.X[:, picks],
        tuple(features.cardinalities[i] for i in picks),
        tuple(features.slots[i] for i in picks),
        tuple(names[i] for i in picks),
        {names[i]: features.vocabularies[names[i]] for i in picks
         if names[i] in features.vocabularies})
''',
    # only the first feature party learns: the others' gradients are dropped
    "train_step_many": '''\
def train_step_many(parties, bob, rows, channel=None):
    messages = [party.forward(rows, channel) for party in parties]
    grads = bob.step(rows, messages, channel)
    parties[0].backward(grads[0])
    return bob.last_loss
''',
}

OTHER_RIGHT = {
    # np.einsum for the sums, and NumPy sums over the list of shares
    "try_fm_shares": '''\
import numpy as np


def my_fm_share(v):
    v = np.asarray(v, dtype=float)
    s = np.einsum("bfk->bk", v)
    ell = -0.5 * np.einsum("bfk,bfk->b", v, v)
    return s, ell


def my_fm_from_shares(shares):
    s = np.sum([np.asarray(a) for a, _ in shares], axis=0)
    ell = np.sum([np.asarray(b) for _, b in shares], axis=0)
    return 0.5 * np.einsum("bk,bk->b", s, s) + ell
''',
    # a lexsort on (time, position), sizes by floor(x + 0.5), errors worded otherwise
    "time_split_rows": '''\
import numpy as np


def time_split_rows(timestamps, test_fraction=0.2, val_fraction=0.1):
    t = np.asarray(timestamps)
    if t.ndim != 1:
        raise ValueError("expected one timestamp per row")
    if not 0 <= test_fraction < 1 or not 0 <= val_fraction < 1:
        raise ValueError("a fraction is out of range")
    n = len(t)
    order = np.lexsort((np.arange(n), t))
    n_test = int(np.floor(n * test_fraction + 0.5))
    n_val = int(np.floor((n - n_test) * val_fraction + 0.5))
    cut_val, cut_test = n - n_test - n_val, n - n_test
    return {"train": np.sort(order[:cut_val]), "val": np.sort(order[cut_val:cut_test]),
            "test": np.sort(order[cut_test:])}
''',
    # sets, in plain Python
    "unseen_share": '''\
import math


def unseen_share(ids, train_rows, rows):
    rows = list(rows)
    if not rows:
        return math.nan
    seen = {ids[r] for r in train_rows}
    return sum(ids[r] not in seen for r in rows) / len(rows)
''',
    # the columns from a cumulative sum of the slots, with NumPy
    "split_fields": '''\
import numpy as np

from minigrad.recipes import deepfm


def split_fields(features, fields):
    names = list(features.names)
    picks = [names.index(f) if isinstance(f, str) else int(f) for f in fields]
    starts = np.concatenate([[0], np.cumsum(features.slots)[:-1]])
    columns = np.concatenate([np.arange(starts[i], starts[i] + features.slots[i])
                              for i in picks])
    vocab = {names[i]: features.vocabularies[names[i]] for i in picks
             if names[i] in features.vocabularies}
    return deepfm.PartyFeatures(features.X[:, columns],
                                tuple(features.cardinalities[i] for i in picks),
                                tuple(features.slots[i] for i in picks),
                                tuple(names[i] for i in picks), vocab)
''',
    # the replies matched to the parties by their receiver's name
    "train_step_many": '''\
def train_step_many(parties, bob, rows, channel=None):
    messages = [party.forward(rows, channel) for party in parties]
    replies = {m.receiver: m for m in bob.step(rows, messages, channel)}
    for party in parties:
        party.backward(replies[party.name])
    return bob.last_loss
''',
}
