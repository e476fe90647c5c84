"""Reference solutions to notebook 05's exercises (read from the notebook), on small keys and
literal arrays."""

import math

import numpy as np
import pytest
from teacher import solutions

from minigrad.privacy import dp, paillier

nb05 = solutions("05")


@pytest.fixture(scope="module")
def keys():
    # tests only: insecure
    return paillier.generate_keypair(128, rng=np.random.default_rng(11), insecure_demo=True)


# ---------------------------------------------------------------------------
# 1. a reused noise factor
# ---------------------------------------------------------------------------
def test_reused_noise_reveals_the_moved_rows_and_every_value(keys, rng):
    public_key, _ = keys
    update = [0, 0, 1_000, 0, -37, 0, 0, 0, 5, 0]  # fixed point: rows 2, 4, 8 moved

    ciphertexts = nb05.encrypt_reusing_noise(public_key, update, rng)

    assert nb05.rows_revealed(ciphertexts).tolist() == [2, 4, 8]
    assert nb05.read_reused_noise(public_key, ciphertexts) == update


def test_fresh_noise_reveals_nothing_of_the_kind(keys, rng):
    public_key, private_key = keys
    update = [0, 0, 1_000, 0, -37, 0]

    fresh = [public_key.encrypt(v, rng) for v in update]

    assert len(set(fresh)) == len(fresh)  # every E(0) looks different
    assert len(nb05.rows_revealed(fresh)) == len(update) - 1  # "most common" is arbitrary
    with pytest.raises(ValueError):
        nb05.plaintext_difference(public_key, fresh[0], fresh[1])
    assert [private_key.decrypt(c) for c in fresh][2] == 1_000  # the key still reads them


def test_plaintext_difference_is_signed(keys, rng):
    public_key, _ = keys
    c_small, c_big = nb05.encrypt_reusing_noise(public_key, [3, 10], rng)

    assert nb05.plaintext_difference(public_key, c_big, c_small) == 7
    assert nb05.plaintext_difference(public_key, c_small, c_big) == -7


def test_rows_revealed_of_nothing_is_empty():
    assert nb05.rows_revealed([]).tolist() == []


# ---------------------------------------------------------------------------
# 2. the accountant backwards
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("z, eps", [(0.5, 21.07), (1.0, 4.85), (2.0, 1.46), (4.0, 0.59)])
def test_noise_for_epsilon_inverts_the_planning_table(z, eps):
    # the planning table of minigrad.privacy.dp: q = 0.1, 30 rounds, delta = 1e-5
    found = nb05.noise_multiplier_for_epsilon(eps, 0.1, 30, 1e-5)

    assert dp.rdp_epsilon(0.1, found, 30, 1e-5)[0] <= eps
    assert dp.rdp_epsilon(0.1, found - 2e-4, 30, 1e-5)[0] > eps  # and it is the smallest
    assert abs(found - z) < 0.02  # the table's epsilons are rounded to 2 decimals


def test_noise_for_epsilon_rejects_unreachable_targets():
    with pytest.raises(ValueError):
        nb05.noise_multiplier_for_epsilon(0, 0.1, 30, 1e-5)
    with pytest.raises(ValueError):
        nb05.noise_multiplier_for_epsilon(1e-3, 1.0, 1000, 1e-5, high=5.0)


def test_max_rounds_agrees_with_rdp_epsilon_on_both_sides():
    rounds = nb05.max_rounds_for_epsilon(4.85, 0.1, 1.0, 1e-5)

    assert rounds == 30  # the table: 30 rounds at z = 1 cost 4.85
    assert dp.rdp_epsilon(0.1, 1.0, rounds, 1e-5)[0] <= 4.85
    assert dp.rdp_epsilon(0.1, 1.0, rounds + 1, 1e-5)[0] > 4.85


def test_max_rounds_is_zero_when_one_round_is_already_too_many():
    assert nb05.max_rounds_for_epsilon(0.1, 1.0, 1.0, 1e-5) == 0


# ---------------------------------------------------------------------------
# 3. the best membership test and DP's bound on it
# ---------------------------------------------------------------------------
def test_membership_tpr_closed_form():
    assert nb05.membership_tpr(0.05, 0.0) == pytest.approx(0.05)  # no signal: a coin
    # Phi(Phi^-1(0.05) + 1.6449) = Phi(0) = 0.5
    assert nb05.membership_tpr(0.05, 1.6448536269514722) == pytest.approx(0.5, abs=1e-12)
    tpr = nb05.membership_tpr(np.array([0.0, 0.01, 0.1, 1.0]), 2.0)
    assert tpr[0] == 0.0 and tpr[-1] == 1.0
    assert np.all(np.diff(tpr) > 0)
    with pytest.raises(ValueError):
        nb05.membership_tpr(1.5, 1.0)


def test_dp_tpr_bound_literal_values():
    assert nb05.dp_tpr_bound(0.01, 0.0, 0.0) == pytest.approx(0.01)  # eps = 0: no test beats chance
    assert nb05.dp_tpr_bound(0.01, math.log(2), 0.0) == pytest.approx(0.02)
    # large eps: the second constraint binds, 1 - e^-eps (1 - delta - fpr)
    assert nb05.dp_tpr_bound(0.5, 10.0, 1e-5) == pytest.approx(1 - math.exp(-10) * (0.5 - 1e-5))
    assert nb05.dp_tpr_bound(0.9, 50.0, 0.2) == 1.0


@pytest.mark.parametrize("z", [0.5, 1.0, 2.0])
def test_simulated_test_matches_the_closed_form_and_respects_dp(rng, z):
    update = {"weight": rng.normal(0, 1, (300, 1))}  # larger than the clip: clipped to norm 1

    fpr, tpr = nb05.simulate_membership_test(update, 1.0, z, rng, trials=3000, fpr=0.05)

    expected = nb05.membership_tpr(0.05, 1.0 / z)
    assert abs(fpr - 0.05) < 0.015
    assert abs(tpr - expected) < 0.03
    eps = dp.rdp_epsilon(1.0, z, 1, 1e-5)[0]
    assert tpr <= nb05.dp_tpr_bound(fpr, eps, 1e-5) + 0.03  # sampling slack


def test_simulated_test_rejects_a_zero_update_and_a_global_rng(rng):
    with pytest.raises(ValueError):
        nb05.simulate_membership_test({"w": np.zeros(3)}, 1.0, 1.0, rng)
    with pytest.raises(TypeError):
        nb05.simulate_membership_test({"w": np.ones(3)}, 1.0, 1.0, 0)


# ---------------------------------------------------------------------------
# the lesson's two short exercises, against the package
# ---------------------------------------------------------------------------
def test_my_masked_input_agrees_with_the_protocols_masks(rng):
    from minigrad.privacy.secure_aggregation import pairwise_mask

    seeds = {(u, v): rng.bytes(32) for u in range(5) for v in range(u + 1, 5)}
    xs = [rng.integers(0, 2 ** 32, 7, dtype=np.uint32) for _ in range(5)]
    ys = []
    for u in range(5):
        peers = {v: seeds[min(u, v), max(u, v)] for v in range(5) if v != u}
        y = nb05.my_masked_input(u, xs[u], peers)
        expected = xs[u].copy()
        for v, seed in peers.items():
            expected += pairwise_mask(u, v, seed, 7)
        assert np.array_equal(y, expected)
        ys.append(y)

    assert np.array_equal(np.sum(ys, axis=0, dtype=np.uint32), np.sum(xs, axis=0, dtype=np.uint32))


def test_my_dp_aggregate_draws_what_dp_aggregate_draws(rng):
    updates = [{"w": rng.normal(0, 1, (4, 2)), "b": rng.normal(0, 3, 3)} for _ in range(3)]

    mine = nb05.my_dp_aggregate(updates, 1.5, 0.8, np.random.default_rng(9), 2.0)
    package = dp.dp_aggregate(updates, 1.5, 0.8, np.random.default_rng(9), 2.0)

    for name in package:
        np.testing.assert_allclose(mine[name], package[name], rtol=1e-12, atol=1e-14)


# ---------------------------------------------------------------------------
# the worked "going further" code
# ---------------------------------------------------------------------------
def test_accuracy_for_budgets_trains_at_the_noise_each_budget_needs():
    seen = []

    def train(population, z, clip, seed):
        seen.append((population, z, clip, seed))
        return [0.5, 0.9 - 0.01 * z], None, None

    def find_noise(epsilon, q, rounds, delta):
        return 8.0 / epsilon

    points = nb05.accuracy_for_budgets(train, "clients", 0.3, find_noise, targets=(1.0, 4.0))

    assert points == {1.0: (8.0, pytest.approx(0.82)), 4.0: (2.0, pytest.approx(0.88))}
    assert seen == [("clients", 8.0, 0.3, 1000), ("clients", 2.0, 0.3, 1000)]


def test_membership_table_puts_the_simulation_beside_the_closed_form(rng):
    update = {"w": rng.normal(0, 1, 50)}

    rows = nb05.membership_table(update, 1.0, [0.5, 2.0], rng, nb05.membership_tpr,
                                 nb05.dp_tpr_bound, trials=2000, fpr=0.05)

    for z, eps, fpr, tpr, closed, bound in rows:
        assert eps == dp.rdp_epsilon(1.0, z, 1, 1e-5)[0]
        assert closed == pytest.approx(nb05.membership_tpr(0.05, 1.0 / z))
        assert abs(tpr - closed) < 0.04 and abs(fpr - 0.05) < 0.02
        assert tpr <= bound + 0.03
