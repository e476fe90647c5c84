"""Metrics in NumPy: AUC (rank-based, ties averaged), precision, recall, log loss; Recall@k, NDCG@k.

The classification metrics take ``y_true`` of 0/1 labels and ``y_score`` (probabilities or
any scores) of the same length; no Python loop over rows. The ranking metrics take one
user's ranked item ids (best first) and the ids of the items relevant to that user.
"""

import numbers

import numpy as np

__all__ = ["auc", "average_ranks", "precision", "recall", "accuracy", "log_loss",
           "binary_metrics", "recall_at_k", "ndcg_at_k"]


def _pair(y_true, y_score, fn, name="y_score"):
    """0/1 labels as bool and finite float64 scores, both (n,); ValueError otherwise."""
    y_true, y_score = np.asarray(y_true), np.asarray(y_score)
    # (n,) against (n, 1) is fine; (2, 3) against (3, 2) would pair the wrong rows
    if np.squeeze(y_true).shape != np.squeeze(y_score).shape:
        raise ValueError(f"{fn}: y_true has shape {y_true.shape} ({y_true.size} entries) but "
                         f"{name} has shape {y_score.shape} ({y_score.size} entries)")
    if y_score.dtype.kind not in "biuf":
        raise TypeError(f"{fn}: {name} has dtype {y_score.dtype}; expected real numbers")
    y_true = y_true.reshape(-1)
    y_score = y_score.astype(np.float64).reshape(-1)
    labels = np.unique(y_true)
    if not np.isin(labels, (0, 1)).all():
        raise ValueError(f"{fn}: y_true must hold 0/1 labels, found {labels[:5].tolist()}")
    if not np.isfinite(y_score).all():
        k = int(np.flatnonzero(~np.isfinite(y_score))[0])
        raise ValueError(f"{fn}: {name}[{k}] is {float(y_score[k])}; expected finite scores")
    return y_true.astype(bool), y_score


def _check_threshold(threshold, fn):
    if isinstance(threshold, (bool, np.bool_)) or not isinstance(threshold, numbers.Real) \
            or not np.isfinite(threshold):
        raise ValueError(f"{fn}: threshold={threshold!r}; expected a finite number")


def average_ranks(x):
    """1-based ranks of ``x`` (n,), tied values sharing the mean of their ranks."""
    x = np.asarray(x).reshape(-1)
    order = np.argsort(x, kind="mergesort")
    sorted_x = x[order]
    starts = np.flatnonzero(np.r_[True, sorted_x[1:] != sorted_x[:-1]])   # first of each tie run
    ends = np.r_[starts[1:], x.size]                                       # one past its last
    mean_rank = (starts + 1 + ends) / 2.0                                  # mean of starts+1..ends
    ranks = np.empty(x.size, dtype=np.float64)
    ranks[order] = np.repeat(mean_rank, ends - starts)
    return ranks


def auc(y_true, y_score):
    """Area under the ROC curve = P(score of a random positive > a random negative).

    Mann-Whitney: (sum of the positives' ranks - P(P+1)/2) / (P N), with tied scores
    given their average rank, so a positive-negative tie counts 1/2. NaN if either
    class is absent.
    """
    y, s = _pair(y_true, y_score, "auc")
    num_pos = int(y.sum())
    num_neg = y.size - num_pos
    if num_pos == 0 or num_neg == 0:
        return float("nan")
    rank_sum = average_ranks(s)[y].sum()
    return float((rank_sum - num_pos * (num_pos + 1) / 2.0) / (num_pos * num_neg))


def _confusion(y_true, y_score, threshold, fn):
    _check_threshold(threshold, fn)
    y, s = _pair(y_true, y_score, fn)
    predicted = s >= threshold
    tp = int((predicted & y).sum())
    return tp, int(predicted.sum()), int(y.sum()), y.size, int((predicted == y).sum())


def precision(y_true, y_score, threshold=0.5):
    """TP / (TP + FP) with ``y_score >= threshold`` predicted positive; 0 if none is."""
    tp, predicted, _, _, _ = _confusion(y_true, y_score, threshold, "precision")
    return tp / predicted if predicted else 0.0


def recall(y_true, y_score, threshold=0.5):
    """TP / (TP + FN) with ``y_score >= threshold`` predicted positive; 0 if no positives."""
    tp, _, positives, _, _ = _confusion(y_true, y_score, threshold, "recall")
    return tp / positives if positives else 0.0


def accuracy(y_true, y_score, threshold=0.5):
    """Fraction of rows where (y_score >= threshold) equals the label."""
    _, _, _, n, correct = _confusion(y_true, y_score, threshold, "accuracy")
    return correct / n if n else float("nan")


def log_loss(y_true, p, eps=1e-7):
    """Mean binary cross-entropy of probabilities ``p`` in [0, 1] (clipped to [eps, 1-eps]).

    The clipping only keeps log(0) away; a "probability" outside [0, 1] is an error.
    """
    if isinstance(eps, (bool, np.bool_)) or not isinstance(eps, numbers.Real) \
            or not 0 < eps < 0.5:
        raise ValueError(f"log_loss: eps={eps!r}; expected a number in (0, 0.5)")
    y, p = _pair(y_true, p, "log_loss", name="p")
    if p.size and not (p.min() >= 0 and p.max() <= 1):
        k = int(np.flatnonzero((p < 0) | (p > 1))[0])
        raise ValueError(f"log_loss: p[{k}] is {float(p[k])}; expected probabilities in [0, 1]")
    p = np.clip(p, eps, 1.0 - eps)
    return float(-np.mean(np.where(y, np.log(p), np.log1p(-p))))


def binary_metrics(y_true, p, threshold=0.5):
    """{'loss', 'auc', 'precision', 'recall', 'accuracy'} of probabilities ``p``."""
    return {"loss": log_loss(y_true, p), "auc": auc(y_true, p),
            "precision": precision(y_true, p, threshold),
            "recall": recall(y_true, p, threshold), "accuracy": accuracy(y_true, p, threshold)}


def _ids(fn, name, ids):
    ids = np.asarray(ids)
    if ids.size and ids.dtype.kind not in "iu":
        raise TypeError(f"{fn}: {name} must hold integer item ids, got dtype {ids.dtype}")
    return ids.ravel().astype(np.int64)


def _hits_at_k(ranked, relevant, k, fn):
    """0/1 hits of the first k ranked ids, and the number of distinct relevant ids."""
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, numbers.Integral) or k < 1:
        raise ValueError(f"{fn}: k must be an integer >= 1, got {k!r}")
    ranked = _ids(fn, "ranked", ranked)
    relevant = np.unique(_ids(fn, "relevant", relevant))
    if len(np.unique(ranked)) != len(ranked):
        raise ValueError(f"{fn}: ranked holds an item id twice")
    return np.isin(ranked[:k], relevant).astype(np.float64), len(relevant)


def recall_at_k(ranked, relevant, k=10):
    """Share of the relevant items in the top k, out of at most k: hits / min(k, |relevant|).

    ranked: item ids (n,), best first, no repeats; relevant: item ids (m,). The
    denominator min(k, m) lets a perfect ranking score 1 even when m > k. NaN if m = 0.
    """
    hits, num_relevant = _hits_at_k(ranked, relevant, k, "recall_at_k")
    return float(hits.sum() / min(k, num_relevant)) if num_relevant else float("nan")


def ndcg_at_k(ranked, relevant, k=10):
    """Normalized discounted cumulative gain of the top k, binary relevance.

    ranked: item ids (n,), best first, no repeats; relevant: item ids (m,).
    DCG = sum over hits at rank r (1-based, r <= k) of 1 / log2(r + 1), divided by the
    DCG of a perfect ranking (min(k, m) hits first). NaN if m = 0.
    """
    hits, num_relevant = _hits_at_k(ranked, relevant, k, "ndcg_at_k")
    if not num_relevant:
        return float("nan")
    discount = 1.0 / np.log2(np.arange(2, k + 2))
    return float(hits @ discount[: len(hits)] / discount[: min(k, num_relevant)].sum())
