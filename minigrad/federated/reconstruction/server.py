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
from .mf import GLOBAL_BIAS, ITEM_BIAS, ITEM_EMBEDDING, check_global_names
from .plan import make_round_plan

__all__ = ["metrics_from_sums", "global_shapes", "check_client_update", "check_client_updates",
           "aggregate", "ServerState", "initialize", "server_update",
           "run_round_reference", "run_round", "train"]


def metrics_from_sums(loss_sum, num_correct, num_examples, num_clients):
    """Loss (mean squared error), rmse and rating accuracy from their sums: -> dict."""
    n = int(num_examples)
    loss = float(loss_sum) / n if n else float("nan")
    return {"loss": loss, "rmse": float(np.sqrt(loss)) if n else float("nan"),
            "rating_accuracy": int(num_correct) / n if n else float("nan"),
            "num_examples": n, "num_clients": int(num_clients)}


def global_shapes(spec):
    """{global name: the exact shape the server holds}: what every dense delta must match."""
    shapes = {ITEM_EMBEDDING: (spec.num_items, spec.dim), ITEM_BIAS: (spec.num_items,),
              GLOBAL_BIAS: ()}
    return {name: shapes[name] for name in spec.global_names}


def _check_array(value, shape, who, name):
    """A finite real floating array of exactly ``shape`` (no broadcasting), else ValueError."""
    if not isinstance(value, (np.ndarray, np.generic)):
        raise TypeError(f"{who}: '{name}' is a {type(value).__name__}, expected an ndarray")
    value = np.asarray(value)
    if value.shape != shape:
        raise ValueError(f"{who}: '{name}' has shape {value.shape}, expected exactly {shape} "
                         f"(a delta is never broadcast onto the server's rows)")
    if not np.issubdtype(value.dtype, np.floating):
        raise ValueError(f"{who}: '{name}' has dtype {value.dtype}, expected a floating dtype")
    if value.size and not np.isfinite(value).all():
        raise ValueError(f"{who}: '{name}' holds nan or inf; expected finite values")


def _check_counts(values, who, what, integer):
    """Counts/sums finite and >= 0 (integers where ``integer``), else ValueError."""
    values = np.asarray(values)
    if values.dtype == bool or not (np.issubdtype(values.dtype, np.integer)
                                    or (not integer and np.issubdtype(values.dtype, np.floating))):
        raise ValueError(f"{who}: {what} has dtype {values.dtype}, expected "
                         f"{'integers' if integer else 'real numbers'}")
    bad = ~np.isfinite(values) | (values < 0)
    if bad.any():
        raise ValueError(f"{who}: {what} is {values[bad].ravel()[0].item()!r}; expected a finite "
                         f"number >= 0")


def check_client_update(spec, update, who):
    """Raise unless one client's message fits the server: names, exact shapes, finite, counts."""
    if not isinstance(update, ClientUpdate):
        raise TypeError(f"{who} is a {type(update).__name__}, not a ClientUpdate")
    check_global_names(spec.global_names, update.delta, who)
    for name, shape in global_shapes(spec).items():
        _check_array(update.delta[name], shape, who, name)
    for what, value, integer in [("num_examples", update.num_examples, True),
                                 ("loss_sum", update.loss_sum, False),
                                 ("num_correct", update.num_correct, True)]:
        if isinstance(value, bool) or not np.isscalar(value):
            raise ValueError(f"{who}: {what}={value!r}; expected a number")
        _check_counts(value, who, what, integer)
    if update.num_correct > update.num_examples:
        raise ValueError(f"{who}: num_correct={update.num_correct} exceeds num_examples="
                         f"{update.num_examples}")


def check_client_updates(spec, updates, who="aggregate"):
    """Raise unless a round's sparse messages fit the server (see ``ClientUpdates``)."""
    check_global_names(spec.global_names, updates.delta, who)
    n = updates.num_examples
    if not isinstance(n, np.ndarray) or n.ndim != 1 or len(n) == 0:
        raise ValueError(f"{who}: num_examples must be a non-empty (K,) array")
    num_clients = len(n)
    row_item, owner = updates.row_item, updates.owner
    for what, ids, upper in [("row_item", row_item, spec.num_items),
                             ("owner", owner, num_clients)]:
        if (not isinstance(ids, np.ndarray) or ids.ndim != 1
                or not np.issubdtype(ids.dtype, np.integer)):
            raise ValueError(f"{who}: {what} must be a 1-D integer array")
        if ids.size and (ids.min() < 0 or ids.max() >= upper):
            raise ValueError(f"{who}: {what} holds ids outside [0, {upper})")
    if owner.shape != row_item.shape:
        raise ValueError(f"{who}: owner has shape {owner.shape}, row_item {row_item.shape}")
    if len(np.unique(np.stack([owner, row_item]), axis=1).T) != len(row_item):
        raise ValueError(f"{who}: a client sent the same item row twice")
    rows = len(row_item)
    for name, shape in global_shapes(spec).items():
        expected = (num_clients,) if name == GLOBAL_BIAS else (rows,) + shape[1:]
        _check_array(updates.delta[name], expected, who, name)
    for what, values, integer in [("num_examples", n, True),
                                  ("loss_sum", updates.loss_sum, False),
                                  ("num_correct", updates.num_correct, True)]:
        if np.shape(values) != (num_clients,):
            raise ValueError(f"{who}: {what} has shape {np.shape(values)}, expected "
                             f"({num_clients},)")
        _check_counts(values, who, what, integer)
    if (updates.num_correct > n).any():
        raise ValueError(f"{who}: a client's num_correct exceeds its num_examples")


def aggregate(spec, updates):
    """Server side: the example-weighted mean delta, and the round's training metrics.

    updates: a list of ``ClientUpdate`` or one ``ClientUpdates``. Returns
    ({global name: mean delta}, metrics). With no example in total the mean delta
    is zero.
    """
    if isinstance(updates, ClientUpdates):
        check_client_updates(spec, updates)
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
    for i, u in enumerate(updates):  # all checked before any is summed
        check_client_update(spec, u, f"aggregate: message {i}")
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
    for name, shape in global_shapes(spec).items():
        _check_array(np.asarray(mean_delta[name]), shape, "server_update: the mean delta",
                     name)
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
