"""Reference solutions to the exercises of notebook 04 (split DeepFM on MovieLens).

1. ``sum_aggregation``: bob adds the parties' deep outputs instead of concatenating
   them; the model is still exactly the centralized one, with a narrower fuse.
2. ``time_split_rows`` + ``prepare_by_time`` + ``unseen_share``: test on the latest
   ratings instead of a random fifth, and count the users and movies training never saw.
3. ``split_fields`` + ``three_parties`` + ``train_epoch_many`` / ``predict_many``: a third
   party, carol, holds alice's age and occupation columns; bob talks to both.
4. ``one_way_topk``: top-k sparsification in one direction at a time (bob's gradients
   only, alice's cut tensors only), to see which direction needs the precision.
"""

from dataclasses import replace

import numpy as np

from .. import metrics
from ..deepfm import Aggregation, DeepFMBase, DeepFMFuse
from ..federated import split
from ..recipes import deepfm

__all__ = ["sum_aggregation", "time_split_rows", "prepare_by_time", "unseen_share",
           "split_fields", "three_parties", "train_step_many", "train_epoch_many",
           "predict_many", "evaluate_many", "one_way_topk"]


# ---------------------------------------------------------------------------
# 1. 'sum' aggregation
# ---------------------------------------------------------------------------
def sum_aggregation(data, num_epochs, seed=0, batch_size=128, check_rows=None, **kw):
    """Train the split model with aggregation='sum'; -> {'history', 'fuse_inputs',
    'max_output_diff', 'max_grad_diff'}.

    The equivalence is checked first, in float64 parties built from the same seed, on
    ``check_rows`` (default the first 128 training rows). ``kw`` goes to make_parties.
    """
    rows = data.train[:128] if check_rows is None else check_rows
    a64, b64 = deepfm.make_parties(data, seed=seed, dtype=np.float64, aggregation="sum", **kw)
    check = deepfm.gradient_equivalence(a64, b64, rows)
    alice, bob = deepfm.make_parties(data, seed=seed, aggregation="sum", **kw)
    history = deepfm.train(deepfm.SplitModel(alice, bob), data, num_epochs, batch_size, seed)
    return {"history": history, "fuse_inputs": bob.fuse.dnn.layers[0].weight.shape[0],
            "max_output_diff": check["max_output_diff"],
            "max_grad_diff": check["max_grad_diff"]}


# ---------------------------------------------------------------------------
# 2. a time-based split
# ---------------------------------------------------------------------------
def time_split_rows(timestamps, test_fraction=0.2, val_fraction=0.1):
    """Rows ordered by time (ties by row position): the latest ``test_fraction`` test, the
    latest ``val_fraction`` of the rest validate, the earliest train.

    timestamps (R,) -> {'train', 'val', 'test'}: sorted int64 row positions; every
    training row is no later than every validation row, and those no later than test.
    """
    timestamps = np.asarray(timestamps)
    if timestamps.ndim != 1:
        raise ValueError(f"timestamps must be 1-D, got shape {timestamps.shape}")
    for name, f in (("test_fraction", test_fraction), ("val_fraction", val_fraction)):
        if not 0.0 <= f < 1.0:
            raise ValueError(f"{name} must lie in [0, 1), got {f}")
    order = np.argsort(timestamps, kind="stable").astype(np.int64)
    n_test = int(round(len(order) * test_fraction))
    rest, test = order[:len(order) - n_test], order[len(order) - n_test:]
    n_val = int(round(len(rest) * val_fraction))
    train, val = rest[:len(rest) - n_val], rest[len(rest) - n_val:]
    return {"train": np.sort(train), "val": np.sort(val), "test": np.sort(test)}


def prepare_by_time(movielens, test_fraction=0.2, val_fraction=0.1):
    """``deepfm.prepare`` with ``time_split_rows`` in place of the random split."""
    data = deepfm.prepare(movielens, test_fraction=0.0, val_fraction=0.0)
    parts = time_split_rows(movielens.ratings["timestamp"].to_numpy(), test_fraction,
                            val_fraction)
    return replace(data, **parts)


def unseen_share(ids, train_rows, rows):
    """Fraction of ``rows`` whose id (ids (R,), e.g. a user id column) no training row has."""
    ids = np.asarray(ids)
    rows = np.asarray(rows)
    if len(rows) == 0:
        return float("nan")
    return float(np.mean(~np.isin(ids[rows], ids[np.asarray(train_rows)])))


# ---------------------------------------------------------------------------
# 3. a third party
# ---------------------------------------------------------------------------
def split_fields(features, fields):
    """The PartyFeatures of some of a party's ``fields`` (names or positions), in order."""
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


def three_parties(data, seed=0, carol_fields=("age", "occupation"), dtype=np.float32,
                  lr=1e-3, dim=16, units=(256, 32), fuse_units=(256, 256, 32)):
    """alice (the user fields carol lacks), carol (``carol_fields``) and bob: -> (alice,
    carol, bob). One np.random.default_rng(seed) draws alice's, carol's, bob's bases,
    then the fuse (its input: the three deep outputs side by side)."""
    user = data.user
    alice_fields = [f for f in user.names if f not in carol_fields]
    mine, hers = split_fields(user, alice_fields), split_fields(user, carol_fields)
    rng = np.random.default_rng(seed)
    bases = [DeepFMBase(p.cardinalities, p.slots, dim=dim, units=units, rng=rng, dtype=dtype)
             for p in (mine, hers, data.item)]
    fuse = DeepFMFuse(Aggregation("concat").output_dim([b.deep_dim for b in bases]),
                      units=fuse_units, rng=rng, dtype=dtype)
    alice = split.Alice(mine.X, bases[0], lr=lr)
    carol = split.Alice(hers.X, bases[1], lr=lr, name="carol")
    bob = split.Bob(data.item.X, data.y, bases[2], fuse, lr=lr)
    return alice, carol, bob


def train_step_many(parties, bob, rows, channel=None):
    """One step with several feature parties: each sends its cut tensor, bob replies to
    each with its gradient; returns bob's loss."""
    messages = [p.forward(rows, channel) for p in parties]
    for party, grad in zip(parties, bob.step(rows, messages, channel), strict=True):
        party.backward(grad)
    return bob.last_loss


def train_epoch_many(parties, bob, rows, batch_size=128, rng=None, channel=None):
    """One pass over ``rows`` in (shuffled, with ``rng``) batches: mean batch loss."""
    losses = [train_step_many(parties, bob, b, channel)
              for b in split.batches(rows, batch_size, rng)]
    return float(np.mean(losses)) if losses else float("nan")


def predict_many(parties, bob, rows, channel=None):
    """Probabilities (len(rows),) from every party's cut tensor, no graph."""
    rows = np.asarray(rows)
    return bob.predict(rows, [p.embed(rows, channel) for p in parties])


def evaluate_many(parties, bob, rows):
    """metrics.binary_metrics of the several-party model on ``rows``."""
    return metrics.binary_metrics(bob.labels(rows), predict_many(parties, bob, rows))


# ---------------------------------------------------------------------------
# 4. top-k in one direction at a time
# ---------------------------------------------------------------------------
def one_way_topk(data, num_epochs, fraction=0.1, seed=0, batch_size=128, lrs=None, **kw):
    """Split runs with top-k (``fraction`` of the entries) on one side only, and none.

    -> {'float32': history, 'top-k gradients': history, 'top-k cut tensors': history}
    (``deepfm.train`` records, scored on the validation rows only). All three start from
    ``make_parties(data, seed, **kw)`` and see the same batches and step sizes ``lrs``.
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"one_way_topk: fraction must lie in (0, 1), got {fraction}")
    topk = f"topk:{fraction:g}"
    variants = {"float32": (None, None), "top-k gradients": (None, topk),
                "top-k cut tensors": (topk, None)}
    return deepfm.compression_runs(data, num_epochs, variants, seed=seed,
                                   batch_size=batch_size, lrs=lrs, parts=("val",), **kw)
