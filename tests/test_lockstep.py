"""The lockstep engine: every client's SGD at once == the per-client loop, on small data."""

import numpy as np
import pandas as pd
from recondata import ALL_BIASES, uneven_clients

from minigrad.federated import reconstruction as fr
from minigrad.federated.reconstruction import lockstep


def _both_engines_on_tiny_users(ratings_per_user, clients_per_round, num_rounds):
    """FedRecon on users u = 0, 1, ... with ratings_per_user(u) ratings each, trained by the
    vectorized engine and by the per-client reference: (fast, slow, initial item table)."""
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


def test_each_shuffled_pass_is_a_permutation_of_each_clients_own_examples(rng):
    sizes = np.array([0, 1, 4, 9])

    owner, local, position = lockstep.shuffled_pass(rng, sizes)

    for k, n in enumerate(sizes):
        mine = owner == k
        assert sorted(local[mine]) == list(range(n))
        assert sorted(position[mine]) == list(range(n))


def test_reconstructing_all_clients_at_once_equals_each_clients_reference_loop(rng):
    # Arrange: clients of very different lengths, items repeating inside a batch
    data = uneven_clients(rng, repeats=True)
    spec = fr.MFSpec(num_items=30, dim=3, **ALL_BIASES)
    params = {k: v + rng.normal(0, 0.3, np.shape(v)) for k, v in spec.init_globals(rng).items()}
    plan = fr.make_eval_plan(spec, fr.EvalConfig(batch_size=2, recon_epochs=2), data, rng)
    phase = lockstep.gather_phase(data.item, data.rating, data.offsets[plan.clients],
                                  plan.recon, spec.dtype)
    start = plan.user_init["user_embedding"].copy()

    # Act
    u, c = lockstep.reconstruct_locals(fr.global_arrays(params), phase,
                                       plan.user_init["user_embedding"],
                                       plan.user_init["user_bias"], lr=0.1)

    # Assert: per client, the same SGD as the loop; the starting values untouched
    np.testing.assert_array_equal(plan.user_init["user_embedding"], start)
    for k, client in enumerate(plan.clients):
        items, ratings = data.client(client)
        ref = fr.reconstruct_reference(spec, params, items, ratings, plan.batches(k, "recon"),
                                       plan.client_init(k), 0.1)
        np.testing.assert_allclose(u[k], ref["user_embedding"], rtol=0, atol=1e-12)
        np.testing.assert_allclose(c[k], ref["user_bias"], rtol=0, atol=1e-12)


def test_the_all_at_once_shortcut_equals_the_stepwise_path(rng):
    # Arrange: every client rates an item at most once, so ``train_globals`` computes all
    # steps at once; the stepwise path is run on the same phase for comparison
    data = uneven_clients(rng, sizes=(1, 2, 5, 9, 14, 23, 30))
    spec = fr.MFSpec(num_items=30, dim=3, item_bias=True, user_bias=True)
    config = fr.FedReconConfig(batch_size=3, clients_per_round=len(data), split_dataset=False)
    params = {k: v + rng.normal(0, 0.3, np.shape(v)) for k, v in spec.init_globals(rng).items()}
    plan = fr.make_round_plan(spec, config, data, rng)
    phase = lockstep.gather_phase(data.item, data.rating, data.offsets[plan.clients],
                                  plan.post, spec.dtype)
    u, c = plan.user_init["user_embedding"], plan.user_init["user_bias"]
    key = (np.arange(len(plan))[None, :, None] * 30 + phase.items)[phase.valid]
    slot = np.empty(len(key), dtype=np.int64)
    slot[np.argsort(key, kind="stable")] = np.arange(len(key))     # no repeats: one row each

    # Act
    at_once = lockstep.train_globals(fr.global_arrays(params), phase, u, c, lr=0.5)
    errors, d_table, d_bias, _ = lockstep._train_globals_in_steps(
        fr.global_arrays(params), phase, u.copy(), c.copy(), 0.5, train_locals=False,
        row_slot=slot, row_item=at_once["row_item"])

    # Assert
    assert len(at_once["row_item"]) == len(key)                     # the shortcut was taken
    np.testing.assert_allclose(at_once["d_table"], d_table, rtol=0, atol=1e-12)
    np.testing.assert_allclose(at_once["d_item_bias"], d_bias, rtol=0, atol=1e-12)
    loss_sum = np.where(phase.valid, errors * errors, 0.0).sum(axis=(0, 2))
    np.testing.assert_allclose(at_once["loss_sum"], loss_sum, rtol=1e-12)
