"""TFF's evaluation protocol, reproduced: overlapping halves and the per-batch loss.

TensorFlow Federated's ``build_fed_recon_eval`` (0.87) reconstructs on the even
batches of one iteration of a user's reshuffling dataset and evaluates on the odd
batches of another, so the halves overlap; its ``loss`` averages batch MSEs.
``EvalConfig(split="tff_reshuffled")`` and ``batch_mean_loss`` reproduce both, so
notebook 03 can put TFF's figures next to ours on the same footing.
"""

import numpy as np
import pytest
from realdata import ML100K_MISSING, ML100K_ROOT

from minigrad.datasets import load_movielens
from minigrad.federated import reconstruction as fr
from minigrad.recipes import fedrecon as recipe

TFF = fr.EvalConfig(split="tff_reshuffled")


def many_clients(rng, num_clients=400, num_items=500):
    """Clients of 20-100 distinct items each, ratings 1-5."""
    sizes = rng.integers(20, 101, size=num_clients)
    item = np.concatenate([rng.choice(num_items, size=n, replace=False) for n in sizes])
    rating = rng.integers(1, 6, size=len(item)).astype(np.float64)
    return fr.ClientRatings(item.astype(np.int64), rating, np.r_[0, np.cumsum(sizes)],
                            np.arange(num_clients))


def halves(plan, k):
    """Client k's reconstruction and evaluated examples, in visiting order."""
    def pick(phase):
        return np.concatenate(plan.batches(k, phase) or [np.zeros(0, np.int64)])

    return pick("recon"), pick("post")


def pooled_overlap(plan):
    """Share of all evaluated examples that were also reconstructed on."""
    shared = total = 0
    for k in range(len(plan)):
        recon, held_out = halves(plan, k)
        shared += int(np.isin(held_out, recon).sum())
        total += len(held_out)
    return shared / total


# ---------------------------------------------------------------------------
# the split
# ---------------------------------------------------------------------------
def test_tff_halves_overlap_by_about_half_and_ours_not_at_all(rng):
    data = many_clients(rng)
    spec = fr.MFSpec(num_items=500, dim=2)

    tff_plan = fr.make_eval_plan(spec, TFF, data, np.random.default_rng(1))
    our_plan = fr.make_eval_plan(spec, fr.EvalConfig(), data, np.random.default_rng(1))

    # even batches hold a little more than half, so slightly above 0.5 is expected
    assert 0.47 < pooled_overlap(tff_plan) < 0.57
    assert pooled_overlap(our_plan) == 0.0


def test_each_tff_half_is_the_even_or_odd_batches_of_a_whole_pass(rng):
    data = many_clients(rng, num_clients=30)
    spec = fr.MFSpec(num_items=500, dim=2)
    b = TFF.batch_size

    plan = fr.make_eval_plan(spec, TFF, data, np.random.default_rng(2))

    for k in range(len(plan)):
        n = int(data.num_examples[k])
        batch_sizes = [min(b, n - lo) for lo in range(0, n, b)]
        recon, held_out = halves(plan, k)
        assert [len(x) for x in plan.batches(k, "recon")] == batch_sizes[0::2]
        assert [len(x) for x in plan.batches(k, "post")] == batch_sizes[1::2]
        assert len(set(recon)) == len(recon) and len(set(held_out)) == len(held_out)
        assert set(recon) <= set(range(n)) and set(held_out) <= set(range(n))


def test_tff_split_is_deterministic_by_seed_and_is_reshuffled_batches(rng):
    data = many_clients(rng, num_clients=20)
    spec = fr.MFSpec(num_items=500, dim=3)
    same = fr.EvalConfig(split="batches", reshuffle_each_pass=True)

    first = fr.make_eval_plan(spec, TFF, data, np.random.default_rng(5))
    again = fr.make_eval_plan(spec, TFF, data, np.random.default_rng(5))
    other = fr.make_eval_plan(spec, TFF, data, np.random.default_rng(6))
    spelled_out = fr.make_eval_plan(spec, same, data, np.random.default_rng(5))

    for plan in (again, spelled_out):
        np.testing.assert_array_equal(plan.recon, first.recon)
        np.testing.assert_array_equal(plan.post, first.post)
        np.testing.assert_array_equal(plan.user_init["user_embedding"],
                                      first.user_init["user_embedding"])
    assert not np.array_equal(other.post, first.post)
    assert TFF.reshuffles and same.reshuffles and not fr.EvalConfig().reshuffles


def test_bad_split_names_the_choices():
    with pytest.raises(ValueError, match="'batches', 'examples' or 'tff_reshuffled'"):
        fr.EvalConfig(split="tff")


def test_epoch_curves_refuse_the_tff_split(rng):
    data = many_clients(rng, num_clients=5)
    spec = fr.MFSpec(num_items=500, dim=2)
    with pytest.raises(ValueError, match="tff_reshuffled"):
        recipe.evaluate_by_recon_epochs(spec, spec.init_globals(rng), data, [1], seeds=0,
                                        eval_config=TFF)


# ---------------------------------------------------------------------------
# the per-batch loss
# ---------------------------------------------------------------------------
def test_batch_mean_loss_gives_each_batch_one_weight():
    # one user, three ratings; u = 0 predicts 0 everywhere; no reconstruction step
    spec = fr.MFSpec(num_items=3, dim=1)
    params = {"item_embedding": np.ones((3, 1))}
    data = fr.ClientRatings(np.array([0, 1, 2]), np.array([1.0, 1.0, 3.0]), np.array([0, 3]),
                            np.array([7]))
    post = np.array([[[0, 1], [2, -1]]])                  # batches {0, 1} and {2}
    plan = fr.RoundPlan(np.array([0]), np.full((1, 0, 2), -1), post,
                        {"user_embedding": np.zeros((1, 1))})

    fast = fr.evaluate(spec, params, data, plan=plan)
    slow = fr.evaluate_reference(spec, params, data, plan=plan)

    for out in (fast, slow):
        assert out["loss"] == pytest.approx((1 + 1 + 9) / 3)           # per rating
        assert out["batch_mean_loss"] == pytest.approx(((1 + 1) / 2 + 9) / 2)   # per batch


def test_batch_mean_loss_equals_the_per_user_loop(rng):
    data = many_clients(rng, num_clients=25, num_items=120)
    spec = fr.MFSpec(num_items=120, dim=3, init_scale=0.3, item_bias=True, user_bias=True,
                     global_bias=True, global_bias_init=3.0)
    params = spec.init_globals(rng)

    for config in (TFF, fr.EvalConfig(batch_size=3), fr.EvalConfig(split="examples")):
        fast = fr.evaluate(spec, params, data, np.random.default_rng(3), eval_config=config)
        slow = fr.evaluate_reference(spec, params, data, np.random.default_rng(3),
                                     eval_config=config)
        for key in ("loss", "rating_accuracy", "batch_mean_loss"):
            assert fast[key] == pytest.approx(slow[key], rel=1e-10)
        assert fast["batch_mean_loss"] != pytest.approx(fast["loss"], rel=1e-6)


# ---------------------------------------------------------------------------
# real data: the tutorial's users
# ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def movielens_tutorial():
    if ML100K_ROOT is None:
        pytest.skip(ML100K_MISSING)
    ml = load_movielens("ml-100k", root=ML100K_ROOT)
    perm = np.random.RandomState(42).permutation(ml.num_users)   # the tutorial's split
    cut_val, cut_test = int(ml.num_users * 0.8), int(ml.num_users * 0.9)
    train = fr.client_datasets(ml, perm[:cut_val], max_examples_per_user=300)
    test = fr.client_datasets(ml, perm[cut_test:], max_examples_per_user=300)
    return ml, train, test


def test_on_movielens_the_tff_halves_overlap_by_half_and_flatter_the_model(movielens_tutorial):
    ml, train, test = movielens_tutorial
    spec = fr.MFSpec(num_items=ml.num_items, dim=50)
    state, _ = fr.train(spec, fr.FedReconConfig(), train, 20, np.random.default_rng(0))
    draws = range(100)

    overlap = [pooled_overlap(fr.make_eval_plan(spec, TFF, test, np.random.default_rng(d)))
               for d in range(5)]
    tff = [fr.evaluate(spec, state.params, test, np.random.default_rng(d), eval_config=TFF)
           for d in draws]
    ours = [fr.evaluate(spec, state.params, test, np.random.default_rng(d)) for d in draws]

    assert all(0.48 < f < 0.56 for f in overlap)
    # scoring on ratings that also fitted u looks better: lower loss over the same 100 seeds
    assert np.mean([m["loss"] for m in tff]) < np.mean([m["loss"] for m in ours])
    assert all(m["num_users"] == len(test) for m in tff)
