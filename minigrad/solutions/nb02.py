"""Reference solutions to the exercises of notebook 02 (password leakage).

1. ``infer_label``: the direction a single-email update moves its rows gives away the label.
2. ``net_spam_counts``: at the zero model the size of each row's move counts emails.
3. ``add_gaussian_noise`` + ``top_changed_rows``: noise hides *which* rows changed, but a
   server that ranks rows by how far they moved still finds the email until the noise
   is as large as the signal.
4. ``membership_scores``: which candidate emails were in the batch.
"""

import numpy as np

from ..privacy.attacks import changed_rows
from ..rng import check_generator

__all__ = ["infer_label", "net_spam_counts", "add_gaussian_noise", "top_changed_rows",
           "membership_scores"]


def infer_label(sent, received, name="weight"):
    """The label of a single-email update: 1 (spam) if its rows moved up, 0 if down.

    sent[name], received[name]: (num_rows, dim) -> int. With the book's model the
    email's logit gradient is 2 (p - y) p (1 - p), the same for every word of the
    email, so SGD moves all its rows by -alpha times it: up when y = 1 > p, down
    when y = 0 < p.
    """
    rows = changed_rows(sent, received, name)
    if rows.size == 0:
        raise ValueError("infer_label: no row changed, so the update says nothing about a label")
    delta = np.asarray(received[name], dtype=np.float64)[rows] - np.asarray(sent[name])[rows]
    return int(delta.sum() > 0)


def net_spam_counts(sent, received, alpha=0.01, name="weight"):
    """Per row, (# spam emails) - (# ham emails) of the batch holding that word.

    Valid for one SGD step of the book's loss (sigmoid + squared error, summed) from
    the zero model: there every email has p = 1/2, so its logit gradient is
    2 (1/2 - y) / 4 = -1/4 (spam) or +1/4 (ham), and a row moves by alpha / 4 times
    the count. (num_rows, dim) -> int64 (num_rows,). A word in as many spam as ham
    emails nets 0: that is why it is missing from ``leaked_words``.
    """
    delta = np.asarray(received[name], dtype=np.float64) - np.asarray(sent[name], dtype=np.float64)
    delta = delta.reshape(len(delta), -1)[:, 0]
    return np.rint(delta / (alpha / 4)).astype(np.int64)


def add_gaussian_noise(params, sigma, rng):
    """A copy of ``params`` with N(0, sigma^2) added to every entry, dtypes kept.

    {name: (...)} -> {name: (...)}. ``rng`` is an ``np.random.Generator``.
    """
    check_generator(rng, "add_gaussian_noise")
    return {name: (value + rng.normal(0.0, sigma, np.shape(value))).astype(np.asarray(value).dtype)
            for name, value in params.items()}


def top_changed_rows(sent, received, m, name="weight"):
    """The ``m`` rows that moved the most (largest absolute change), sorted by row.

    (num_rows, ...) -> int64 (m,). Ties are broken by the lower row index.
    """
    delta = np.abs(np.asarray(received[name], dtype=np.float64)
                   - np.asarray(sent[name], dtype=np.float64))
    size = delta.reshape(len(delta), -1).max(axis=1)
    order = np.argsort(-size, kind="stable")
    return np.sort(order[:m]).astype(np.int64)


def membership_scores(recovered, candidates):
    """For each candidate email, the share of its distinct words among the recovered words.

    recovered: iterable of str; candidates: list of word lists -> float64 (num_candidates,).
    An email that was in the batch scores 1.0 (every one of its words moved; see the
    notebook for when that fails); an email that was not usually scores less, because
    some of its words were in no email of the batch.
    """
    recovered = set(recovered)
    scores = [len(set(c) & recovered) / len(set(c)) if len(set(c)) else 0.0 for c in candidates]
    return np.asarray(scores, dtype=np.float64)
