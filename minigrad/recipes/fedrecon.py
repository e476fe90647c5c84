"""Notebook 03's baselines and helpers around Federated Reconstruction.

Stateful federated MF (the server stores every user's embedding: what FedRecon avoids),
centralized MF (all ratings in one place; unseen users folded in with ``fr.evaluate``),
top-k ``recommend``, ``evaluate_by_recon_epochs``, and ranking metrics of a recommender
(``ranking_scores``). Parameters as in
``minigrad.federated.reconstruction`` (``fr``): {name: ndarray}, global and local names.
"""

from dataclasses import dataclass, replace

import numpy as np

from ..federated import reconstruction as fr
from ..federated.params import copy_params
from ..federated.reconstruction import lockstep
from ..federated.reconstruction.mf import (
    GLOBAL_BIAS,
    ITEM_BIAS,
    ITEM_EMBEDDING,
    USER_BIAS,
    USER_EMBEDDING,
)
from ..federated.round import History
from ..metrics import ndcg_at_k, recall_at_k
from ..optim import adam_step
from ..rng import check_generator

__all__ = [
    "StatefulState",
    "initialize_stateful",
    "make_stateful_plan",
    "stateful_round",
    "train_stateful",
    "evaluate_stateful",
    "train_centralized",
    "recommend",
    "evaluate_by_recon_epochs",
]


# ---------------------------------------------------------------------------
# baseline 1: stateful federated MF (the server stores every user's embedding)
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class StatefulState:
    """Server state of stateful federated MF: global parameters AND each seen user's.

    user_params {local name: (C, ...)} for the training users ``user_ids`` (C,).
    This is what FedRecon avoids: the server can read every user's embedding.
    """

    params: dict
    user_params: dict
    user_ids: np.ndarray
    round_num: int = 0


def initialize_stateful(spec, data, rng):
    """Fresh global parameters and a fresh local set for every user of ``data``."""
    params = spec.init_globals(rng)
    return StatefulState(params, spec.init_locals(len(data), rng), np.array(data.user_ids), 0)


def make_stateful_plan(spec, config, data, rng, clients=None):
    """Sample clients and shuffle their data; no reconstruction: every batch trains.

    ``config.post_recon_epochs`` / ``post_recon_steps_max`` apply; ``user_init``
    is empty (the server supplies each user's stored parameters).
    """
    check_generator(rng, "make_stateful_plan")
    clients, sizes, shared = fr.round_clients(config, data, rng, clients)
    k, b = len(clients), config.batch_size
    post = lockstep.phase_schedule(
        fr.epoch_passes(rng, sizes, config.post_recon_epochs, config.reshuffle_each_pass, shared),
        k, b, "all", config.post_recon_steps_max)
    return fr.RoundPlan(clients, np.full((k, 0, b), -1, dtype=np.int64), post, {})


def stateful_round(spec, config, state, data, plan):
    """One round: each client trains its stored locals and the globals jointly (SGD,
    ``client_lr``), returns the global delta AND its new locals, which the server stores.
    """
    if config.server_optimizer != "sgd" or config.server_momentum:
        raise ValueError("stateful federated MF: only the plain SGD server optimizer is "
                         "supported")
    starts = data.offsets[plan.clients]
    p = state.params
    phase = lockstep.gather_phase(data.item, data.rating, starts, plan.post, spec.dtype)
    u0 = state.user_params[USER_EMBEDDING][plan.clients]
    c0 = state.user_params[USER_BIAS][plan.clients] if spec.user_bias else None
    out = lockstep.train_globals(fr.global_arrays(p), phase, u0, c0, lr=config.client_lr,
                                 train_locals=True)
    mean_delta, metrics = fr.aggregate(spec, fr.updates_from_lockstep(spec, out))
    server = fr.server_update(spec, config, fr.ServerState(p, {}, state.round_num), mean_delta)
    user_params = copy_params(state.user_params)
    user_params[USER_EMBEDDING][plan.clients] = out["u"]
    if spec.user_bias:
        user_params[USER_BIAS][plan.clients] = out["c"]
    return StatefulState(server.params, user_params, state.user_ids, server.round_num), metrics


def train_stateful(spec, config, data, num_rounds, rng, *, state=None, history=None):
    """``num_rounds`` rounds of stateful federated MF (plain SGD on the server)."""
    state = initialize_stateful(spec, data, rng) if state is None else state
    history = History() if history is None else history
    for _ in range(num_rounds):
        plan = make_stateful_plan(spec, config, data, rng)
        state, metrics = stateful_round(spec, config, state, data, plan)
        history.append({"round": state.round_num, **metrics})
    return state, history


def evaluate_stateful(spec, state, data, rng=None, *, eval_config=None, plan=None):
    """Score stored user parameters on each user's evaluated half (no reconstruction).

    A user the server has never seen has nothing stored: it gets fresh initial
    local parameters, as on first contact. Adds ``num_unseen_users``.
    """
    eval_config = fr.EvalConfig() if eval_config is None else eval_config
    if plan is None:
        check_generator(rng, "evaluate_stateful")
        plan = fr.make_eval_plan(spec, eval_config, data, rng)
    where = {int(u): i for i, u in enumerate(state.user_ids)}
    users = data.user_ids[plan.clients]
    seen = np.array([int(u) in where for u in users], dtype=bool)
    local = copy_params(plan.user_init)
    if seen.any():
        stored = np.array([where[int(u)] for u in users[seen]])
        for name in local:
            local[name][seen] = state.user_params[name][stored]
    out = fr.score(spec, state.params, local, data, plan)
    out["num_unseen_users"] = int((~seen).sum())
    return out


# ---------------------------------------------------------------------------
# baseline 2: centralized MF (all ratings in one place), for fold-in
# ---------------------------------------------------------------------------
def train_centralized(spec, data, num_epochs, rng, *, lr=0.01, batch_size=256, l2=0.0,
                      optimizer="adam"):
    """Matrix factorization trained on every rating of ``data`` at once (no federation).

    Minibatch SGD or Adam on the batch-mean squared error (+ ``l2`` times the squared
    norm of the looked-up rows and biases). Returns (global params, local params
    {name: (C, ...)} for data's clients). For unseen users, fold in with
    ``fr.evaluate(spec, global_params, ...)``: their locals are reconstructed exactly
    as in FedRecon's evaluation.
    """
    check_generator(rng, "train_centralized")
    if optimizer not in ("sgd", "adam"):
        raise ValueError(f"optimizer must be 'sgd' or 'adam', got {optimizer!r}")
    params = {**spec.init_globals(rng), **spec.init_locals(len(data), rng)}
    user = np.repeat(np.arange(len(data)), data.num_examples)
    item, rating = data.item, data.rating.astype(spec.dtype, copy=False)
    m = {k: np.zeros_like(v) for k, v in params.items()}
    v = {k: np.zeros_like(p) for k, p in params.items()}
    step = 0
    for _ in range(num_epochs):
        order = rng.permutation(len(item))
        for lo in range(0, len(order), batch_size):
            idx = order[lo: lo + batch_size]
            it, us, y = item[idx], user[idx], rating[idx]
            rows, uvec = params[ITEM_EMBEDDING][it], params[USER_EMBEDDING][us]
            y_hat = fr.predict_rows(
                rows, uvec, item_bias=params[ITEM_BIAS][it] if spec.item_bias else None,
                global_bias=params[GLOBAL_BIAS] if spec.global_bias else None,
                user_bias=params[USER_BIAS][us] if spec.user_bias else None)
            g = (2.0 / len(idx)) * (y_hat - y)
            per_row = {ITEM_EMBEDDING: g[:, None] * uvec + 2 * l2 * rows / len(idx),
                       USER_EMBEDDING: g[:, None] * rows + 2 * l2 * uvec / len(idx)}
            if spec.item_bias:
                per_row[ITEM_BIAS] = g + 2 * l2 * params[ITEM_BIAS][it] / len(idx)
            if spec.user_bias:
                per_row[USER_BIAS] = g + 2 * l2 * params[USER_BIAS][us] / len(idx)
            index = {ITEM_EMBEDDING: it, ITEM_BIAS: it, USER_EMBEDDING: us, USER_BIAS: us}
            grads = {name: lockstep.scatter_rows(index[name], rows_g, len(params[name]))
                     .reshape(params[name].shape) for name, rows_g in per_row.items()}
            if spec.global_bias:
                grads[GLOBAL_BIAS] = np.asarray(g.sum())
            step += 1
            for name, grad in grads.items():
                if optimizer == "sgd":
                    params[name] -= lr * grad
                    continue
                adam_step(params[name], grad, m[name], v[name], step, lr, 0.9, 0.999, 1e-8)
    global_params = {name: params[name] for name in spec.global_names}
    local_params = {name: params[name] for name in spec.local_names}
    return global_params, local_params


# ---------------------------------------------------------------------------
# using a trained model: recommendations, and error against reconstruction epochs
# (notebook 03)
# ---------------------------------------------------------------------------
def recommend(spec, global_params, local_params, k=10, exclude=None):
    """One user's top-k items by predicted rating: -> (items (k',), scores (k',)), best first.

    local_params: that user's {local name: array} (e.g. from ``reconstruct_reference``);
    exclude: item ids never to recommend, typically the ones the user has rated.
    Ties go to the smaller item id; k' = min(k, items not excluded).
    """
    if int(k) != k or k < 0:
        raise ValueError(f"recommend: k must be an integer >= 0, got {k!r}")
    scores = np.array(fr.predict(spec, global_params, local_params, np.arange(spec.num_items)),
                      dtype=np.float64)
    allowed = np.ones(spec.num_items, dtype=bool)
    if exclude is not None:
        allowed[np.asarray(exclude, dtype=np.int64)] = False
    candidates = np.flatnonzero(allowed)
    best = candidates[np.lexsort((candidates, -scores[candidates]))][: int(k)]
    return best, scores[best]


def evaluate_by_recon_epochs(spec, global_params, data, epochs, seeds, *, eval_config=None):
    """``evaluate`` for several numbers of reconstruction epochs, on the same halves.

    epochs: iterable of ints >= 0 (0: the fresh initial local values, no step).
    seeds: an int, or several ints to average over several draws of the halves. Each
    draw's plan comes from ``np.random.default_rng(seed)``; a plan draws the shuffle
    before the fresh local values, and without ``reshuffle_each_pass`` one shuffle
    serves every epoch, so every count starts from the same values on the same half
    and is scored on the same other half (for any ``spec``: the halves depend only on
    the seed, the data and the batch size). The epochs of one draw are run once, in
    order, scoring after each requested count: the largest count costs what all of
    them cost. Returns {epochs: metrics}; with several seeds, loss, rmse,
    rating_accuracy and batch_mean_loss are means over the draws, with their
    standard deviations as loss_std, rmse_std, rating_accuracy_std,
    batch_mean_loss_std, and num_draws.
    """
    eval_config = fr.EvalConfig() if eval_config is None else eval_config
    if eval_config.reshuffles:
        raise ValueError("evaluate_by_recon_epochs: with reshuffle_each_pass (or split="
                         "'tff_reshuffled') the halves would differ between counts")
    counts = sorted({int(e) for e in epochs})
    if counts and counts[0] < 0:
        raise ValueError(f"evaluate_by_recon_epochs: epochs must be >= 0, got {counts[0]}")
    several = np.ndim(seeds) > 0
    seeds = [int(s) for s in np.atleast_1d(seeds)]
    if not seeds:
        raise ValueError("evaluate_by_recon_epochs: no seed")
    one_pass = replace(eval_config, recon_epochs=1, recon_steps_max=None)
    runs = []                                   # per draw: {count: metrics}
    for s in seeds:
        if eval_config.recon_steps_max is not None:    # the cap spans epochs: no shortcut
            runs.append({e: fr.evaluate(spec, global_params, data, np.random.default_rng(s),
                                     eval_config=replace(eval_config, recon_epochs=e))
                         for e in counts})
            continue
        plan = fr.make_eval_plan(spec, one_pass, data, np.random.default_rng(s))
        local, done, scores = plan.user_init, 0, {}
        for e in counts:
            while done < e:                     # one more pass over the same half
                local = fr.reconstruct(spec, global_params, data,
                                    fr.RoundPlan(plan.clients, plan.recon, plan.post, local),
                                    eval_config.recon_lr)
                done += 1
            scores[e] = fr.score(spec, global_params, local, data, plan)
        runs.append(scores)
    if not several:
        return runs[0]
    out = {}
    for e in counts:
        merged = dict(runs[0][e])
        for key in ("loss", "rmse", "rating_accuracy", "batch_mean_loss"):
            values = [r[e][key] for r in runs]
            merged[key] = float(np.mean(values))
            merged[key + "_std"] = float(np.std(values))
        merged["num_draws"] = len(runs)
        out[e] = merged
    return out


def reconstruction_top_k(spec, global_params, eval_config):
    """A ranker for ``ranking_scores``: the user reconstructs on its half, then ranks every
    item outside that half with ``recommend``."""
    def top_k(plan, j, items, ratings, k):
        recon = plan.batches(j, "recon")
        local = fr.reconstruct_reference(spec, global_params, items, ratings, recon,
                                         plan.client_init(j), eval_config.recon_lr)
        return recommend(spec, global_params, local, k=k, exclude=items[np.concatenate(recon)])[0]
    return top_k


def most_rated_top_k(item_counts):
    """A ranker that is not personal: the items with most ratings in ``item_counts`` (num_items,),
    minus the user's reconstruction half; ties go to the smaller item id."""
    by_count = np.argsort(-np.asarray(item_counts), kind="stable")

    def top_k(plan, j, items, ratings, k):
        recon = items[np.concatenate(plan.batches(j, "recon"))]
        return by_count[~np.isin(by_count, recon)][:k]
    return top_k


def ranking_scores(top_k, spec, eval_config, data, draws, k=10, relevant_from=4.0):
    """Recall@k and NDCG@k of ``top_k`` on the held-out halves of ``data``'s users.

    For each seed in ``draws`` the evaluation plan draws the halves; a held-out item rated
    >= relevant_from is relevant; per draw, the mean over users with a relevant item; then the
    mean and std over draws -> {recall, recall_std, ndcg, ndcg_std, num_users}.
    top_k(plan, j, items, ratings, k) -> item ids, best first (``reconstruction_top_k``,
    ``most_rated_top_k``).
    """
    per_draw = []
    for d in draws:
        plan = fr.make_eval_plan(spec, eval_config, data, np.random.default_rng(d))
        recalls, ndcgs = [], []
        for j, client in enumerate(plan.clients):
            items, ratings = data.client(client)
            held = np.concatenate(plan.batches(j, "post"))
            relevant = items[held][ratings[held] >= relevant_from]
            if len(relevant) > 0:
                ranked = top_k(plan, j, items, ratings, k)
                recalls.append(recall_at_k(ranked, relevant, k))
                ndcgs.append(ndcg_at_k(ranked, relevant, k))
        if not recalls:
            raise ValueError("ranking_scores: no user has a relevant held-out item")
        per_draw.append((np.mean(recalls), np.mean(ndcgs), len(recalls)))
    per_draw = np.array(per_draw)
    return dict(recall=per_draw[:, 0].mean(), recall_std=per_draw[:, 0].std(),
                ndcg=per_draw[:, 1].mean(), ndcg_std=per_draw[:, 1].std(),
                num_users=per_draw[:, 2].mean())
