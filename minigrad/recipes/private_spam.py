"""Notebook 05's spam pipeline: IID clients of distinct emails, rounds with frozen rows,
Paillier upload sizes, and the row attack's scores.

    clients = iid_clients(X, y, 1000, rng, rows=unique_training_rows(data))
    round_fn = lambda params, history: run_round(params, clients, update, rng=rng,
                                                 aggregator=aggregator, history=history)
    params, history, curve = train_rounds(round_fn, server, 30, frozen={"weight": [0]})
    scores = attack_scores(noisy_delta, true_rows)
"""

import numpy as np

from ..datasets.partitions import iid_partition
from ..federated.round import History
from . import spam

__all__ = [
    "unique_training_rows",
    "iid_clients",
    "local_trainer",
    "train_rounds",
    "paillier_upload_size",
    "ranked_rows",
    "attack_scores",
]


# ---------------------------------------------------------------------------
# clients and their local work
# ---------------------------------------------------------------------------
def unique_training_rows(data):
    """Positions into ``data.X_train`` of each distinct email, first occurrence, sorted.

    The book's ``interleave`` cycles the shorter class, so some emails fill two
    training rows; two copies of one email in two clients would make one person's
    email count for two users. -> int64 (num_distinct_emails,).
    """
    _, first = np.unique(np.asarray(data.train_rows), return_index=True)
    return np.sort(first).astype(np.int64)


def iid_clients(X, y, num_clients, rng, rows=None):
    """``num_clients`` IID clients over ``rows`` (default: every row): [(X_k, y_k), ...].

    X (N, max_len) ids, y (N, 1); rows: int positions into X (e.g.
    ``unique_training_rows``) shuffled with ``rng`` and cut into near-equal parts.
    """
    rows = np.arange(len(X)) if rows is None else np.asarray(rows)
    parts = iid_partition(len(rows), num_clients, rng)
    return [(X[rows[p]], y[rows[p]]) for p in parts]


def local_trainer(loss="bce", alpha=1.0, batch_size=None):
    """A ``train_fn(model, (X, y)) -> num_examples`` for ``client_update``: one epoch of
    ``spam.train_epoch`` with ``loss`` and SGD ``alpha``; ``batch_size=None`` trains on
    all the client's rows at once (one full-batch step), and no row is ever skipped."""
    if batch_size is not None and (not isinstance(batch_size, int) or batch_size < 1):
        raise ValueError(f"local_trainer: batch_size={batch_size!r} must be None (full "
                         f"batch) or an int >= 1")

    def train_fn(model, data):
        X, y = data
        size = len(X) if batch_size is None else batch_size
        return spam.train_epoch(model, X, y, batch_size=size, alpha=alpha, loss=loss,
                                drop_last=False)

    return train_fn


def train_rounds(round_fn, params, num_rounds, *, evaluate=None, frozen=None):
    """``num_rounds`` rounds of ``round_fn``; returns (params, history, curve).

    round_fn(params, history) -> (new_params, record): one federated round that
    appends its record to ``history`` (e.g. ``run_round(params, clients, update,
    aggregator=dp.DPFedAvg(...), rng=rng, history=history)``). evaluate(params) ->
    float is called after every round (curve: one value per round; empty without
    ``evaluate``).

    frozen: {name: row indices} of rows that are constants of the model, not
    parameters (e.g. an embedding's padding row, which the forward pass still reads).
    After every round they are set back to their starting values. That is
    post-processing of public constants: it costs DP-FedAvg no privacy, and it keeps
    the noise a round adds to those rows from acting as a hidden bias.
    """
    if not isinstance(num_rounds, int) or num_rounds < 0:
        raise ValueError(f"train_rounds: num_rounds={num_rounds!r} must be an int >= 0")
    frozen = {} if frozen is None else frozen
    for name in frozen:
        if name not in params:
            raise KeyError(f"train_rounds: frozen names {name!r}, not a parameter "
                           f"(have {sorted(params)})")
    keep = {name: (np.asarray(rows), np.array(params[name][np.asarray(rows)], copy=True))
            for name, rows in frozen.items()}
    history, curve = History(), []
    for _ in range(num_rounds):
        params, _ = round_fn(params, history)
        for name, (rows, values) in keep.items():
            params[name] = np.array(params[name], copy=True)
            params[name][rows] = values
        if evaluate is not None:
            curve.append(float(evaluate(params)))
    return params, history, curve


# ---------------------------------------------------------------------------
# Paillier: encrypted FedAvg
# ---------------------------------------------------------------------------
def paillier_upload_size(num_values, public_key, encoding):
    """(ciphertexts, bytes) to encrypt ``num_values`` numbers under ``public_key`` with
    ``encoding`` (``encoding.slots(public_key)`` values per ciphertext)."""
    if not isinstance(num_values, (int, np.integer)) or num_values < 0:
        raise ValueError(f"paillier_upload_size: num_values={num_values!r} must be an int >= 0")
    encoding.check(public_key)
    count = -(-int(num_values) // encoding.slots(public_key))
    return count, count * public_key.ciphertext_bytes


# ---------------------------------------------------------------------------
# the row-diff attack, scored
# ---------------------------------------------------------------------------
def ranked_rows(delta, name="weight"):
    """Rows of ``delta[name]`` (rows, ...) from the largest |change| (over a row's entries)
    to the smallest; ties keep row order. -> int64 (rows,)."""
    d = np.abs(np.asarray(delta[name], dtype=np.float64))
    if d.ndim == 0:
        raise ValueError(f"ranked_rows: {name!r} is a scalar; it has no rows")
    return np.argsort(-d.reshape(len(d), -1).max(axis=1), kind="stable").astype(np.int64)


def attack_scores(delta, true_rows, name="weight", ignore=()):
    """How well two row attacks find ``true_rows`` in what the attacker sees, ``delta``.

    delta: {name: (rows, ...)}, the update as the attacker sees it (plain, clipped,
    noised, summed with others...); true_rows: the rows the target's data moved;
    ignore: rows never scored (e.g. padding). Returns a dict:

    * ``changed``, ``changed_precision``, ``changed_recall``: notebook 02's attack,
      every row with delta != 0, scored against ``true_rows``;
    * ``top_precision``: the ``m = len(true_rows)`` rows with the largest |delta|
      (a noise-aware attacker who knows how many words to look for); with m
      guesses for m true rows, precision = recall.

    An empty guess has precision 1 (it claims nothing false); empty ``true_rows``
    have recall 1.
    """
    d = np.asarray(delta[name], dtype=np.float64)
    d = d.reshape(len(d), -1)
    keep = np.ones(len(d), dtype=bool)
    keep[np.asarray(list(ignore), dtype=np.int64)] = False
    truth = np.zeros(len(d), dtype=bool)
    truth[np.asarray(true_rows, dtype=np.int64)] = True
    truth &= keep
    m = int(truth.sum())
    changed = (d != 0).any(axis=1) & keep
    hits = int((changed & truth).sum())
    order = ranked_rows({name: d}, name)
    top_hits = int(truth[order[keep[order]][:m]].sum())
    num_changed = int(changed.sum())
    return {
        "changed": num_changed,
        "changed_precision": hits / num_changed if num_changed else 1.0,
        "changed_recall": hits / m if m else 1.0,
        "top_precision": top_hits / m if m else 1.0,
    }
