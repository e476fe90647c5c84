"""Federated averaging (McMahan et al. 2017): the weighted mean, as a function and as an aggregator.

    fedavg([(params, num_examples), ...]) -> params     the book's step on whole models
    FedAvg(weighted=True)                               the same mean, plugged into run_round
"""

import numpy as np

from .aggregator import Aggregator
from .params import check_update, delta, num_bytes

__all__ = ["fedavg", "weighted_mean", "example_weights", "FedAvg"]


def example_weights(counts, weighted, who):
    """Client weights that sum to 1: by example count, or equal (``weighted=False``) -> (K,)."""
    counts = list(counts)
    if not counts:
        raise ValueError(f"{who}: no client results to average")
    for i, n in enumerate(counts):  # checked even when unused: a bad count is a bad message
        if (not np.isscalar(n) or isinstance(n, (bool, np.bool_, str, bytes))
                or not np.isreal(n) or not np.isfinite(n) or n < 0):
            raise ValueError(f"{who}: client {i} reported {n!r} examples; expected a finite "
                             f"count >= 0")
    if not weighted:
        return np.full(len(counts), 1.0 / len(counts))
    weights = np.array(counts, dtype=np.float64)
    if weights.sum() <= 0:
        raise ValueError(f"{who}: the clients reported 0 examples in total")
    return weights / weights.sum()


def weighted_mean(arrays, weights):
    """Weighted sum in float64, as a_0 + sum_i w_i (a_i - a_0): K arrays (...) -> (...).

    Elementwise, in client order: every machine gets the same bits (a BLAS dot
    product sums in an order that depends on the CPU and the thread count), and
    an entry on which all clients agree comes back exactly as they sent it.
    """
    first = np.asarray(arrays[0], dtype=np.float64)
    total = np.zeros_like(first)
    for w, a in zip(weights, arrays, strict=True):
        total += w * (np.asarray(a, dtype=np.float64) - first)
    return first + total


def fedavg(results, weighted=True):
    """Average client parameter mappings: [(params, num_examples), ...] -> params.

    ``weighted=True`` weights each client by its number of examples (McMahan et
    al. 2017); ``weighted=False`` is the book's plain mean, which over-counts
    small clients. The result keeps the clients' dtype.
    """
    results = list(results)
    if not results:
        raise ValueError("fedavg: no client results to average")
    for i, result in enumerate(results):
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            raise TypeError(f"fedavg: result {i} must be a (params, num_examples) pair")
    first = results[0][0]
    for i, (params, _) in enumerate(results):  # the first client's dtypes are the result's
        check_update(first, params, f"fedavg: client {i}", same_dtype=True)
    weights = example_weights([n for _, n in results], weighted, "fedavg")
    return {name: weighted_mean([params[name] for params, _ in results], weights)
            .astype(np.asarray(value).dtype, copy=False) for name, value in first.items()}


class FedAvg(Aggregator):
    """FedAvg as McMahan et al. and the book run it: each client sends its trained
    parameters and example count; the server subtracts what it broadcast (exactly, in
    float64) and takes the example-weighted (or, ``weighted=False``, plain) mean of the
    deltas. A client that changed nothing contributes exactly zero."""

    def __init__(self, weighted=True):
        self.weighted = bool(weighted)

    def __repr__(self):
        return f"FedAvg(weighted={self.weighted})"

    def encode(self, update, rng):
        return {k: np.asarray(v) for k, v in update.trained.items()}, int(update.num_examples)

    def message_bytes(self, message):
        return num_bytes(message[0])

    def aggregate(self, messages, template, rng):
        for i, message in enumerate(messages):
            if not isinstance(message, (tuple, list)) or len(message) != 2:
                raise TypeError(f"FedAvg: message {i} must be a (params, num_examples) pair")
            check_update(template, message[0], f"FedAvg: message {i}")
        weights = example_weights([n for _, n in messages], self.weighted, "FedAvg")
        deltas = [delta(template, params, f"FedAvg: message {i}")
                  for i, (params, _) in enumerate(messages)]
        mean = {name: weighted_mean([d[name] for d in deltas], weights) for name in template}
        return mean, {}
