"""One federated round: sample -> broadcast -> client update -> aggregate -> server update.

    new_params, record = run_round(server, clients, update_fn, rng=rng,
                                   sampler=UniformSample(10), aggregator=FedAvg(),
                                   server_update=ServerSGD(lr=1.0))

``update_fn(params_copy, client) -> (trained_params, num_examples)`` is the client's
code. A client sends a delta (``trained - received``) as its aggregator encodes it;
the server sees only the encoded messages (see ``minigrad.federated.aggregator``).
"""

import time
from dataclasses import dataclass, field

import numpy as np

from ..optim import adam_step
from ..rng import check_generator
from .aggregator import ClientUpdate
from .fedavg import FedAvg
from .params import check_same_keys, check_update, copy_params, num_bytes

__all__ = [
    "run_round",
    "round_sampler",
    "client_message",
    "server_step",
    "round_record",
    "client_update",
    "sample_clients",
    "AllClients",
    "UniformSample",
    "PoissonSample",
    "ServerSGD",
    "ServerAdam",
    "History",
]


def sample_clients(num_clients, clients_per_round, rng):
    """``clients_per_round`` distinct client indices, drawn with ``rng``, sorted."""
    check_generator(rng, "sample_clients", "rounds are reproducible")
    if not 1 <= clients_per_round <= num_clients:
        raise ValueError(f"sample_clients: clients_per_round={clients_per_round} must be "
                         f"between 1 and num_clients={num_clients}")
    return np.sort(rng.choice(num_clients, size=clients_per_round, replace=False))


class AllClients:
    """Every client takes part, every round."""

    def __call__(self, num_clients, rng):
        return np.arange(num_clients)

    def __repr__(self):
        return "AllClients()"


class UniformSample:
    """``k`` distinct clients drawn uniformly each round (all of them if ``k >= num_clients``)."""

    def __init__(self, k):
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"UniformSample: k={k!r} must be an int >= 1")
        self.k = int(k)

    def __call__(self, num_clients, rng):
        if self.k >= num_clients:
            return np.arange(num_clients)
        return sample_clients(num_clients, self.k, rng)

    def __repr__(self):
        return f"UniformSample({self.k})"


class PoissonSample:
    """Each client joins independently with probability ``q`` (DP-FedAvg's sampling)."""

    def __init__(self, q):
        if isinstance(q, bool) or not isinstance(q, (int, float)) or not 0 < q <= 1:
            raise ValueError(f"PoissonSample: q={q!r} must be a probability in (0, 1]")
        self.q = float(q)

    def __call__(self, num_clients, rng):
        check_generator(rng, "PoissonSample", "rounds are reproducible")
        return np.flatnonzero(rng.random(num_clients) < self.q)

    def __eq__(self, other):
        return isinstance(other, PoissonSample) and other.q == self.q

    __hash__ = None

    def __repr__(self):
        return f"PoissonSample({self.q})"


class ServerSGD:
    """``server + lr * mean_delta`` in float64, cast to the server's dtype (``lr=1``:
    the model becomes the average, as in McMahan et al.)."""

    def __init__(self, lr=1.0):
        if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not np.isfinite(lr):
            raise ValueError(f"ServerSGD: lr={lr!r} must be a finite number")
        self.lr = float(lr)

    def __call__(self, server_params, mean_delta):
        check_update(server_params, mean_delta, "ServerSGD: the mean delta")
        return {k: (np.asarray(v, dtype=np.float64) + self.lr * mean_delta[k])
                .astype(np.asarray(v).dtype, copy=False) for k, v in server_params.items()}

    def __repr__(self):
        return f"ServerSGD(lr={self.lr})"


class ServerAdam:
    """FedAdam (Reddi et al. 2021): Adam on the server, with ``-mean_delta`` as the gradient.

    Keeps its moments (float64) across rounds, so use one instance per training run.
    ``eps`` is the paper's adaptivity tau (1e-3 there); the step is ``optim.adam_step``,
    the same update ``optim.Adam`` makes.
    """

    def __init__(self, lr=0.01, beta1=0.9, beta2=0.99, eps=1e-3):
        def number(value):
            return not isinstance(value, bool) and isinstance(value, (int, float))

        for name, value in [("lr", lr), ("eps", eps)]:
            if not (number(value) and 0 < value < np.inf):
                raise ValueError(f"ServerAdam: {name}={value!r} must be a finite number > 0")
        for name, value in [("beta1", beta1), ("beta2", beta2)]:
            if not (number(value) and 0 <= value < 1):
                raise ValueError(f"ServerAdam: {name}={value!r} must be in [0, 1)")
        self.lr, self.beta1, self.beta2 = float(lr), float(beta1), float(beta2)
        self.eps = float(eps)
        self.step, self.m, self.v = 0, None, None

    def __call__(self, server_params, mean_delta):
        # everything is checked before the first moment moves: a refused mean leaves the
        # step count and the moments as they were
        check_update(server_params, mean_delta, "ServerAdam: the mean delta")
        if self.m is not None:
            check_same_keys(self.m, server_params, "ServerAdam: the server's parameters")
            for k, value in server_params.items():
                if self.m[k].shape != np.shape(value):
                    raise ValueError(f"ServerAdam: '{k}' has shape {np.shape(value)}, but its "
                                     f"moments were made for {self.m[k].shape}")
        m = self.m or {k: np.zeros(np.shape(v)) for k, v in server_params.items()}
        v = self.v or {k: np.zeros(np.shape(x)) for k, x in server_params.items()}
        step = self.step + 1
        out = {}
        for k, value in server_params.items():
            param = np.array(value, dtype=np.float64)
            adam_step(param, -np.asarray(mean_delta[k], dtype=np.float64), m[k], v[k],
                      step, self.lr, self.beta1, self.beta2, self.eps)
            out[k] = param.astype(np.asarray(value).dtype, copy=False)
        self.m, self.v, self.step = m, v, step
        return out

    def __repr__(self):
        return f"ServerAdam(lr={self.lr}, beta1={self.beta1}, beta2={self.beta2}, eps={self.eps})"


def client_update(model, params, train_fn, data):
    """Load ``params`` into ``model``, run ``train_fn(model, data)``, return its result.

    ``train_fn`` returns the number of examples it trained on. -> (model.state_dict(),
    num_examples): the ``update_fn`` shape ``run_round`` calls.
    """
    model.load_state_dict(params)
    num_examples = train_fn(model, data)
    return model.state_dict(), _example_count(num_examples, "client_update: train_fn")


def _example_count(n, who):
    """``n`` as an int >= 0; a count of 3.7, nan or -1 is an error, not silently int()-ed."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer, float, np.floating)):
        raise TypeError(f"{who}: the number of examples must be an integer, got {n!r}")
    if not (np.isfinite(n) and float(n).is_integer() and n >= 0):
        raise ValueError(f"{who}: the number of examples must be an integer >= 0, got {n!r}")
    return int(n)


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


def round_sampler(aggregator, sampler):
    """The sampler a round uses: ``sampler``, else the aggregator's own, else every client.

    An aggregator whose guarantee assumes a sampler (DP's Poisson sampling) refuses another.
    """
    required = getattr(aggregator, "sampler", None)
    if sampler is None:
        return required if required is not None else AllClients()
    if required is not None and sampler != required:
        raise ValueError(f"run_round: {aggregator!r} needs sampler {required!r} (its "
                         f"guarantee assumes it), got {sampler!r}")
    return sampler


def client_message(update_fn, received, client, data, aggregator, rng):
    """One client's part of a round: train on a copy of ``received``, encode what it sends.

    -> (message, num_examples, {"train": s, "encode": s}). The same function runs inside
    ``run_round`` and on a federated engine's node (``minigrad.engines.flower``).
    """
    seconds = {}
    start = time.perf_counter()
    trained, n = update_fn(copy_params(received), data)  # the client trains its own copy
    seconds["train"] = time.perf_counter() - start
    check_same_keys(received, trained, f"run_round: client {int(client)}")
    n = _example_count(n, f"run_round: client {int(client)}")
    start = time.perf_counter()
    message = aggregator.encode(ClientUpdate(int(client), received, trained, n), rng)
    seconds["encode"] = time.perf_counter() - start
    return message, n, seconds


def server_step(server_params, messages, aggregator, server_update, rng):
    """The server's part of a round: aggregate ``messages`` (in client order), update.

    -> (new server parameters, the aggregator's record fields, aggregate seconds).
    """
    start = time.perf_counter()
    mean_delta, info = aggregator.aggregate(messages, server_params, rng)
    seconds = time.perf_counter() - start
    return server_update(server_params, mean_delta), info, seconds


def run_round(server_params, clients, update_fn, *, aggregator=None, server_update=None,
              sampler=None, rng=None, round_num=None, history=None, keep_messages=False):
    """One round; returns the new server parameters and the round's record.

    sample: ``sampler(len(clients), rng)`` (default: the aggregator's own sampler, else
    every client); broadcast: each sampled client gets a copy of ``server_params``;
    client update: ``update_fn(copy, clients[c]) -> (trained, num_examples)``, then
    ``aggregator.encode`` (default ``FedAvg()``) makes what it sends; aggregate:
    ``aggregator.aggregate`` of the messages, in client order; server update:
    ``server_update(server_params, mean_delta)`` (default ``ServerSGD(1.0)``).
    The pieces are ``round_sampler``, ``client_message`` and ``server_step``, which
    ``minigrad.engines.flower`` runs on Flower's engines.

    The record: ``round``, ``clients``, ``num_examples``, ``bytes_down``, ``bytes_up``
    (the encoded messages), ``seconds`` ({"train", "encode", "aggregate"}: wall clock,
    for display only), then the aggregator's own fields; with ``keep_messages``,
    ``messages`` holds what the server received.
    """
    aggregator = FedAvg() if aggregator is None else aggregator
    server_update = ServerSGD() if server_update is None else server_update
    sampler = round_sampler(aggregator, sampler)
    if not server_params:
        raise ValueError("run_round: the server has no parameters")
    chosen = np.asarray(sampler(len(clients), rng), dtype=np.int64)

    messages, counts = [], []
    seconds = {"train": 0.0, "encode": 0.0, "aggregate": 0.0}
    for c in chosen:
        message, n, spent = client_message(update_fn, server_params, int(c), clients[c],
                                           aggregator, rng)
        for key, value in spent.items():
            seconds[key] += value
        messages.append(message)
        counts.append(n)

    new_params, info, seconds["aggregate"] = server_step(server_params, messages, aggregator,
                                                         server_update, rng)
    record = round_record(server_params, chosen, counts, messages, aggregator, info, seconds,
                          round_num, history)
    if keep_messages:
        record["messages"] = messages
    if history is not None:
        history.append(record)
    return new_params, record


def round_record(server_params, chosen, counts, messages, aggregator, info, seconds,
                 round_num=None, history=None):
    """The record of a round (see ``run_round``) from what the server saw."""
    return {
        "round": round_num if round_num is not None else (len(history) + 1 if history else 1),
        "clients": [int(c) for c in chosen],
        "num_examples": int(sum(counts)),
        "bytes_down": num_bytes(server_params) * len(chosen),
        "bytes_up": int(sum(aggregator.message_bytes(m) for m in messages)),
        "seconds": seconds,
        **info,
    }
