"""Reference solutions to notebook 03's exercises (read from the notebook), on small generated
clients."""

import numpy as np
import pytest
from teacher import solutions

from minigrad.federated import reconstruction as fr

nb03 = solutions("03")

ALL_BIASES = dict(item_bias=True, user_bias=True, global_bias=True)


def small_clients(rng, num_items=40, sizes=(4, 9, 16, 30)):
    item = np.concatenate([rng.choice(num_items, size=n, replace=False) for n in sizes])
    rating = rng.integers(1, 6, size=len(item)).astype(np.float64)
    return fr.ClientRatings(item.astype(np.int64), rating, np.r_[0, np.cumsum(sizes)],
                            np.arange(len(sizes)))


def one_client_round(spec, config, data, rng, client=3):
    """(the client's message, the user embedding it reconstructed and kept)."""
    state = fr.initialize(spec, config, rng)
    plan = fr.make_round_plan(spec, config, data, rng, clients=[client])
    items, ratings = data.client(client)
    update = fr.client_update_reference(spec, config, state.params, items, ratings,
                                        plan.batches(0, "recon"), plan.batches(0, "post"),
                                        plan.client_init(0))
    local = fr.reconstruct_reference(spec, state.params, items, ratings,
                                     plan.batches(0, "recon"), plan.client_init(0),
                                     config.recon_lr)
    return update, local["user_embedding"]


# ---------------------------------------------------------------------------
# exercise 1
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("epochs", [1, 3])
def test_with_item_biases_the_server_reads_the_user_embedding_exactly(rng, epochs):
    spec = fr.MFSpec(num_items=40, dim=4, init_scale=0.5, **ALL_BIASES)
    config = fr.FedReconConfig(batch_size=3, post_recon_epochs=epochs, recon_epochs=2)

    update, u = one_client_round(spec, config, small_clients(rng), rng)
    recovered, exact = nb03.user_embedding_from_update(update.delta)

    assert exact
    np.testing.assert_allclose(recovered, u, rtol=1e-9, atol=1e-12)


def test_without_biases_the_server_reads_the_direction_of_u(rng):
    spec = fr.MFSpec(num_items=40, dim=4, init_scale=0.5)
    config = fr.FedReconConfig(batch_size=3, recon_epochs=2)

    update, u = one_client_round(spec, config, small_clients(rng), rng)
    direction, exact = nb03.user_embedding_from_update(update.delta)

    assert not exact
    assert np.linalg.norm(direction) == pytest.approx(1.0)
    assert abs(direction @ u) / np.linalg.norm(u) == pytest.approx(1.0, abs=1e-10)


def test_an_update_without_changed_rows_says_nothing():
    with pytest.raises(ValueError):
        nb03.user_embedding_from_update({"item_embedding": np.zeros((3, 2))})


# ---------------------------------------------------------------------------
# exercise 2
# ---------------------------------------------------------------------------
def test_ridge_fold_in_recovers_a_planted_user_from_noise_free_ratings(rng):
    spec = fr.MFSpec(num_items=40, dim=3, **ALL_BIASES)
    glob = {"item_embedding": rng.normal(size=(40, 3)), "item_bias": rng.normal(size=40),
            "global_bias": np.array(3.5)}
    truth = {"user_embedding": np.array([0.5, -1.0, 0.25]), "user_bias": np.array(-0.3)}
    items = np.arange(10)
    ratings = fr.predict(spec, glob, truth, items)

    local = nb03.reconstruct_ridge(spec, glob, items, ratings, l2=1e-10)
    shrunk = nb03.reconstruct_ridge(spec, glob, items, ratings, l2=100.0)

    np.testing.assert_allclose(local["user_embedding"], truth["user_embedding"], atol=1e-7)
    assert float(local["user_bias"]) == pytest.approx(-0.3, abs=1e-7)
    assert np.linalg.norm(shrunk["user_embedding"]) < np.linalg.norm(truth["user_embedding"])


def test_evaluate_ridge_scores_the_plans_held_out_half(rng):
    data = small_clients(rng)
    spec = fr.MFSpec(num_items=40, dim=2, **ALL_BIASES)
    glob = spec.init_globals(rng)
    glob["global_bias"] = np.array(3.0)
    plan = fr.make_eval_plan(spec, fr.EvalConfig(batch_size=2), data, np.random.default_rng(1))

    result = nb03.evaluate_ridge(spec, glob, data, plan, l2=1.0, fold_in=nb03.reconstruct_ridge)
    reference = fr.evaluate(spec, glob, data, plan=plan,
                            eval_config=fr.EvalConfig(batch_size=2))

    assert result["num_examples"] == reference["num_examples"]
    assert result["num_users"] == reference["num_users"]
    assert result["rmse"] == pytest.approx(np.sqrt(result["loss"]))
    assert 0 < result["rmse"] < 3


# ---------------------------------------------------------------------------
# exercise 3
# ---------------------------------------------------------------------------
def test_keeping_all_recon_ratings_changes_nothing_and_m_caps_each_user(rng):
    data = small_clients(rng)
    spec = fr.MFSpec(num_items=40, dim=2, **ALL_BIASES)
    glob = spec.init_globals(rng)
    config = fr.EvalConfig(batch_size=3, recon_epochs=2)
    plan = fr.make_eval_plan(spec, fr.EvalConfig(batch_size=3), data, np.random.default_rng(1))
    plan2 = fr.make_eval_plan(spec, config, data, np.random.default_rng(1))

    everything = nb03.keep_first_recon_ratings(plan, 1000, 3, epochs=2)
    two = nb03.keep_first_recon_ratings(plan, 2, 3, epochs=2)

    np.testing.assert_array_equal(everything.recon, plan2.recon)
    assert (fr.evaluate(spec, glob, data, eval_config=config, plan=everything)
            == fr.evaluate(spec, glob, data, eval_config=config, plan=plan2))
    for k in range(len(plan)):
        used = np.concatenate(two.batches(k, "recon"))
        first = np.concatenate(plan.batches(k, "recon"))[:2]
        np.testing.assert_array_equal(used, np.tile(first, 2))
    np.testing.assert_array_equal(two.post, plan.post)


def test_rmse_by_num_recon_ratings_scores_the_same_users_for_every_m(rng):
    data = small_clients(rng, sizes=(4, 9, 16, 30, 40))
    spec = fr.MFSpec(num_items=40, dim=2, init_scale=0.3, **ALL_BIASES)
    glob = spec.init_globals(rng)
    glob["global_bias"] = np.array(3.0)

    curve, num_users = nb03.rmse_by_num_recon_ratings(
        spec, glob, data, [0, 2, 6], seed=3, eval_config=fr.EvalConfig(batch_size=2),
        keep_first=nb03.keep_first_recon_ratings)

    assert num_users == 3                      # the users with >= 6 ratings to reconstruct on
    assert len({m["num_examples"] for m in curve.values()}) == 1
    assert {m["num_users"] for m in curve.values()} == {3}


# ---------------------------------------------------------------------------
# the short exercises inside the lesson
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("epochs", [1, 2])
def test_the_lessons_client_update_is_the_packages_on_a_real_client(rng, epochs):
    spec = fr.MFSpec(num_items=40, dim=4, init_scale=0.5)
    config = fr.FedReconConfig(batch_size=3, recon_epochs=epochs, post_recon_epochs=epochs)
    data = small_clients(rng)
    params = fr.initialize(spec, config, rng).params
    plan = fr.make_round_plan(spec, config, data, rng, clients=[3])
    items, ratings = data.client(3)
    recon, post, init = plan.batches(0, "recon"), plan.batches(0, "post"), plan.client_init(0)

    u = nb03.my_reconstruct(params["item_embedding"], items, ratings, recon,
                            init["user_embedding"], config.recon_lr)
    delta = nb03.my_client_update(params["item_embedding"], items, ratings, recon, post,
                                  init["user_embedding"], config.recon_lr, config.client_lr)
    local = fr.reconstruct_reference(spec, params, items, ratings, recon, init, config.recon_lr)
    update = fr.client_update_reference(spec, config, params, items, ratings, recon, post, init)

    np.testing.assert_allclose(u, local["user_embedding"], rtol=1e-12)
    np.testing.assert_allclose(delta, update.delta["item_embedding"], rtol=1e-12, atol=1e-15)
