"""Many clients' SGD in lockstep: the NumPy engine under ``run_round`` and ``evaluate``.

Plain ndarrays only; no parameter names and no notion of who may see what (the
``client`` and ``server`` modules hold those). Clients are stacked on one axis and
step t of every client runs at once, longest clients first, so step t touches only
the clients that still have one; unused batch slots carry weight 0. Within a client
the steps stay sequential: the same SGD as a per-client loop, to rounding.
A phase's batches are (T, K, B) arrays, step-major; -1 marks an unused slot in a
schedule. Measured cost: docs/fedrecon.md.
"""

from dataclasses import dataclass

import numpy as np

from ... import kernels
from .mf import predict_rows

__all__ = [
    "GlobalArrays",
    "PhaseData",
    "shuffled_pass",
    "phase_schedule",
    "gather_phase",
    "reconstruct_locals",
    "train_globals",
    "scatter_rows",
]


@dataclass(frozen=True)
class GlobalArrays:
    """The global parameters as arrays: item_embedding (I, D), item_bias (I,) or None,
    global_bias () or None."""

    item_embedding: np.ndarray
    item_bias: np.ndarray | None = None
    global_bias: np.ndarray | None = None


@dataclass(frozen=True)
class PhaseData:
    """One phase's data, step-major (``gather_phase``): items, y, valid, w all (T, K, B).

    ``w`` is 2 / (examples in that step) on used slots and 0 elsewhere, so
    ``err * w`` is the gradient of the step's mean squared error.
    """

    items: np.ndarray
    y: np.ndarray
    valid: np.ndarray
    w: np.ndarray

# Which entries of a shuffled pass a phase uses (TFF's dataset_split_fn, and its
# per-example variant): name -> (keep(position, batch_size), new position).
_SELECT = {
    "all": (lambda p, b: np.ones(p.shape, dtype=bool), lambda p, b: p),
    "even_batches": (lambda p, b: (p // b) % 2 == 0, lambda p, b: (p // b // 2) * b + p % b),
    "odd_batches": (lambda p, b: (p // b) % 2 == 1, lambda p, b: (p // b // 2) * b + p % b),
    "even_examples": (lambda p, b: p % 2 == 0, lambda p, b: p // 2),
    "odd_examples": (lambda p, b: p % 2 == 1, lambda p, b: p // 2),
}


def shuffled_pass(rng, sizes):
    """One shuffled pass over each client's examples, all clients at once.

    sizes (K,) -> (owner (N,), local (N,), position (N,)), N = sizes.sum(): entry f is
    client ``owner[f]``'s example ``local[f]`` (an index into that client's own
    data), visited at ``position[f]`` of its pass. Each client's order is a uniform
    random permutation: one sort of ``owner + key``, key uniform in [0, 0.5), keeps
    the clients' blocks in place and shuffles inside each.
    """
    sizes = np.asarray(sizes, dtype=np.int64)
    owner = np.repeat(np.arange(len(sizes)), sizes)
    first = np.repeat(np.cumsum(sizes) - sizes, sizes)       # where each block starts
    order = np.argsort(owner + 0.5 * rng.random(len(owner)))
    return owner, order - first, np.arange(len(owner)) - first


def phase_schedule(passes, num_clients, batch_size, which="all", steps_max=None):
    """Pack one phase's batches: a list of passes (one per epoch) -> (K, T, B) int64.

    Each pass is ``shuffled_pass``'s output; ``which`` keeps all of it, its even or
    odd batches (TFF's ``split_dataset=True``), or its even or odd examples. Batches
    never span two passes (TF's ``batch`` before ``repeat``); ``steps_max`` caps the
    steps of the whole phase (TFF's ``recon_steps_max``, applied after the epochs).
    Entry [k, t, j] is the client-local index of the j-th example of client k's step
    t, or -1; every step's used slots come first.
    """
    keep_fn, position_fn = _SELECT[which]
    b = int(batch_size)
    done = np.zeros(num_clients, dtype=np.int64)               # steps so far, per client
    owners, steps, slots, locals_ = [], [], [], []
    for owner, local, position in passes:
        keep = keep_fn(position, b)
        owner, local, q = owner[keep], local[keep], position_fn(position[keep], b)
        owners.append(owner)
        locals_.append(local)
        steps.append(q // b + done[owner])
        slots.append(q % b)
        done += -(-np.bincount(owner, minlength=num_clients) // b)   # ceil(count / b)
    if owners:
        owner, local = np.concatenate(owners), np.concatenate(locals_)
        step, slot = np.concatenate(steps), np.concatenate(slots)
    else:
        owner = local = step = slot = np.zeros(0, dtype=np.int64)
    if steps_max is not None:
        keep = step < steps_max
        owner, local, step, slot = owner[keep], local[keep], step[keep], slot[keep]
    num_steps = int(step.max()) + 1 if len(step) else 0
    out = np.full((num_clients, num_steps, b), -1, dtype=np.int64)
    out[owner, step, slot] = local
    return out


def gather_phase(item, rating, starts, schedule, dtype):
    """One phase's data, step-major: (K, T, B) schedule -> ``PhaseData`` of (T, K, B) arrays.

    item, rating: all clients' data concatenated; starts (K,): where each scheduled
    client's data begins.
    """
    sched = np.ascontiguousarray(schedule.transpose(1, 0, 2))
    valid = sched >= 0
    if len(item):
        rows = np.where(valid, sched + np.asarray(starts)[None, :, None], 0)
        items, y = item[rows], rating[rows].astype(dtype, copy=False)
    else:
        items = np.zeros(sched.shape, dtype=np.int64)
        y = np.zeros(sched.shape, dtype=dtype)
    count = valid.sum(axis=2, keepdims=True)
    w = np.where(valid, 2.0 / np.maximum(count, 1), 0.0).astype(dtype, copy=False)
    return PhaseData(items, y, valid, w)


def _longest_first(w):
    """Clients by number of steps, longest first, and how many are still active at each step.

    w (T, K, B) -> (order (K,), active (T,)): after ``[:, order]`` the clients active
    at step t are the first ``active[t]``, so a step touches only those.
    """
    steps = (w != 0).any(axis=2).sum(axis=0)
    order = np.argsort(-steps, kind="stable")
    active = (steps[order][None, :] > np.arange(w.shape[0])[:, None]).sum(axis=1)
    return order, active


def _blocks(active, *arrays):
    """Keep each step's active prefix: (T, K, ...) arrays -> flat (sum(active), ...) arrays.

    Step t's block is rows offsets[t]:offsets[t+1]; returns (offsets, *flat arrays).
    """
    keep = np.arange(arrays[0].shape[1])[None, :] < active[:, None]
    return (np.r_[0, np.cumsum(active)],) + tuple(a[keep] for a in arrays)


def reconstruct_locals(params, phase, user_embedding, user_bias=None, *, lr):
    """SGD on every client's local parameters at once, global ones frozen.

    params: the frozen ``GlobalArrays``; phase: ``PhaseData`` from ``gather_phase``;
    user_embedding (K, D) and user_bias (K,) or None: the starting local parameters
    (not modified). Returns the reconstructed (user_embedding, user_bias).
    Clients are taken longest first, so step t works on the still-active prefix.
    """
    mu = params.global_bias
    order, active = _longest_first(phase.w)
    u = user_embedding[order]                                 # fancy indexing: a copy
    c = None if user_bias is None else user_bias[order]
    offsets, items, y, w = _blocks(active, phase.items[:, order], phase.y[:, order],
                                   phase.w[:, order])
    rows_all = params.item_embedding[items]                   # frozen: gather once
    bias_all = None if params.item_bias is None else params.item_bias[items]
    for t in range(len(active)):
        k, sl = active[t], slice(offsets[t], offsets[t + 1])
        rows = rows_all[sl]
        y_hat = predict_rows(rows, u[:k], item_bias=None if bias_all is None else bias_all[sl],
                             global_bias=mu, user_bias=None if c is None else c[:k, None])
        g = (y_hat - y[sl]) * w[sl]
        u[:k] -= lr * (g[:, None, :] @ rows)[:, 0, :]
        if c is not None:
            c[:k] -= lr * g.sum(axis=1)
    u_out = np.empty_like(u)
    u_out[order] = u
    c_out = None
    if c is not None:
        c_out = np.empty_like(c)
        c_out[order] = c
    return u_out, c_out


def train_globals(params, phase, user_embedding, user_bias=None, *, lr, train_locals=False):
    """SGD on every client's own copy of the global parameters, local ones frozen.

    params: the broadcast ``GlobalArrays`` (not modified); phase: ``PhaseData``;
    user_embedding (K, D), user_bias (K,) or None: each client's local parameters.
    Each client gets a private copy of just the item rows it touches (all copies in
    one concatenated table, with one zero scratch row for unused slots); a step
    gathers each client's rows and writes the updated rows back. With
    ``train_locals`` the clients' local parameters take a step on the same batch
    too (joint SGD, for the stateful baseline).

    Shortcut: when no client touches an item twice in the phase (MovieLens has one
    rating per user and item, so one epoch never does), there is no global bias
    and the locals are frozen, then every parameter a step reads is one no earlier
    step wrote, so all steps are computed at once: the same SGD, equal to the
    stepwise result up to rounding.

    Returns a dict: row_item (M,) and owner (M,) of each touched row (sorted by
    client, then item), d_table (M, D) and d_item_bias (M,) = initial - final rows,
    d_mu (K,), num_examples (K,), loss_sum (K,) and num_correct (K,) over the
    trained examples (predictions before each step), and u, c: the local
    parameters after the phase.
    """
    items, valid = phase.items, phase.valid
    mu = params.global_bias
    num_clients = items.shape[1]
    num_items = params.item_embedding.shape[0]
    key = (np.arange(num_clients)[None, :, None] * num_items + items)[valid]
    by_key = np.argsort(key, kind="stable")
    sorted_key = key[by_key]
    first = np.r_[True, sorted_key[1:] != sorted_key[:-1]][:len(sorted_key)]  # none: empty
    uniq = sorted_key[first]
    row_item, owner = uniq % num_items, uniq // num_items
    m = len(uniq)
    u = np.array(user_embedding, copy=True)
    c = None if user_bias is None else np.array(user_bias, copy=True)
    if m == len(key) and mu is None and not train_locals:
        errors, d_table, d_bias = _train_globals_at_once(params, phase, u, c, lr, by_key)
        mu_k = None
    else:
        inverse = np.empty(len(key), dtype=np.int64)
        inverse[by_key] = np.cumsum(first) - 1
        errors, d_table, d_bias, mu_k = _train_globals_in_steps(
            params, phase, u, c, lr, train_locals=train_locals, row_slot=inverse,
            row_item=row_item)
    return {
        "row_item": row_item,
        "owner": owner,
        "d_table": d_table,
        "d_item_bias": d_bias,
        "d_mu": None if mu is None else mu - mu_k,
        "num_examples": valid.sum(axis=(0, 2)),
        "loss_sum": np.where(valid, errors * errors, 0.0).sum(axis=(0, 2)),
        "num_correct": (valid & (np.abs(errors) <= 0.5)).sum(axis=(0, 2)),
        "u": u,
        "c": c,
    }


def _train_globals_at_once(params, phase, u, c, lr, by_key):
    """All steps at once (each row read and written by exactly one step).

    ``by_key`` orders the used slots by (client, item): the order of the output rows.
    Returns (errors (T, K, B), d_table (M, D), d_item_bias (M,) or None).
    """
    items, valid, item_bias = phase.items, phase.valid, params.item_bias
    client = np.broadcast_to(np.arange(items.shape[1])[None, :, None], items.shape)[valid]
    client, it = client[by_key], items[valid][by_key]
    uk = u[client]
    rows = params.item_embedding[it]
    y_hat = predict_rows(rows, uk, item_bias=None if item_bias is None else item_bias[it],
                         user_bias=None if c is None else c[client])
    err = y_hat - phase.y[valid][by_key]
    step = lr * (err * phase.w[valid][by_key])
    d_table = step[:, None] * uk            # initial - final (the step, without the rounding
    d_bias = None                           # of writing it into the row and reading it back)
    if item_bias is not None:
        d_bias = step
    errors = np.zeros(items.shape, dtype=params.item_embedding.dtype)
    flat = np.empty(len(err), dtype=err.dtype)
    flat[by_key] = err
    errors[valid] = flat
    return errors, d_table, d_bias


def _train_globals_in_steps(params, phase, u, c, lr, *, train_locals, row_slot, row_item):
    """Step t of every client at once; u and c are updated in place if ``train_locals``.

    row_slot (number of used slots,): each used slot's row in the clients' private
    table, in boolean-mask order; row_item (M,): the item of each private row.
    Returns (errors (T, K, B), d_table (M, D), d_item_bias (M,) or None, mu (K,) or None).
    """
    table, item_bias, mu = params.item_embedding, params.item_bias, params.global_bias
    items, valid = phase.items, phase.valid
    m = len(row_item)
    num_clients = items.shape[1]
    loc = np.full(items.shape, m, dtype=np.int64)             # unused slots -> scratch row
    loc[valid] = row_slot
    # A step may use plain fancy assignment unless a client repeats an item inside it.
    ordered = np.sort(loc, axis=2)
    repeats = ((ordered[..., 1:] == ordered[..., :-1]) & (ordered[..., 1:] < m)).any(axis=(1, 2))
    local_table = np.zeros((m + 1, table.shape[1]), dtype=table.dtype)
    local_table[:m] = table[row_item]
    local_bias = None
    if item_bias is not None:
        local_bias = np.zeros(m + 1, dtype=item_bias.dtype)
        local_bias[:m] = item_bias[row_item]
    mu_k = None if mu is None else np.full(num_clients, mu, dtype=table.dtype)

    order, active = _longest_first(phase.w)
    offsets, loc, y, w = _blocks(active, loc[:, order], phase.y[:, order], phase.w[:, order])
    u_s = u[order]
    c_s = None if c is None else c[order]
    mu_s = None if mu_k is None else mu_k[order]
    errors = np.zeros(loc.shape, dtype=table.dtype)
    for t in range(len(active)):
        k, sl = active[t], slice(offsets[t], offsets[t + 1])
        lt = loc[sl]
        rows = local_table[lt]
        bias = None if local_bias is None else local_bias[lt]
        y_hat = predict_rows(rows, u_s[:k], item_bias=bias,
                             global_bias=None if mu_s is None else mu_s[:k, None],
                             user_bias=None if c_s is None else c_s[:k, None])
        err = y_hat - y[sl]
        errors[sl] = err
        g = err * w[sl]
        step = lr * (g[:, :, None] * u_s[:k, None, :])
        if repeats[t]:
            np.add.at(local_table, lt, -step)
        else:
            local_table[lt] = rows - step
        if local_bias is not None:
            if repeats[t]:
                np.add.at(local_bias, lt, -lr * g)
            else:
                local_bias[lt] = bias - lr * g
        if mu_s is not None:
            mu_s[:k] -= lr * g.sum(axis=1)
        if train_locals:
            u_s[:k] -= lr * (g[:, None, :] @ rows)[:, 0, :]
            if c_s is not None:
                c_s[:k] -= lr * g.sum(axis=1)
    # back to the callers' client order
    errors_full = np.zeros(items.shape, dtype=table.dtype)
    keep = np.arange(num_clients)[None, :] < active[:, None]
    by_step = np.zeros((len(active), num_clients) + items.shape[2:], dtype=table.dtype)
    by_step[keep] = errors
    errors_full[:, order] = by_step
    u[order] = u_s
    if c is not None:
        c[order] = c_s
    if mu_k is not None:
        mu_k[order] = mu_s
    d_table = table[row_item] - local_table[:m]
    d_bias = None if item_bias is None else item_bias[row_item] - local_bias[:m]
    return errors_full, d_table, d_bias, mu_k


def scatter_rows(row_item, values, num_items):
    """Sum per-client rows into a table: (M,), (M, ...) -> (num_items, ...)."""
    return kernels.scatter_add_rows(row_item, values, num_items)
