"""Attacks on what a federated client sends: the server reads the data back out of an update.

The row-diff attack of Grokking Deep Learning ch. 15 ("password leakage"): an
embedding row moves only if its word was in the client's batch, so the rows
that differ between the model the server sent and the model it got back spell
out the client's words.

    rows = changed_rows(sent, received)                 # which embedding rows moved
    words = leaked_words(sent, received, vocab)         # ... as words
    precision, recall = word_recovery_scores(words, true_words)

Pure functions of ``{name: ndarray}`` mappings (what ``client_update`` returns).

Split learning's label-leakage attacks are in ``label_leakage``, beside their defences.
"""

import numpy as np

from ..datasets.text import PAD, UNK

__all__ = ["changed_rows", "leaked_words", "word_recovery_scores"]


def changed_rows(sent, received, name="weight", atol=0.0):
    """Rows of parameter ``name`` that differ between the model sent and the model received.

    sent[name], received[name]: (num_rows, ...) with the same shape -> int64 (num_changed,),
    sorted. A row changed when any of its entries moved by more than ``atol``
    (``atol=0``: any difference at all, the book's ``v != 0``).
    """
    if name not in sent or name not in received:
        raise KeyError(f"changed_rows: no parameter {name!r} in both mappings "
                       f"(sent has {sorted(sent)}, received has {sorted(received)})")
    before, after = np.asarray(sent[name]), np.asarray(received[name])
    if before.shape != after.shape:
        raise ValueError(f"changed_rows: {name!r} has shape {before.shape} in the model sent "
                         f"but {after.shape} in the one received")
    if before.ndim == 0:
        raise ValueError(f"changed_rows: {name!r} is a scalar; it has no rows")
    if atol < 0:
        raise ValueError(f"changed_rows: atol must be >= 0, got {atol}")
    moved = after != before
    if atol > 0:
        with np.errstate(invalid="ignore"):  # inf - inf: not a move, and != already said so
            moved &= ~(np.abs(after.astype(np.float64) - before.astype(np.float64)) <= atol)
    return np.flatnonzero(moved.reshape(len(before), -1).any(axis=1))


def leaked_words(sent, received, vocab, name="weight", ignore=(PAD, UNK)):
    """The words whose embedding rows changed, in row order, skipping ``ignore``.

    vocab: a ``Vocabulary`` (or a sequence of words, row i = word i) with one word per
    row of ``sent[name]`` (num_rows, ...) -> list of str. '<pad>' and '<unk>' are
    skipped by default: they name no word of the client's.
    """
    words = getattr(vocab, "words", vocab)
    num_rows = len(np.asarray(sent[name]))
    if len(words) != num_rows:
        raise ValueError(f"leaked_words: the vocabulary has {len(words)} words but "
                         f"{name!r} has {num_rows} rows; pass the vocabulary the model was "
                         f"built on")
    skip = set(ignore)
    return [words[i] for i in changed_rows(sent, received, name) if words[i] not in skip]


def word_recovery_scores(recovered, true_words):
    """Precision and recall of a set of recovered words against the true words.

    recovered, true_words: iterables of str (repeats count once) -> (precision, recall),
    floats in [0, 1]. precision = |recovered & true| / |recovered|, recall =
    |recovered & true| / |true|. An empty denominator gives 1.0: recovering nothing
    claims nothing false, and there is nothing to miss in an empty set.
    """
    # a set passed in is used as is: scoring many emails against one recovered set stays cheap
    recovered, true_words = _as_set(recovered), _as_set(true_words)
    hits = len(recovered & true_words)
    precision = hits / len(recovered) if recovered else 1.0
    recall = hits / len(true_words) if true_words else 1.0
    return precision, recall


def _as_set(words):
    return words if isinstance(words, (set, frozenset)) else set(words)
