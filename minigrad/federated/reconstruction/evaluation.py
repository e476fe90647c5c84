"""Evaluation: each user reconstructs on one half of its ratings and is scored on the other.

``evaluate`` runs all users at once (lockstep); ``evaluate_reference`` is the per-user
loop it is tested against. Both take an ``rng`` (a plan is drawn) or a ``plan``.
"""

import numpy as np

from ...rng import check_generator
from . import lockstep
from .client import global_arrays, reconstruct_reference
from .mf import (
    GLOBAL_BIAS,
    ITEM_BIAS,
    ITEM_EMBEDDING,
    USER_BIAS,
    USER_EMBEDDING,
    predict,
    predict_rows,
)
from .plan import EvalConfig, make_eval_plan
from .server import metrics_from_sums

__all__ = ["reconstruct", "score", "evaluate", "evaluate_reference"]


def reconstruct(spec, global_params, data, plan, lr, chunk_size=512):
    """Every plan client's local parameters, reconstructed in lockstep: {name: (K, ...)}.

    Uses ``plan.recon`` and ``plan.user_init``; global parameters frozen. Clients
    go ``chunk_size`` at a time to bound memory.
    """
    params = global_arrays(global_params)
    us, cs = [], []
    for lo in range(0, len(plan), chunk_size):
        sl = slice(lo, lo + chunk_size)
        recon = plan.recon[sl]
        used = int((recon[:, :, 0] >= 0).sum(axis=1).max()) if len(recon) else 0
        phase = lockstep.gather_phase(data.item, data.rating, data.offsets[plan.clients[sl]],
                                      recon[:, :used], spec.dtype)
        c0 = plan.user_init[USER_BIAS][sl] if USER_BIAS in plan.user_init else None
        u, c = lockstep.reconstruct_locals(params, phase, plan.user_init[USER_EMBEDDING][sl], c0,
                                           lr=lr)
        us.append(u)
        cs.append(c)
    out = {USER_EMBEDDING: np.concatenate(us) if us else
           np.zeros((0, spec.dim), dtype=spec.dtype)}
    if spec.user_bias:
        out[USER_BIAS] = np.concatenate(cs) if cs else np.zeros(0, dtype=spec.dtype)
    return out


def score(spec, global_params, local_params, data, plan):
    """Metrics of stacked local parameters {name: (K, ...)} on the plan's evaluated half.

    -> {loss, rmse, rating_accuracy, num_examples, num_users, batch_mean_loss}.
    """
    valid = plan.post >= 0
    owner = np.nonzero(valid)[0]
    rows = plan.post[valid] + data.offsets[plan.clients][owner]
    items, y = data.item[rows], data.rating[rows].astype(spec.dtype, copy=False)
    y_hat = predict_rows(
        global_params[ITEM_EMBEDDING][items], local_params[USER_EMBEDDING][owner],
        item_bias=global_params[ITEM_BIAS][items] if spec.item_bias else None,
        global_bias=global_params[GLOBAL_BIAS] if spec.global_bias else None,
        user_bias=local_params[USER_BIAS][owner] if spec.user_bias else None)
    err = y_hat - y
    out = metrics_from_sums(float(err @ err), int((np.abs(err) <= 0.5).sum()), len(err),
                   len(np.unique(owner)))
    out["num_users"] = out.pop("num_clients")
    squares = np.zeros(plan.post.shape, dtype=np.float64)
    squares[valid] = err * err                  # boolean-mask order == the order of ``owner``
    count = valid.sum(axis=2)
    used = count > 0
    out["batch_mean_loss"] = (float(np.mean(squares.sum(axis=2)[used] / count[used]))
                              if used.any() else float("nan"))
    return out


def evaluate(spec, global_params, data, rng=None, *, eval_config=None, plan=None):
    """Loss (MSE), RMSE and rating accuracy of the model on users it reconstructs for.

    Each user reconstructs its local parameters on one half of its ratings (global
    ones frozen) and is scored on the other half; all users at once. Pass ``rng``
    (a fresh plan is drawn) or a ``plan`` from ``make_eval_plan``. ``loss``, ``rmse``
    and ``rating_accuracy`` weight every evaluated rating equally;
    ``batch_mean_loss`` is the mean over evaluated batches of each batch's MSE, the
    ``loss`` TFF reports.
    """
    eval_config = EvalConfig() if eval_config is None else eval_config
    if plan is None:
        check_generator(rng, "evaluate")
        plan = make_eval_plan(spec, eval_config, data, rng)
    local = reconstruct(spec, global_params, data, plan, eval_config.recon_lr)
    return score(spec, global_params, local, data, plan)


def evaluate_reference(spec, global_params, data, rng=None, *, eval_config=None, plan=None):
    """``evaluate`` as a per-user loop (the test oracle)."""
    eval_config = EvalConfig() if eval_config is None else eval_config
    if plan is None:
        check_generator(rng, "evaluate_reference")
        plan = make_eval_plan(spec, eval_config, data, rng)
    sq, correct, n, users = 0.0, 0, 0, 0
    batch_losses = []
    for k, c in enumerate(plan.clients):
        items, ratings = data.client(c)
        local = reconstruct_reference(spec, global_params, items, ratings,
                                      plan.batches(k, "recon"), plan.client_init(k),
                                      eval_config.recon_lr)
        batches = plan.batches(k, "post")
        if not batches:
            continue
        for held_out in batches:
            err = predict(spec, global_params, local, items[held_out]) - ratings[held_out]
            sq += float(err @ err)
            correct += int((np.abs(err) <= 0.5).sum())
            n += len(held_out)
            batch_losses.append(float(np.mean(err * err)))
        users += 1
    out = metrics_from_sums(sq, correct, n, users)
    out["num_users"] = out.pop("num_clients")
    out["batch_mean_loss"] = float(np.mean(batch_losses)) if batch_losses else float("nan")
    return out
