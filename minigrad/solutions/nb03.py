"""Reference solutions to the exercises of notebook 03 (Federated Reconstruction on MovieLens).

1. ``user_embedding_from_update``: with item biases, one client's item delta gives the
   server the user's embedding itself, not only its direction.
2. ``reconstruct_ridge`` + ``evaluate_ridge``: fold-in in closed form (ridge regression)
   instead of a few epochs of SGD; the penalty plays the part of early stopping.
3. ``keep_first_recon_ratings`` + ``rmse_by_num_recon_ratings``: how many ratings a new
   user must give before the reconstructed embedding helps.
"""

from dataclasses import replace

import numpy as np

from ..federated import reconstruction as fr

__all__ = ["user_embedding_from_update", "reconstruct_ridge", "evaluate_ridge",
           "keep_first_recon_ratings", "rmse_by_num_recon_ratings"]


# ---------------------------------------------------------------------------
# 1. what one client's delta says about its user embedding
# ---------------------------------------------------------------------------
def user_embedding_from_update(delta):
    """The user embedding u behind one client's delta: -> (u (D,), exact: bool).

    delta: {global name: initial - final}, as in a ``ClientUpdate``. With u frozen
    while the items train, every step changes row i of the item table by
    lr g u and the item's bias by lr g (same g), so over the round
    delta_emb[i] = delta_bias[i] u: with ``item_bias`` the server gets u exactly
    (least squares over the changed rows, exact = True). Without it only u's direction
    is known, up to sign: the changed rows are multiples of u, so u / |u| is their top
    right singular vector (exact = False; returned with unit norm, largest entry > 0).
    """
    rows = np.asarray(delta[fr.ITEM_EMBEDDING], dtype=np.float64)
    changed = np.flatnonzero(np.any(rows != 0, axis=1))
    if changed.size == 0:
        raise ValueError("user_embedding_from_update: no item row changed, so the update "
                         "says nothing about u")
    if fr.ITEM_BIAS in delta:
        b = np.asarray(delta[fr.ITEM_BIAS], dtype=np.float64)[changed]
        return b @ rows[changed] / (b @ b), True
    _, _, vt = np.linalg.svd(rows[changed], full_matrices=False)
    direction = vt[0]
    return direction * np.sign(direction[np.argmax(np.abs(direction))]), False


# ---------------------------------------------------------------------------
# 2. fold-in in closed form
# ---------------------------------------------------------------------------
def reconstruct_ridge(spec, global_params, items, ratings, l2):
    """One user's local parameters by ridge regression, global ones frozen: -> {name: array}.

    Minimizes sum_j (y_hat_j - y_j)^2 + l2 (|u|^2 + b_u^2) over u (and b_u with
    ``user_bias``), where y_hat_j = u . v_j + b_j + mu + b_u: a linear least-squares
    problem once the items are fixed. items, ratings (n,): the reconstruction half.
    """
    table = np.asarray(global_params[fr.ITEM_EMBEDDING], dtype=np.float64)
    X = table[items]
    target = np.asarray(ratings, dtype=np.float64).copy()
    if spec.item_bias:
        target -= global_params[fr.ITEM_BIAS][items]
    if spec.global_bias:
        target -= global_params[fr.GLOBAL_BIAS]
    if spec.user_bias:
        X = np.hstack([X, np.ones((len(items), 1))])
    w = np.linalg.solve(X.T @ X + l2 * np.eye(X.shape[1]), X.T @ target)
    out = {fr.USER_EMBEDDING: w[: spec.dim].astype(spec.dtype)}
    if spec.user_bias:
        out[fr.USER_BIAS] = np.array(w[spec.dim], dtype=spec.dtype)
    return out


def evaluate_ridge(spec, global_params, data, plan, l2):
    """``evaluate``'s metrics with ridge fold-in on the plan's reconstruction halves.

    plan: from ``make_eval_plan`` (its halves; its initial values are not used).
    Returns {loss, rmse, rating_accuracy, num_examples, num_users}.
    """
    sq, correct, n, users = 0.0, 0, 0, 0
    for k, c in enumerate(plan.clients):
        items, ratings = data.client(c)
        recon = np.unique(np.concatenate(plan.batches(k, "recon") or [np.zeros(0, int)]))
        held = np.concatenate(plan.batches(k, "post") or [np.zeros(0, int)])
        if len(held) == 0:
            continue
        local = reconstruct_ridge(spec, global_params, items[recon], ratings[recon], l2)
        err = fr.predict(spec, global_params, local, items[held]) - ratings[held]
        sq += float(err @ err)
        correct += int((np.abs(err) <= 0.5).sum())
        n += len(held)
        users += 1
    loss = sq / n
    return {"loss": loss, "rmse": float(np.sqrt(loss)), "rating_accuracy": correct / n,
            "num_examples": n, "num_users": users}


# ---------------------------------------------------------------------------
# 3. how many ratings does a new user need?
# ---------------------------------------------------------------------------
def keep_first_recon_ratings(plan, m, batch_size, epochs=1):
    """A copy of an evaluation plan whose users reconstruct on their first m ratings only.

    plan: one epoch of reconstruction (``make_eval_plan`` with recon_epochs=1); each
    user's reconstruction half is taken in its shuffled order, cut after m ratings,
    re-batched in ``batch_size`` and repeated ``epochs`` times. The evaluated half and
    the initial values are unchanged.
    """
    num_clients = len(plan)
    cut = []
    for k in range(num_clients):
        order = np.concatenate(plan.batches(k, "recon") or [np.zeros(0, dtype=np.int64)])
        mine = order[: int(m)]
        batches = [mine[lo: lo + batch_size] for lo in range(0, len(mine), batch_size)]
        cut.append(batches * int(epochs))
    steps = max((len(b) for b in cut), default=0)
    recon = np.full((num_clients, steps, batch_size), -1, dtype=np.int64)
    for k, batches in enumerate(cut):
        for t, b in enumerate(batches):
            recon[k, t, : len(b)] = b
    return fr.RoundPlan(plan.clients, recon, plan.post, plan.user_init)


def rmse_by_num_recon_ratings(spec, global_params, data, ms, seed, eval_config=None):
    """Test RMSE when each user reconstructs from only its first m ratings, for m in ms.

    Only users with at least max(ms) ratings in their reconstruction half are scored, so
    every m is measured on the same users and the same evaluated halves. Returns
    ({m: metrics}, number of users scored).
    """
    eval_config = fr.EvalConfig() if eval_config is None else eval_config
    one_pass = replace(eval_config, recon_epochs=1)
    plan = fr.make_eval_plan(spec, one_pass, data, np.random.default_rng(seed))
    enough = (plan.recon >= 0).sum(axis=(1, 2))            # ratings in each recon half
    keep = np.flatnonzero(enough >= max(ms))
    plan = fr.RoundPlan(plan.clients[keep], plan.recon[keep], plan.post[keep],
                        {name: v[keep] for name, v in plan.user_init.items()})
    out = {}
    for m in ms:
        cut = keep_first_recon_ratings(plan, m, eval_config.batch_size, eval_config.recon_epochs)
        out[m] = fr.evaluate(spec, global_params, data, eval_config=eval_config, plan=cut)
    return out, len(keep)
