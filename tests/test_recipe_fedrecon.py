"""Notebook 03's recipe: the stateful and centralized baselines, top-k, error by recon epochs."""

import numpy as np
import pytest
from recondata import ALL_BIASES, planted_movielens, small_clients, uneven_clients

from minigrad.federated import reconstruction as fr
from minigrad.recipes import fedrecon as recipe


@pytest.fixture(scope="module")
def planted():
    """500 users x 400 items, 180 ratings each; train / unseen users; the planted truth."""
    return planted_movielens()


# ---------------------------------------------------------------------------
# baselines for the comparison table
# ---------------------------------------------------------------------------
# ---------------------------------------------------------------------------
def test_stateful_fedmf_stores_every_users_embedding_and_unseen_users_start_cold(planted):
    ml, _, train, unseen = planted
    spec = fr.MFSpec(num_items=ml.num_items, dim=8, init_scale=0.1, item_bias=True,
                     user_bias=True, global_bias=True,
                     global_bias_init=float(ml.ratings["rating"].mean()))
    config = fr.FedReconConfig(client_lr=0.05, clients_per_round=100)

    state, history = recipe.train_stateful(spec, config, train, 20, np.random.default_rng(1))
    on_train = recipe.evaluate_stateful(spec, state, train, np.random.default_rng(2))
    on_unseen = recipe.evaluate_stateful(spec, state, unseen, np.random.default_rng(2))
    folded = fr.evaluate(spec, state.params, unseen, np.random.default_rng(2),
                         eval_config=fr.EvalConfig(recon_epochs=10))

    assert state.user_params["user_embedding"].shape == (len(train), 8)   # on the server
    assert on_train["num_unseen_users"] == 0 and on_unseen["num_unseen_users"] == len(unseen)
    assert on_train["rmse"] < on_unseen["rmse"]
    assert folded["rmse"] < on_unseen["rmse"]      # reconstruction helps whom it never saw
    assert history[-1]["loss"] < history[0]["loss"]


def test_stateful_round_is_joint_sgd_per_client(rng):
    data = uneven_clients(rng, sizes=(5, 11))
    spec = fr.MFSpec(num_items=30, dim=3, **ALL_BIASES)
    config = fr.FedReconConfig(batch_size=2, clients_per_round=2, client_lr=0.1,
                               server_lr=1.0)
    state = recipe.initialize_stateful(spec, data, rng)
    plan = recipe.make_stateful_plan(spec, config, data, rng)

    new, _ = recipe.stateful_round(spec, config, state, data, plan)

    deltas, counts = [], []
    for k, c in enumerate(plan.clients):
        items, ratings = data.client(c)
        g = {n: np.array(v, copy=True) for n, v in state.params.items()}
        loc = {n: np.array(v[c], copy=True) for n, v in state.user_params.items()}
        for b in plan.batches(k, "post"):
            _, _, grads = fr.mf_loss_and_grads(spec, g, loc, items[b], ratings[b])
            np.add.at(g["item_embedding"], items[b], -0.1 * grads["item_embedding"])
            np.add.at(g["item_bias"], items[b], -0.1 * grads["item_bias"])
            g["global_bias"] -= 0.1 * grads["global_bias"]
            for n in loc:
                loc[n] -= 0.1 * grads[n]
        for n in loc:
            np.testing.assert_allclose(new.user_params[n][c], loc[n], atol=1e-12)
        deltas.append({n: state.params[n] - g[n] for n in g})
        counts.append(len(items))
    for n in spec.global_names:
        mean = sum(w * d[n] for w, d in zip(counts, deltas, strict=True)) / sum(counts)
        np.testing.assert_allclose(new.params[n], state.params[n] - mean, atol=1e-12)


def test_centralized_mf_with_fold_in_beats_the_global_mean(planted):
    ml, _, train, unseen = planted
    mean = float(ml.ratings["rating"].mean())
    spec = fr.MFSpec(num_items=ml.num_items, dim=8, init_scale=0.1, global_bias_init=mean,
                     **ALL_BIASES)

    g, local = recipe.train_centralized(spec, train, 5, np.random.default_rng(1), lr=0.01,
                                        batch_size=512)
    folded = fr.evaluate(spec, g, unseen, np.random.default_rng(2),
                         eval_config=fr.EvalConfig(recon_epochs=10))

    assert set(g) == set(spec.global_names) and set(local) == set(spec.local_names)
    assert local["user_embedding"].shape == (len(train), 8)
    global_mean = float(np.sqrt(np.mean((unseen.rating - mean) ** 2)))
    assert folded["rmse"] < 0.85 * global_mean


# ---------------------------------------------------------------------------
# using a trained model: top-k recommendations, error against reconstruction epochs
# ---------------------------------------------------------------------------
def test_recommend_ranks_every_allowed_item_by_predicted_rating(rng):
    spec = fr.MFSpec(num_items=6, dim=2, **ALL_BIASES)
    glob = {"item_embedding": np.array([[1.0, 0], [0, 1], [1, 1], [-1, 0], [0.5, 0.5], [2, 0]]),
            "item_bias": np.array([0.0, 0.5, 0.0, 0.0, 0.25, -1.5]),
            "global_bias": np.array(3.0)}
    local = {"user_embedding": np.array([1.0, 0.5]), "user_bias": np.array(0.1)}
    # scores: 4.1, 4.1, 4.6, 2.1, 4.1, 3.6  (items 0, 1, 4 tie)

    items, scores = recipe.recommend(spec, glob, local, k=4)
    kept, _ = recipe.recommend(spec, glob, local, k=10, exclude=[2, 0])

    np.testing.assert_array_equal(items, [2, 0, 1, 4])          # ties: smaller id first
    np.testing.assert_allclose(scores, [4.6, 4.1, 4.1, 4.1])
    np.testing.assert_array_equal(kept, [1, 4, 5, 3])             # all that is left
    brute = fr.predict(spec, glob, local, np.arange(6))
    np.testing.assert_allclose(scores, brute[items])


def test_recommend_rejects_a_bad_k():
    spec = fr.MFSpec(num_items=3, dim=1)
    glob, local = {"item_embedding": np.ones((3, 1))}, {"user_embedding": np.ones(1)}
    with pytest.raises(ValueError, match="k must be"):
        recipe.recommend(spec, glob, local, k=-1)
    assert len(recipe.recommend(spec, glob, local, k=0)[0]) == 0


def test_evaluate_by_recon_epochs_uses_the_same_halves_for_every_count(rng):
    data = small_clients(rng)
    spec = fr.MFSpec(num_items=12, dim=3, init_scale=0.3, **ALL_BIASES)
    params = spec.init_globals(rng)
    params["global_bias"] = np.array(3.0)
    config = fr.EvalConfig(batch_size=2, recon_lr=0.05)

    curve = recipe.evaluate_by_recon_epochs(spec, params, data, [0, 1, 4], seeds=7,
                                            eval_config=config)

    for e, metrics in curve.items():
        alone = fr.evaluate(spec, params, data, np.random.default_rng(7),
                            eval_config=fr.EvalConfig(batch_size=2, recon_lr=0.05,
                                                      recon_epochs=e))
        assert set(metrics) == set(alone)
        for key, value in alone.items():
            assert metrics[key] == pytest.approx(value, rel=1e-12), (e, key)
    assert len({m["num_examples"] for m in curve.values()}) == 1
    # 0 epochs: the fresh initial values, no step taken
    plan = fr.make_eval_plan(spec, fr.EvalConfig(batch_size=2, recon_epochs=0), data,
                             np.random.default_rng(7))
    sq, n = 0.0, 0
    for k, c in enumerate(plan.clients):
        items, ratings = data.client(c)
        held = np.concatenate(plan.batches(k, "post"))
        err = fr.predict(spec, params, plan.client_init(k), items[held]) - ratings[held]
        sq, n = sq + float(err @ err), n + len(held)
    assert curve[0]["loss"] == pytest.approx(sq / n, rel=1e-12)
    assert curve[4]["rmse"] != curve[1]["rmse"]


def test_a_step_cap_spanning_the_epochs_is_honoured(rng):
    data = small_clients(rng)
    spec = fr.MFSpec(num_items=12, dim=3, init_scale=0.3, **ALL_BIASES)
    params = spec.init_globals(rng)
    config = fr.EvalConfig(batch_size=2, recon_steps_max=3)

    curve = recipe.evaluate_by_recon_epochs(spec, params, data, [1, 5], seeds=4, eval_config=config)

    for e in (1, 5):
        alone = fr.evaluate(spec, params, data, np.random.default_rng(4),
                            eval_config=fr.EvalConfig(batch_size=2, recon_steps_max=3,
                                                      recon_epochs=e))
        assert curve[e] == alone
    with pytest.raises(ValueError, match=">= 0"):
        recipe.evaluate_by_recon_epochs(spec, params, data, [-1], seeds=4)


def test_evaluate_by_recon_epochs_refuses_reshuffled_halves(rng):
    data = small_clients(rng)
    spec = fr.MFSpec(num_items=12, dim=2)
    with pytest.raises(ValueError, match="halves"):
        recipe.evaluate_by_recon_epochs(spec, spec.init_globals(rng), data, [1], seeds=0,
                                        eval_config=fr.EvalConfig(reshuffle_each_pass=True))


def test_several_seeds_average_the_draws_of_the_halves(rng):
    data = small_clients(rng)
    spec = fr.MFSpec(num_items=12, dim=3, init_scale=0.3, **ALL_BIASES)
    params = spec.init_globals(rng)
    config = fr.EvalConfig(batch_size=2)

    curve = recipe.evaluate_by_recon_epochs(spec, params, data, [2], seeds=[3, 4, 5],
                                            eval_config=config)[2]

    single = [recipe.evaluate_by_recon_epochs(spec, params, data, [2], seeds=s,
                                              eval_config=config)[2] for s in (3, 4, 5)]
    for key in ("loss", "rmse", "rating_accuracy"):
        values = [m[key] for m in single]
        assert curve[key] == pytest.approx(np.mean(values), rel=1e-12)
        assert curve[key + "_std"] == pytest.approx(np.std(values), rel=1e-12, abs=1e-15)
    assert curve["num_draws"] == 3
    assert len({m["rmse"] for m in single}) > 1          # the draws do differ
    with pytest.raises(ValueError, match="no seed"):
        recipe.evaluate_by_recon_epochs(spec, params, data, [1], seeds=[])


def test_ranking_scores_of_an_oracle_are_one_and_the_most_rated_ranker_skips_the_recon_half():
    ml, _, train, unseen = planted_movielens()
    spec, config = fr.MFSpec(num_items=ml.num_items, dim=2), fr.EvalConfig()

    def oracle(plan, j, items, ratings, k):  # the held-out items rated >= 4, best first
        held = np.concatenate(plan.batches(j, "post"))
        return items[held][np.argsort(-ratings[held], kind="stable")][:k]

    perfect = recipe.ranking_scores(oracle, spec, config, unseen, draws=[0, 1])
    assert perfect["recall"] == pytest.approx(1.0) and perfect["ndcg"] == pytest.approx(1.0)
    assert perfect["recall_std"] == 0 and 0 < perfect["num_users"] <= len(unseen)

    counts = np.bincount(np.concatenate([train.client(c)[0] for c in range(len(train))]),
                         minlength=ml.num_items)
    top_k = recipe.most_rated_top_k(counts)
    plan = fr.make_eval_plan(spec, config, unseen, np.random.default_rng(0))
    items, ratings = unseen.client(plan.clients[0])
    ranked = top_k(plan, 0, items, ratings, 10)
    recon = items[np.concatenate(plan.batches(0, "recon"))]
    allowed = np.flatnonzero(~np.isin(np.arange(ml.num_items), recon))
    # naive reference: the allowed items by count, ties to the smaller id
    expected = sorted(allowed, key=lambda i: (-counts[i], i))[:10]
    np.testing.assert_array_equal(ranked, expected)
    assert 0 <= recipe.ranking_scores(top_k, spec, config, unseen, draws=[0])["recall"] <= 1
