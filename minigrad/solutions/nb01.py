"""Reference solutions to the exercises of notebook 01 (federated averaging for spam).

1. ``sparse_update`` + ``apply_sparse_updates`` (+ ``sparse_num_bytes``): a client ships
   only the rows it changed; the server rebuilds exactly the example-weighted average.
2. ``cast_update``: clients upload in half precision, the server keeps its own dtype.
3. ``local_epochs_update`` + ``fedavg_curve``: more local work per round.
"""

import numpy as np

from ..federated import run_round
from ..privacy.attacks import changed_rows
from ..recipes import spam

__all__ = ["sparse_update", "apply_sparse_updates", "sparse_num_bytes", "cast_update",
           "local_epochs_update", "fedavg_curve"]


def sparse_update(sent, received):
    """Only the rows that changed: {name: (rows, values)} for every parameter.

    sent, received: {name: (num_rows, ...)} -> rows int32 (k,) sorted, values (k, ...)
    in ``received``'s dtype. The row list is exactly the set of words the client's
    emails contain (for the book's model), which is what notebook 02 exploits.
    """
    out = {}
    for name, after in received.items():
        after = np.asarray(after)
        rows = changed_rows(sent, received, name) if after.ndim else np.zeros(0, np.int64)
        index_dtype = np.int32 if len(after) < 2**31 else np.int64
        out[name] = (rows.astype(index_dtype), after[rows].copy())
    return out


def apply_sparse_updates(server, updates, weighted=True):
    """Average sparse client updates into new server parameters.

    updates: [(sparse_update(...), num_examples), ...] all computed from ``server``.
    Equals ``fedavg([(received, n), ...], weighted)`` because a row a client did not
    change holds the server's value: average = server + sum_k w_k (theta_k - server),
    and theta_k - server is zero off the client's rows. Keeps the server's dtype.
    """
    updates = list(updates)
    if not updates:
        raise ValueError("apply_sparse_updates: no client updates")
    counts = np.array([n for _, n in updates], dtype=np.float64)
    if weighted:
        if counts.sum() <= 0:
            raise ValueError("apply_sparse_updates: the clients reported 0 examples in total")
        weights = counts / counts.sum()
    else:
        weights = np.full(len(updates), 1.0 / len(updates))
    out = {}
    for name, value in server.items():
        base = np.asarray(value)
        acc = base.astype(np.float64)
        for (sparse, _), w in zip(updates, weights, strict=True):
            rows, values = sparse[name]
            acc[rows] += w * (values.astype(np.float64) - base[rows])
        out[name] = acc.astype(base.dtype)
    return out


def sparse_num_bytes(sparse):
    """Bytes of a sparse update on the wire: row indices plus their values."""
    return int(sum(rows.nbytes + values.nbytes for rows, values in sparse.values()))


def cast_update(update_fn, dtype=np.float16):
    """Wrap an ``update_fn(params, data) -> (params, n)`` so the client uploads in ``dtype``.

    The server (``run_round``) casts the average back to its own dtype, and counts
    the uploaded bytes from what the client sent, so float16 halves ``bytes_up``.
    """
    def wrapped(params, data):
        sent, n = update_fn(params, data)
        return {k: np.asarray(v).astype(dtype) for k, v in sent.items()}, n
    return wrapped


def local_epochs_update(model, num_epochs, **train_kw):
    """An update function training ``num_epochs`` epochs of ``spam.train_epoch`` per round.

    data = (X, y). Reports the examples of *one* epoch, so a client's weight in
    FedAvg is its data size, however long it trains. ``train_kw`` goes to
    ``train_epoch`` (e.g. ``loss="bce", alpha=1.0, batch_size=100, drop_last=False``).
    """
    if num_epochs < 1:
        raise ValueError(f"local_epochs_update: num_epochs must be >= 1, got {num_epochs}")

    def update(params, data):
        model.load_state_dict(params)
        for _ in range(num_epochs):
            n = spam.train_epoch(model, data[0], data[1], **train_kw)
        return model.state_dict(), int(n)
    return update


def fedavg_curve(server, clients, update_fn, num_rounds, evaluate, **round_kw):
    """Run ``num_rounds`` of ``run_round`` and return ``[evaluate(params) per round]``.

    ``round_kw`` goes to ``run_round`` (``clients_per_round=..., rng=...``, ``weighted``).
    """
    scores = []
    for r in range(num_rounds):
        server, _ = run_round(server, clients, update_fn, round_num=r + 1, **round_kw)
        scores.append(evaluate(server))
    return scores
