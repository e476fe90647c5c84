"""Metrics against brute force on small arrays, ties included."""

import itertools

import numpy as np
import pytest

from minigrad import metrics


def brute_force_auc(y, s):
    """Count positive-negative pairs: 1 if the positive scores higher, 1/2 on a tie."""
    pos = [si for yi, si in zip(y, s, strict=True) if yi == 1]
    neg = [si for yi, si in zip(y, s, strict=True) if yi == 0]
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p, n in itertools.product(pos, neg))
    return wins / (len(pos) * len(neg))


@pytest.mark.parametrize("seed", range(8))
def test_auc_equals_brute_force_pair_count_with_ties(seed):
    # Arrange: integer scores in 0..4 so that many pairs tie
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 40))
    y = rng.integers(0, 2, n)
    y[:2] = [0, 1]
    s = rng.integers(0, 5, n).astype(float)
    # Act / Assert
    assert metrics.auc(y, s) == pytest.approx(brute_force_auc(y, s), abs=1e-12)


def test_auc_special_cases():
    y = np.array([0, 0, 1, 1])
    assert metrics.auc(y, [0.1, 0.2, 0.3, 0.4]) == 1.0
    assert metrics.auc(y, [0.4, 0.3, 0.2, 0.1]) == 0.0
    assert metrics.auc(y, [0.5, 0.5, 0.5, 0.5]) == 0.5
    assert metrics.auc([0, 1, 0, 1], [1, 3, 2, 2]) == 0.875   # 3 wins + one tie at 1/2
    assert np.isnan(metrics.auc([1, 1], [0.2, 0.3]))


def test_auc_is_invariant_to_monotone_transforms(rng):
    y = rng.integers(0, 2, 200)
    s = rng.standard_normal(200)
    assert metrics.auc(y, s) == pytest.approx(metrics.auc(y, 1 / (1 + np.exp(-3 * s))))


def test_average_ranks_share_the_mean_rank_of_ties():
    ranks = metrics.average_ranks([10, 20, 10, 30, 20, 20])
    assert ranks.tolist() == [1.5, 4.0, 1.5, 6.0, 4.0, 4.0]


def test_precision_recall_accuracy_against_counts():
    y = np.array([1, 1, 0, 0, 1, 0])
    p = np.array([0.9, 0.4, 0.6, 0.1, 0.5, 0.2])   # predicted positive: 0, 2, 4 (>= 0.5)
    assert metrics.precision(y, p) == pytest.approx(2 / 3)
    assert metrics.recall(y, p) == pytest.approx(2 / 3)
    assert metrics.accuracy(y, p) == pytest.approx(4 / 6)
    assert metrics.precision(y, p, threshold=0.95) == 0.0        # nothing predicted positive
    assert metrics.recall([0, 0], [0.7, 0.8]) == 0.0               # no positives


def test_log_loss_matches_the_formula_and_stays_finite():
    y = np.array([1, 0, 1])
    p = np.array([0.8, 0.3, 0.6])
    expected = -np.mean([np.log(0.8), np.log(0.7), np.log(0.6)])
    assert metrics.log_loss(y, p) == pytest.approx(expected)
    assert np.isfinite(metrics.log_loss([1, 0], [0.0, 1.0]))


def test_binary_metrics_keys_and_bad_input():
    out = metrics.binary_metrics([0, 1, 1], [0.2, 0.7, 0.4])
    assert set(out) == {"loss", "auc", "precision", "recall", "accuracy"}
    with pytest.raises(ValueError, match="0/1"):
        metrics.auc([0, 2], [0.1, 0.2])
    with pytest.raises(ValueError, match="entries"):
        metrics.auc([0, 1, 1], [0.1, 0.2])


def naive_recall_at_k(ranked, relevant, k):
    """Loop over the top k and count the relevant ones; divide by min(k, |relevant|)."""
    relevant = set(relevant)
    hits = sum(1 for item in list(ranked)[:k] if item in relevant)
    return hits / min(k, len(relevant))


def naive_ndcg_at_k(ranked, relevant, k):
    """DCG and ideal DCG summed term by term with math.log2."""
    import math

    relevant = set(relevant)
    dcg = sum(1 / math.log2(r + 2) for r, item in enumerate(list(ranked)[:k]) if item in relevant)
    ideal = sum(1 / math.log2(r + 2) for r in range(min(k, len(relevant))))
    return dcg / ideal


def test_ranking_metrics_on_a_case_worked_by_hand():
    # Arrange: hits at ranks 1 and 3 of the top 3; two relevant items, one of them not ranked
    ranked, relevant = [7, 2, 5, 9], [5, 7, 11]
    # Act / Assert: recall 2 / min(3, 3); DCG 1 + 1/2, ideal 1 + 1/log2(3) + 1/2
    assert metrics.recall_at_k(ranked, relevant, k=3) == pytest.approx(2 / 3)
    expected = (1 + 0.5) / (1 + 1 / np.log2(3) + 0.5)
    assert metrics.ndcg_at_k(ranked, relevant, k=3) == pytest.approx(expected, abs=1e-12)


def test_ranking_metrics_perfect_and_empty_rankings():
    # a perfect top k scores 1 even with more relevant items than k; no hit scores 0
    assert metrics.recall_at_k([1, 2, 3, 4], [1, 2, 3, 4, 5], k=2) == 1.0
    assert metrics.ndcg_at_k([1, 2, 3, 4], [1, 2, 3, 4, 5], k=2) == pytest.approx(1.0)
    assert metrics.recall_at_k([8, 9], [1], k=2) == 0.0
    assert metrics.ndcg_at_k([8, 9], [1], k=2) == 0.0
    assert np.isnan(metrics.recall_at_k([1, 2], [], k=2))
    assert np.isnan(metrics.ndcg_at_k([1, 2], [], k=2))
    with pytest.raises(ValueError):
        metrics.recall_at_k([1, 1, 2], [1], k=2)
    with pytest.raises(ValueError):
        metrics.ndcg_at_k([1, 2], [1], k=0)


@pytest.mark.parametrize("seed", range(20))
def test_ranking_metrics_equal_naive_loops(seed):
    # Arrange: a random ranking of 30 items (sometimes shorter than k), random relevant ids
    rng = np.random.default_rng(seed)
    ranked = rng.permutation(30)[: int(rng.integers(3, 30))]
    relevant = rng.choice(40, size=int(rng.integers(1, 15)), replace=False)
    for k in (1, 5, 10, 40):
        # Act / Assert
        assert metrics.recall_at_k(ranked, relevant, k) == pytest.approx(
            naive_recall_at_k(ranked, relevant, k), abs=1e-12)
        assert metrics.ndcg_at_k(ranked, relevant, k) == pytest.approx(
            naive_ndcg_at_k(ranked, relevant, k), abs=1e-12)


# ------------------------------------------------------------- hostile inputs (issue 17)
_CLASSIFIERS = [metrics.auc, metrics.precision, metrics.recall, metrics.accuracy,
                metrics.log_loss, metrics.binary_metrics]


@pytest.mark.parametrize("fn", _CLASSIFIERS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_classification_metrics_refuse_non_finite_scores(fn, bad):
    with pytest.raises(ValueError, match=r"\[1\] is .*expected finite"):
        fn([0, 1, 1], [0.2, bad, 0.4])


@pytest.mark.parametrize("fn", _CLASSIFIERS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("y", [[0, 1, np.nan], [0, 1, 2], [0, 1, -1], [0.0, 1.0, 0.5]])
def test_classification_metrics_refuse_non_binary_targets(fn, y):
    with pytest.raises(ValueError, match="0/1"):
        fn(y, [0.2, 0.7, 0.4])


@pytest.mark.parametrize("fn", _CLASSIFIERS, ids=lambda f: f.__name__)
def test_classification_metrics_refuse_transposed_shapes_but_accept_a_column(fn):
    y = np.array([[0, 1, 1], [1, 0, 0]])
    p = np.array([[0.2, 0.7], [0.4, 0.9], [0.1, 0.3]])
    with pytest.raises(ValueError, match=r"shape \(2, 3\).*shape \(3, 2\)"):
        fn(y, p)
    column = fn(np.array([[0], [1], [1]]), np.array([0.2, 0.7, 0.4]))
    assert column == fn([0, 1, 1], [0.2, 0.7, 0.4])


@pytest.mark.parametrize("p", [1.5, -0.1])
def test_log_loss_refuses_probabilities_outside_0_1_instead_of_clipping(p):
    with pytest.raises(ValueError, match=r"log_loss: p\[1\] is .*\[0, 1\]"):
        metrics.log_loss([0, 1], [0.2, p])


@pytest.mark.parametrize("eps", [0.0, -1e-7, 0.5, np.nan])
def test_log_loss_refuses_a_bad_eps(eps):
    with pytest.raises(ValueError, match="log_loss: eps="):
        metrics.log_loss([0, 1], [0.2, 0.7], eps=eps)


@pytest.mark.parametrize("fn", [metrics.precision, metrics.recall, metrics.accuracy])
@pytest.mark.parametrize("threshold", [np.nan, np.inf, "0.5"])
def test_threshold_metrics_refuse_a_bad_threshold(fn, threshold):
    with pytest.raises(ValueError, match="threshold="):
        fn([0, 1, 1], [0.2, 0.7, 0.4], threshold=threshold)


@pytest.mark.parametrize("fn", [metrics.recall_at_k, metrics.ndcg_at_k])
@pytest.mark.parametrize("ranked, relevant, k, error", [
    ([1.0, np.nan], [1], 2, TypeError),        # a NaN id matches nothing, silently
    ([1, 2], [np.nan], 2, TypeError),
    ([1.5, 2.0], [1], 2, TypeError),
    ([1, 2], [1], 1.5, ValueError),
    ([1, 2], [1], True, ValueError),
    ([1, 2], [1], -1, ValueError),
])
def test_ranking_metrics_refuse_non_integer_ids_and_k(fn, ranked, relevant, k, error):
    with pytest.raises(error):
        fn(ranked, relevant, k=k)
