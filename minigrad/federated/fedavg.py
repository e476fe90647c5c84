"""Federated averaging: broadcast -> local training -> aggregate -> server update.

Parameters travel as plain ``{name: ndarray}`` mappings. What a client sends is
exactly the mapping its update function returns; ``run_round`` hands nothing
else to the server, and counts the bytes of every mapping that crosses.
"""

from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "fedavg",
    "weighted_mean",
    "num_bytes",
    "sample_clients",
    "client_update",
    "run_round",
    "History",
]


def num_bytes(params):
    """Bytes of a parameter mapping as it would travel (raw array payload)."""
    return int(sum(np.asarray(v).nbytes for v in params.values()))


def _check_same_keys(reference, params, who):
    if set(params) != set(reference):
        missing = sorted(set(reference) - set(params))
        extra = sorted(set(params) - set(reference))
        raise ValueError(f"{who}: parameter names differ (missing {missing}, unexpected {extra})")
    for name, value in params.items():
        if np.shape(value) != np.shape(reference[name]):
            raise ValueError(f"{who}: '{name}' has shape {np.shape(value)}, "
                             f"expected {np.shape(reference[name])}")


def fedavg(results, weighted=True):
    """Average client parameter mappings: [(params, num_examples), ...] -> params.

    ``weighted=True`` weights each client by its number of examples (McMahan et
    al. 2017); ``weighted=False`` is the book's plain mean, which over-counts
    small clients. The result keeps the clients' dtype.
    """
    results = list(results)
    if not results:
        raise ValueError("fedavg: no client results to average")
    first = results[0][0]
    for i, (params, n) in enumerate(results):
        _check_same_keys(first, params, f"fedavg: client {i}")
        if weighted and (not np.isscalar(n) or n < 0):
            raise ValueError(f"fedavg: client {i} reported {n!r} examples; expected a count >= 0")
    if weighted:
        weights = np.array([n for _, n in results], dtype=np.float64)
        if weights.sum() <= 0:
            raise ValueError("fedavg: the clients reported 0 examples in total")
        weights /= weights.sum()
    else:
        weights = np.full(len(results), 1.0 / len(results))
    out = {}
    for name, value in first.items():
        mean = weighted_mean([params[name] for params, _ in results], weights)
        out[name] = mean.astype(np.asarray(value).dtype, copy=False)
    return out


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


def sample_clients(num_clients, clients_per_round, rng):
    """``clients_per_round`` distinct client indices, drawn with ``rng``, sorted."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError("sample_clients: pass an explicit np.random.Generator "
                        "(np.random.default_rng(seed)) so rounds are reproducible")
    if not 1 <= clients_per_round <= num_clients:
        raise ValueError(f"sample_clients: clients_per_round={clients_per_round} must be "
                         f"between 1 and num_clients={num_clients}")
    return np.sort(rng.choice(num_clients, size=clients_per_round, replace=False))


def client_update(model, params, train_fn, data):
    """Load ``params`` into ``model``, run ``train_fn(model, data)``, return what is sent.

    ``train_fn`` returns the number of examples it trained on. The client
    sends ``(model.state_dict(), num_examples)`` and nothing else.
    """
    model.load_state_dict(params)
    num_examples = train_fn(model, data)
    return model.state_dict(), int(num_examples)


@dataclass
class History:
    """Per-round records: metrics and bytes each way. ``.table()`` gives a DataFrame."""

    rounds: list = field(default_factory=list)

    def append(self, record):
        self.rounds.append(dict(record))

    def __len__(self):
        return len(self.rounds)

    def __getitem__(self, i):
        return self.rounds[i]

    def column(self, key):
        return [r.get(key) for r in self.rounds]

    def table(self):
        import pandas as pd

        return pd.DataFrame(self.rounds)


def run_round(server_params, clients, update_fn, *, rng=None, clients_per_round=None,
              weighted=True, server_lr=1.0, round_num=None, history=None):
    """One FedAvg round; returns the new server parameters and the round's record.

    broadcast: each sampled client receives a copy of ``server_params``;
    local training: ``update_fn(params_copy, client) -> (params, num_examples)``;
    aggregate: ``fedavg`` of exactly what the clients returned;
    server update: ``server + server_lr * (average - server)`` (``server_lr=1``
    replaces the model with the average, as in McMahan et al.).
    ``clients`` is a sequence of client datasets; with ``clients_per_round``
    they are sampled with ``rng`` (an ``np.random.Generator``).
    """
    num_clients = len(clients)
    if clients_per_round is None or clients_per_round >= num_clients:
        chosen = np.arange(num_clients)
    else:
        chosen = sample_clients(num_clients, clients_per_round, rng)

    results, bytes_up = [], 0
    for c in chosen:
        sent = {k: np.array(v, copy=True) for k, v in server_params.items()}  # broadcast
        params, n = update_fn(sent, clients[c])
        _check_same_keys(server_params, params, f"run_round: client {int(c)}")
        bytes_up += num_bytes(params)
        results.append((params, n))

    average = fedavg(results, weighted=weighted)
    if server_lr == 1.0:  # the server's dtype, whatever a client sent
        new_params = {k: average[k].astype(server_params[k].dtype, copy=False)
                      for k in server_params}
    else:
        new_params = {k: (server_params[k] + server_lr * (average[k] - server_params[k]))
                      .astype(server_params[k].dtype, copy=False) for k in server_params}
    record = {
        "round": round_num if round_num is not None else (len(history) + 1 if history else 1),
        "clients": [int(c) for c in chosen],
        "num_examples": int(sum(n for _, n in results)),
        "bytes_down": num_bytes(server_params) * len(chosen),
        "bytes_up": bytes_up,
    }
    if history is not None:
        history.append(record)
    return new_params, record
