"""Words from text, and the vocabulary that turns them into rows of an embedding table.

    words = tokenize(email, unique=True)            # the book's set of words, in order
    vocab = Vocabulary.build(list_of_word_lists)    # 0 = '<pad>', 1 = '<unk>', then by frequency
    batch = vocab.to_indices(list_of_word_lists, max_len=500, long="drop")
    batch.indices                                   # int64 (num_kept, 500), padded with 0
"""

from collections import Counter
from dataclasses import dataclass
from itertools import chain, islice, repeat

import numpy as np

__all__ = ["PAD", "UNK", "PAD_INDEX", "UNK_INDEX", "tokenize", "Vocabulary", "TokenIndices"]

PAD, UNK = "<pad>", "<unk>"
PAD_INDEX, UNK_INDEX = 0, 1
LONG_POLICIES = ("truncate", "drop", "error")


def tokenize(text, lowercase=True, unique=False):
    """The words of ``text``, split exactly as ``str.split()`` with no argument splits.

    That is: any run of Unicode whitespace (spaces, tabs, newlines, ...) separates
    words, leading and trailing whitespace is ignored, and no empty strings are
    produced; punctuation stays attached ('hello,' is one word). ``lowercase``
    applies ``str.lower()`` first. ``unique=True`` keeps only the first occurrence
    of each word, in order: the set of words the book builds for each email, but
    with a deterministic order (a Python ``set`` of strings has none).

    (The book splits on single spaces, ``row[:-2].split(" ")``, which also yields
    '' for every double space; the Enron-Spam files are already lowercased and
    space-separated, so the two agree apart from those empty strings.)
    """
    if lowercase:
        text = text.lower()
    words = text.split()
    if unique:
        words = list(dict.fromkeys(words))
    return words


@dataclass(repr=False)
class TokenIndices:
    """Padded word indices for the rows ``to_indices`` kept.

    indices: int64 (num_kept, max_len), row i = input row ``kept[i]``, padded with 0 ('<pad>').
    lengths: int64 (num_kept,), tokens actually stored in row i (<= max_len).
    original_lengths: int64 (num_kept,), tokens in input row ``kept[i]`` before truncation.
    kept: int64 (num_kept,), positions of the kept rows in the input, increasing.
    """

    indices: np.ndarray
    lengths: np.ndarray
    original_lengths: np.ndarray
    kept: np.ndarray
    num_truncated: int
    num_dropped: int
    max_len: int

    def __len__(self):
        return len(self.indices)

    def __repr__(self):
        return (f"TokenIndices({len(self)} rows x {self.max_len}, "
                f"{self.num_truncated} truncated, {self.num_dropped} dropped)")


class Vocabulary:
    """Word <-> index. Index 0 is '<pad>', 1 is '<unk>', then the words in the given order.

    ``Vocabulary.build`` orders words by descending count, ties by Python string
    order (code points), so the same corpus always gives the same indices.
    """

    def __init__(self, words, counts=None):
        words = list(words)
        self.words = [PAD, UNK, *words]
        self._index = {w: i for i, w in enumerate(self.words)}
        if len(self._index) != len(self.words):
            dupes = sorted(w for w, c in Counter(self.words).items() if c > 1)
            raise ValueError(f"Vocabulary words must be distinct and must not include "
                             f"{PAD!r}/{UNK!r}; repeated: {dupes[:5]}")
        self.counts = None if counts is None else np.asarray(counts, dtype=np.int64)
        if self.counts is not None and len(self.counts) != len(words):
            raise ValueError(f"{len(self.counts)} counts for {len(words)} words")

    @classmethod
    def build(cls, token_lists, min_count=1, max_size=None):
        """Count words over ``token_lists`` (an iterable of word lists) and index them.

        A word's count is its number of occurrences over all lists (with
        ``tokenize(..., unique=True)`` lists, the number of documents holding it).
        Words seen fewer than ``min_count`` times map to '<unk>'. ``max_size``
        bounds ``len(vocab)`` including '<pad>' and '<unk>' (so at least 2); the
        least frequent words are cut. A literal '<pad>' or '<unk>' in the input is
        not counted as a word: it maps to the special index of that name.
        ``counts`` holds the count of each word after the two special entries.
        """
        if min_count < 1:
            raise ValueError(f"min_count must be >= 1, got {min_count}")
        if max_size is not None and max_size < 2:
            raise ValueError(f"max_size counts '<pad>' and '<unk>', so it must be >= 2, "
                             f"got {max_size}")
        tally = Counter()
        for tokens in token_lists:
            tally.update(tokens)  # Counter.update counts a list in C
        tally.pop(PAD, None)
        tally.pop(UNK, None)
        items = [(w, c) for w, c in tally.items() if c >= min_count]
        items.sort(key=lambda wc: (-wc[1], wc[0]))
        if max_size is not None:
            items = items[: max_size - 2]
        return cls([w for w, _ in items], counts=[c for _, c in items])

    def __len__(self):
        return len(self.words)

    def __contains__(self, word):
        return word in self._index

    def __getitem__(self, word):
        return self._index.get(word, UNK_INDEX)

    def index(self, word):
        """Index of ``word``; 1 ('<unk>') for a word not in the vocabulary."""
        return self._index.get(word, UNK_INDEX)

    def __repr__(self):
        head = ", ".join(repr(w) for w in self.words[2:7])
        more = ", ..." if len(self.words) > 7 else ""
        return f"Vocabulary({len(self)} entries: '<pad>', '<unk>', {head}{more})"

    def to_indices(self, token_lists, max_len=500, long="truncate"):
        """Map word lists to a zero-padded int64 matrix, (num_kept, max_len).

        Rows longer than fit are handled by ``long``:

        - ``"truncate"``: keep every row; a row with more than ``max_len`` words
          keeps its first ``max_len`` (counted in ``num_truncated``).
        - ``"drop"``: the book's rule, ``if len(line) < 500`` — rows with
          ``len >= max_len`` are dropped (counted in ``num_dropped``). Note ``>=``:
          a row of exactly ``max_len`` words is dropped too, although it would fit.
        - ``"error"``: a ValueError naming the first row with more than
          ``max_len`` words and its length.

        Unknown words become 1 ('<unk>'); padding is 0 ('<pad>') — the book pads
        with '<unk>' instead and zeroes that embedding row by hand. ``max_len=None``
        uses the longest row. Rows should be sequences; a ``set`` has no stable order.
        """
        if long not in LONG_POLICIES:
            raise ValueError(f"long must be one of {LONG_POLICIES}, got {long!r}")
        rows = token_lists if isinstance(token_lists, list) else list(token_lists)
        original = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
        if max_len is None:
            max_len = max(int(original.max(initial=0)), 1)
        if max_len < 1:
            raise ValueError(f"max_len must be >= 1, got {max_len}")

        if long == "drop":
            kept = np.flatnonzero(original < max_len)
        else:
            if long == "error":
                too_long = np.flatnonzero(original > max_len)
                if too_long.size:
                    i = int(too_long[0])
                    raise ValueError(f"row {i} has {int(original[i])} words, more than "
                                     f"max_len={max_len} ({too_long.size} such rows); pass "
                                     f"long='truncate' or long='drop', or a larger max_len")
            kept = np.arange(len(rows), dtype=np.int64)
        original_kept = original[kept]
        lengths = np.minimum(original_kept, max_len)
        num_truncated = int((original_kept > max_len).sum())

        if len(kept) < len(rows):
            rows = [rows[i] for i in kept]
        if num_truncated:
            rows = [r if n <= max_len else list(islice(r, max_len))
                    for r, n in zip(rows, original_kept.tolist(), strict=True)]
        # One C-level pass over all words: dict.get(word, UNK_INDEX) via map.
        flat = np.fromiter(map(self._index.get, chain.from_iterable(rows), repeat(UNK_INDEX)),
                           dtype=np.int64, count=int(lengths.sum()))
        indices = np.zeros((len(kept), max_len), dtype=np.int64)
        # Boolean-mask assignment fills in row-major order, the order of ``flat``.
        indices[np.arange(max_len) < lengths[:, None]] = flat
        return TokenIndices(indices=indices, lengths=lengths, original_lengths=original_kept,
                            kept=kept, num_truncated=num_truncated,
                            num_dropped=len(original) - len(kept), max_len=max_len)
