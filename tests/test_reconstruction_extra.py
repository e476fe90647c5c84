"""Notebook 03's helpers in reconstruction.py: top-k recommendations, error by recon epochs."""

import numpy as np
import pytest

from minigrad.federated import reconstruction as fr

ALL_BIASES = dict(item_bias=True, user_bias=True, global_bias=True)


def small_clients(rng, num_items=12, sizes=(3, 5, 8, 12)):
    item = np.concatenate([rng.choice(num_items, size=n, replace=False) for n in sizes])
    rating = rng.integers(1, 6, size=len(item)).astype(np.float64)
    return fr.ClientRatings(item.astype(np.int64), rating, np.r_[0, np.cumsum(sizes)],
                            np.arange(len(sizes)))


def test_recommend_ranks_every_allowed_item_by_predicted_rating(rng):
    spec = fr.MFSpec(num_items=6, dim=2, **ALL_BIASES)
    glob = {"item_embedding": np.array([[1.0, 0], [0, 1], [1, 1], [-1, 0], [0.5, 0.5], [2, 0]]),
            "item_bias": np.array([0.0, 0.5, 0.0, 0.0, 0.25, -1.5]),
            "global_bias": np.array(3.0)}
    local = {"user_embedding": np.array([1.0, 0.5]), "user_bias": np.array(0.1)}
    # scores: 4.1, 4.1, 4.6, 2.1, 4.1, 3.6  (items 0, 1, 4 tie)

    items, scores = fr.recommend(spec, glob, local, k=4)
    kept, _ = fr.recommend(spec, glob, local, k=10, exclude=[2, 0])

    np.testing.assert_array_equal(items, [2, 0, 1, 4])          # ties: smaller id first
    np.testing.assert_allclose(scores, [4.6, 4.1, 4.1, 4.1])
    np.testing.assert_array_equal(kept, [1, 4, 5, 3])             # all that is left
    brute = fr.predict(spec, glob, local, np.arange(6))
    np.testing.assert_allclose(scores, brute[items])


def test_recommend_rejects_a_bad_k():
    spec = fr.MFSpec(num_items=3, dim=1)
    glob, local = {"item_embedding": np.ones((3, 1))}, {"user_embedding": np.ones(1)}
    with pytest.raises(ValueError, match="k must be"):
        fr.recommend(spec, glob, local, k=-1)
    assert len(fr.recommend(spec, glob, local, k=0)[0]) == 0


def test_evaluate_by_recon_epochs_uses_the_same_halves_for_every_count(rng):
    data = small_clients(rng)
    spec = fr.MFSpec(num_items=12, dim=3, init_scale=0.3, **ALL_BIASES)
    params = spec.init_globals(rng)
    params["global_bias"] = np.array(3.0)
    config = fr.EvalConfig(batch_size=2, recon_lr=0.05)

    curve = fr.evaluate_by_recon_epochs(spec, params, data, [0, 1, 4], seeds=7, eval_config=config)

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

    curve = fr.evaluate_by_recon_epochs(spec, params, data, [1, 5], seeds=4, eval_config=config)

    for e in (1, 5):
        alone = fr.evaluate(spec, params, data, np.random.default_rng(4),
                            eval_config=fr.EvalConfig(batch_size=2, recon_steps_max=3,
                                                      recon_epochs=e))
        assert curve[e] == alone
    with pytest.raises(ValueError, match=">= 0"):
        fr.evaluate_by_recon_epochs(spec, params, data, [-1], seeds=4)


def test_evaluate_by_recon_epochs_refuses_reshuffled_halves(rng):
    data = small_clients(rng)
    spec = fr.MFSpec(num_items=12, dim=2)
    with pytest.raises(ValueError, match="halves"):
        fr.evaluate_by_recon_epochs(spec, spec.init_globals(rng), data, [1], seeds=0,
                                    eval_config=fr.EvalConfig(reshuffle_each_pass=True))


def test_several_seeds_average_the_draws_of_the_halves(rng):
    data = small_clients(rng)
    spec = fr.MFSpec(num_items=12, dim=3, init_scale=0.3, **ALL_BIASES)
    params = spec.init_globals(rng)
    config = fr.EvalConfig(batch_size=2)

    curve = fr.evaluate_by_recon_epochs(spec, params, data, [2], seeds=[3, 4, 5],
                                        eval_config=config)[2]

    single = [fr.evaluate_by_recon_epochs(spec, params, data, [2], seeds=s,
                                          eval_config=config)[2] for s in (3, 4, 5)]
    for key in ("loss", "rmse", "rating_accuracy"):
        values = [m[key] for m in single]
        assert curve[key] == pytest.approx(np.mean(values), rel=1e-12)
        assert curve[key + "_std"] == pytest.approx(np.std(values), rel=1e-12, abs=1e-15)
    assert curve["num_draws"] == 3
    assert len({m["rmse"] for m in single}) > 1          # the draws do differ
    with pytest.raises(ValueError, match="no seed"):
        fr.evaluate_by_recon_epochs(spec, params, data, [1], seeds=[])


def _both_engines_on_tiny_users(ratings_per_user, clients_per_round, num_rounds):
    """FedRecon on users u = 0, 1, ... with ratings_per_user(u) ratings each, trained by the
    vectorized engine and by the per-client reference: (fast, slow, initial item table)."""
    import pandas as pd

    from minigrad.federated import reconstruction as fr

    rows = [(u, (u * 7 + j) % 20, float(1 + (u + j) % 5), j)
            for u, n in enumerate(ratings_per_user) for j in range(n)]
    df = pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "timestamp"])
    data = fr.client_datasets(df)
    spec = fr.MFSpec(num_items=20, dim=4)
    config = fr.FedReconConfig(clients_per_round=clients_per_round)
    fast, _ = fr.train(spec, config, data, num_rounds, np.random.default_rng(0))
    slow, _ = fr.train(spec, config, data, num_rounds, np.random.default_rng(0), reference=True)
    start = fr.initialize(spec, config, np.random.default_rng(0)).params["item_embedding"]
    return fast, slow, start


def test_lockstep_handles_clients_whose_post_reconstruction_phase_is_empty():
    # Arrange: users with 3-5 ratings have one batch of 5, so split_dataset leaves them
    # no post-reconstruction step; users with 9-12 ratings have some.
    counts = [3 + (u % 2) * (6 + u % 4) for u in range(8)]
    # Act
    fast, slow, start = _both_engines_on_tiny_users(counts, clients_per_round=6, num_rounds=4)
    # Assert: the item table moved, and both engines agree
    assert np.abs(slow.params["item_embedding"] - start).max() > 0
    np.testing.assert_allclose(fast.params["item_embedding"],
                               slow.params["item_embedding"], rtol=0, atol=1e-10)


def test_lockstep_handles_a_round_whose_post_reconstruction_phase_is_empty():
    # Arrange: every user has 3-5 ratings = one batch of 5, so with split_dataset the
    # whole round has no post-reconstruction step (the vectorized engine used to raise).
    counts = [3 + u % 3 for u in range(6)]
    # Act
    fast, slow, start = _both_engines_on_tiny_users(counts, clients_per_round=3, num_rounds=2)
    # Assert: nothing to learn from, in both engines
    np.testing.assert_array_equal(fast.params["item_embedding"], start)
    np.testing.assert_array_equal(slow.params["item_embedding"], start)
