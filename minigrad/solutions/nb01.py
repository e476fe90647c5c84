"""Reference solutions to the exercises of notebook 01 (federated averaging for spam).

1. ``sparse_update`` + ``apply_sparse_updates`` (+ ``sparse_num_bytes``): a client ships
   only the rows it changed; the server rebuilds exactly the example-weighted average.
2. ``cast_update``: clients upload in half precision, the server keeps its own dtype.
3. ``local_epochs_update`` + ``fedavg_curve``: more local work per round.
4. ``validation_curves`` + ``search_recipes`` (candidates built by ``spam.recipe_setup``,
   also exported here as ``recipe_setup``): the section-7 candidates
   (and a larger grid, ``LARGER_GRID``) run with several seeds on ``holdout_like_test``,
   to see whether a winner's margin is larger than the spread between seeds.
"""

import numpy as np

from ..federated import run_round
from ..privacy.attacks import changed_rows
from ..recipes import spam

__all__ = ["sparse_update", "apply_sparse_updates", "sparse_num_bytes", "cast_update",
           "local_epochs_update", "fedavg_curve", "recipe_setup", "validation_curves",
           "search_recipes", "LARGER_GRID", "HAM_WEIGHT_GRID"]


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

    ``round_kw`` goes to ``run_round`` (``sampler=UniformSample(k), rng=...``, ``aggregator``).
    """
    scores = []
    for r in range(num_rounds):
        server, _ = run_round(server, clients, update_fn, round_num=r + 1, **round_kw)
        scores.append(evaluate(server))
    return scores


# ---------------------------------------------------------------------------
# 4. seeds and the choice of recipe (the candidates: ``spam.recipe_setup``)
# ---------------------------------------------------------------------------
recipe_setup = spam.recipe_setup  # in the package: notebook 01 builds its candidates with it


def validation_curves(setup, fit_data, val_data, num_epochs, seeds=(0, 1, 2), by_class=False):
    """Validation accuracy after each epoch, one run per seed: (len(seeds), num_epochs).

    fit_data = (X, y, rows) as ``setup`` takes them; val_data = (X, y). With
    ``by_class``: {'accuracy': that array, 'ham_flagged': ham emails called spam,
    'spam_missed': spam emails called ham}, each (len(seeds), num_epochs).
    """
    X_val, y_val = val_data
    is_ham = np.asarray(y_val).reshape(len(y_val), -1)[:, 0] < 0.5
    curves = {key: np.zeros((len(seeds), num_epochs))
              for key in ("accuracy", "ham_flagged", "spam_missed")}
    for i, seed in enumerate(seeds):
        train_one_epoch, score = setup(*fit_data, np.random.default_rng(seed))
        for epoch in range(num_epochs):
            train_one_epoch()
            curves["accuracy"][i, epoch] = score(X_val, y_val)
            if by_class:
                for key, mask in (("ham_flagged", is_ham), ("spam_missed", ~is_ham)):
                    wrong = (1.0 - score(X_val[mask], y_val[mask])) * mask.sum()
                    curves[key][i, epoch] = round(wrong)
    return curves if by_class else curves["accuracy"]


def _linear(alpha, batch_size=100, **kw):
    return ("linear", dict(alpha=alpha, batch_size=batch_size, **kw))


def _mlp(dim, hidden, batch_size=100, min_count=2):
    return ("mlp", dict(alpha=0.003, dim=dim, hidden=hidden, batch_size=batch_size,
                        min_count=min_count))


LARGER_GRID = {
    # name: (kind, keyword arguments of recipe_setup); the notebook's four candidates first
    "book, MSE, SGD 0.01, in order, batch 500": ("book", dict(alpha=0.01, loss="book_mse",
                                                              batch_size=500)),
    "book, BCE, SGD 2, in order, batch 500": ("book", dict(alpha=2.0, batch_size=500)),
    "linear, Adam 0.01, batch 100": _linear(0.01),
    "MLP 8/32, Adam 0.003, batch 100": _mlp(8, 32),
    # the linear model: optimiser, step size, batch size
    "linear, SGD 0.5, batch 100": _linear(0.5, optimizer="sgd"),
    "linear, SGD 2, batch 100": _linear(2.0, optimizer="sgd"),
    "linear, Adam 0.003, batch 100": _linear(0.003),
    "linear, Adam 0.03, batch 100": _linear(0.03),
    "linear, Adam 0.01, batch 500": _linear(0.01, batch_size=500),
    # dividing the sum by sqrt(n) or by n (the mean)
    "linear / sqrt(n), Adam 0.01, batch 100": _linear(0.01, power=0.5),
    "linear / sqrt(n), Adam 0.003, batch 100": _linear(0.003, power=0.5),
    "linear / sqrt(n), Adam 0.03, batch 100": _linear(0.03, power=0.5),
    "linear / sqrt(n), Adam 0.01, batch 500": _linear(0.01, batch_size=500, power=0.5),
    "linear / sqrt(n), Adam 0.01, batch 100, min count 2": _linear(0.01, power=0.5,
                                                                   min_count=2),
    "linear / sqrt(n), SGD 3, batch 100": _linear(3.0, optimizer="sgd", power=0.5),
    "linear / sqrt(n), SGD 20, batch 100": _linear(20.0, optimizer="sgd", power=0.5),
    "linear / n (mean), Adam 0.01, batch 100": _linear(0.01, power=1),
    # the MLP: width, batch size, vocabulary
    "MLP 16/32, Adam 0.003, batch 100": _mlp(16, 32),
    "MLP 16/32, Adam 0.003, batch 500": _mlp(16, 32, batch_size=500),
    "MLP 32/64, Adam 0.003, batch 100": _mlp(32, 64),
    "MLP 16/32, Adam 0.003, batch 100, min count 5": _mlp(16, 32, min_count=5),
}
"""The recipes of notebook 01's section 7.7 (MLPs keep the words of >= 2 training emails
unless the name says otherwise; the linear models keep every word)."""

HAM_WEIGHT_GRID = {
    f"MLP 8/32, ham weight {w:g}": ("mlp", dict(alpha=0.003, dim=8, hidden=32, batch_size=100,
                                                min_count=2, ham_weight=w))
    for w in (1.0, 2.0, 3.0, 4.0, 8.0)
}
"""Notebook 01's section 7.8: the chosen MLP recipe with ham rows weighted 1 to 8 times a
spam row in the loss."""


def search_recipes(data, corpus, grid=None, num_epochs=10, seeds=(0, 1, 2),
                   per_class=spam.BOOK_TEST_PER_CLASS, by_class=False):
    """Every recipe of ``grid`` on ``holdout_like_test``: {name: (len(seeds), num_epochs)}.

    data: a ``SpamData`` (notebook 01's ``improved``); grid: {name: (kind, kwargs)}
    for ``recipe_setup`` (default ``LARGER_GRID``); per_class: validation emails per
    class; by_class: also count each class's errors (see ``validation_curves``). Only
    validation emails are scored; the test set is never touched.
    """
    grid = LARGER_GRID if grid is None else grid
    fit, val = spam.holdout_like_test(data, corpus, per_class=per_class)
    fit_data = (data.X_train[fit], data.y_train[fit], data.train_rows[fit])
    val_data = (data.X_train[val], data.y_train[val])
    return {name: validation_curves(recipe_setup(kind, len(data.vocab), **kw), fit_data,
                                    val_data, num_epochs, seeds, by_class)
            for name, (kind, kw) in grid.items()}
