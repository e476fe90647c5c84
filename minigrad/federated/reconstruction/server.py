"""The server: aggregate the clients' deltas, apply its optimizer, run rounds.

The server state holds global parameters only; ``aggregate`` and ``server_update``
refuse any other name with a ``PrivacyError``. A round: broadcast -> client updates
(per-client loop or lockstep, one plan) -> example-weighted mean delta -> server step.
"""

from dataclasses import dataclass, field

import numpy as np

from ...optim import adam_step
from ...rng import check_generator
from ..params import copy_params
from ..round import History
from . import lockstep
from .client import ClientUpdate, ClientUpdates, client_update_reference, clients_update
from .mf import GLOBAL_BIAS, check_global_names
from .plan import make_round_plan

__all__ = ["metrics_from_sums", "aggregate", "ServerState", "initialize", "server_update",
           "run_round_reference", "run_round", "train"]


def metrics_from_sums(loss_sum, num_correct, num_examples, num_clients):
    """Loss (mean squared error), rmse and rating accuracy from their sums: -> dict."""
    n = int(num_examples)
    loss = float(loss_sum) / n if n else float("nan")
    return {"loss": loss, "rmse": float(np.sqrt(loss)) if n else float("nan"),
            "rating_accuracy": int(num_correct) / n if n else float("nan"),
            "num_examples": n, "num_clients": int(num_clients)}


def aggregate(spec, updates):
    """Server side: the example-weighted mean delta, and the round's training metrics.

    updates: a list of ``ClientUpdate`` or one ``ClientUpdates``. Returns
    ({global name: mean delta}, metrics). With no example in total the mean delta
    is zero.
    """
    if isinstance(updates, ClientUpdates):
        check_global_names(spec.global_names, updates.delta, "aggregate")
        n = updates.num_examples
        weights = n.astype(spec.dtype)[updates.owner]
        total = n.sum()
        mean = {}
        for name, value in updates.delta.items():
            if name == GLOBAL_BIAS:
                s = np.zeros((), dtype=spec.dtype)
                for k in range(len(n)):           # in client order, as the reference
                    s = s + n[k] * value[k]
            else:
                shape = value.shape[1:]
                s = lockstep.scatter_rows(updates.row_item,
                                          weights.reshape((-1,) + (1,) * len(shape)) * value,
                                          spec.num_items).reshape((spec.num_items,) + shape)
            mean[name] = (s / total if total else s * 0).astype(spec.dtype, copy=False)
        metrics = metrics_from_sums(updates.loss_sum.sum(), updates.num_correct.sum(), total,
                                    len(n))
        return mean, metrics
    updates = list(updates)
    if not updates:
        raise ValueError("aggregate: no client messages")
    for i, u in enumerate(updates):
        if not isinstance(u, ClientUpdate):
            raise TypeError(f"aggregate: message {i} is a {type(u).__name__}, not a "
                            f"ClientUpdate")
        check_global_names(spec.global_names, u.delta, f"aggregate: message {i}")
    total = sum(u.num_examples for u in updates)
    mean = {}
    for name in spec.global_names:
        s = np.zeros_like(updates[0].delta[name])
        for u in updates:
            s = s + u.num_examples * u.delta[name]
        mean[name] = (s / total if total else s * 0).astype(spec.dtype, copy=False)
    metrics = metrics_from_sums(sum(u.loss_sum for u in updates),
                                sum(u.num_correct for u in updates), total, len(updates))
    return mean, metrics


@dataclass(frozen=True)
class ServerState:
    """What the server keeps: global parameters, its optimizer's state, the round number."""

    params: dict
    optimizer_state: dict = field(default_factory=dict)
    round_num: int = 0


def initialize(spec, config, rng):
    """The server's starting state: fresh global parameters, empty optimizer state."""
    params = spec.init_globals(rng)
    opt = {}
    if config.server_optimizer == "adam":
        opt = {"step": 0, "m": {k: np.zeros_like(v) for k, v in params.items()},
               "v": {k: np.zeros_like(v) for k, v in params.items()}}
    elif config.server_momentum:
        opt = {"momentum": {k: np.zeros_like(v) for k, v in params.items()}}
    return ServerState(params, opt, 0)


def server_update(spec, config, state, mean_delta):
    """Apply the server optimizer to the mean delta (used as the gradient): -> new state."""
    check_global_names(spec.global_names, mean_delta, "server_update")
    check_global_names(spec.global_names, state.params, "server state")
    lr = config.server_lr
    params, opt = {}, {}
    if config.server_optimizer == "adam":
        b1, b2 = config.server_betas
        step = state.optimizer_state["step"] + 1
        params = copy_params(state.params)
        m = copy_params(state.optimizer_state["m"])
        v = copy_params(state.optimizer_state["v"])
        for name in params:
            adam_step(params[name], mean_delta[name], m[name], v[name], step, lr, b1, b2,
                      config.server_eps)
        opt = {"step": step, "m": m, "v": v}
    elif config.server_momentum:
        mom = {}
        for name, p in state.params.items():
            mom[name] = config.server_momentum * state.optimizer_state["momentum"][name] + \
                mean_delta[name]
            params[name] = (p - lr * mom[name]).astype(p.dtype, copy=False)
        opt = {"momentum": mom}
    else:
        for name, p in state.params.items():
            params[name] = (p - lr * mean_delta[name]).astype(p.dtype, copy=False)
    return ServerState(params, opt, state.round_num + 1)


def _broadcast(state):
    """What each client receives: a copy of the global parameters."""
    return copy_params(state.params)


def run_round_reference(spec, config, state, data, plan):
    """One round as a per-client loop: broadcast, client updates, aggregate, server update.

    Returns (new state, metrics); metrics are TFF's training metrics (loss,
    rating_accuracy on the post-reconstruction batches) plus rmse and counts.
    """
    sent = _broadcast(state)
    messages = []
    for k, c in enumerate(plan.clients):
        items, ratings = data.client(c)
        messages.append(client_update_reference(
            spec, config, sent, items, ratings, plan.batches(k, "recon"),
            plan.batches(k, "post"), plan.client_init(k)))
    mean_delta, metrics = aggregate(spec, messages)
    return server_update(spec, config, state, mean_delta), metrics


def run_round(spec, config, state, data, plan):
    """One round with all clients in lockstep: same result as ``run_round_reference``."""
    messages = clients_update(spec, config, _broadcast(state), data, plan)
    mean_delta, metrics = aggregate(spec, messages)
    return server_update(spec, config, state, mean_delta), metrics


def train(spec, config, data, num_rounds, rng, *, state=None, reference=False, history=None,
          callback=None):
    """``num_rounds`` rounds of FedRecon from ``state`` (default: ``initialize``).

    Each round draws its plan from ``rng``, so the reference and the vectorized
    implementation give the same model for the same seed. ``callback(state,
    record)`` runs after each round. Returns (state, History of per-round metrics).
    """
    check_generator(rng, "train")
    state = initialize(spec, config, rng) if state is None else state
    history = History() if history is None else history
    step = run_round_reference if reference else run_round
    for _ in range(num_rounds):
        plan = make_round_plan(spec, config, data, rng)
        state, metrics = step(spec, config, state, data, plan)
        record = {"round": state.round_num, **metrics}
        history.append(record)
        if callback is not None:
            callback(state, record)
    return state, history
