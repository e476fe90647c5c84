"""Tokenizer and vocabulary: str.split() semantics, deterministic indices, the book's drop rule."""

import numpy as np
import pytest

from minigrad.datasets.text import PAD_INDEX, UNK_INDEX, TokenIndices, Vocabulary, tokenize

# --- tokenize ---------------------------------------------------------------------------

def test_tokenize_splits_on_any_whitespace_run_like_str_split():
    text = "  Hello,\tworld!\n\nsubject:  re\r\nprice\xa0$5 \x0bend  "
    assert tokenize(text) == ["hello,", "world!", "subject:", "re", "price", "$5", "end"]
    assert tokenize(text, lowercase=False) == text.split()


def test_tokenize_empty_and_blank_text_give_no_words():
    assert tokenize("") == []
    assert tokenize(" \n\t ") == []


def test_tokenize_lowercase_flag():
    assert tokenize("Free MONEY") == ["free", "money"]
    assert tokenize("Free MONEY", lowercase=False) == ["Free", "MONEY"]


def test_tokenize_unique_keeps_first_occurrence_order():
    text = "b a b c A a"
    assert tokenize(text, unique=True) == ["b", "a", "c"]
    assert tokenize(text, lowercase=False, unique=True) == ["b", "a", "c", "A"]


# --- Vocabulary.build -------------------------------------------------------------------

def test_special_entries_come_first():
    vocab = Vocabulary.build([["x"]])
    assert vocab.words[:2] == ["<pad>", "<unk>"]
    assert (vocab.index("<pad>"), vocab.index("<unk>")) == (PAD_INDEX, UNK_INDEX) == (0, 1)


def test_words_ordered_by_descending_count_ties_alphabetical():
    token_lists = [["pear", "apple", "fig"], ["fig", "pear"], ["kiwi", "banana", "fig"]]
    vocab = Vocabulary.build(token_lists)
    assert vocab.words == ["<pad>", "<unk>", "fig", "pear", "apple", "banana", "kiwi"]
    np.testing.assert_array_equal(vocab.counts, [3, 2, 1, 1, 1])


def test_build_is_independent_of_input_order(rng):
    words = [f"w{i}" for i in range(50)]
    token_lists = [list(rng.choice(words, size=rng.integers(0, 20))) for _ in range(40)]
    shuffled = [token_lists[i] for i in rng.permutation(len(token_lists))]
    assert Vocabulary.build(token_lists).words == Vocabulary.build(shuffled).words


def test_min_count_and_max_size():
    token_lists = [["a", "a", "a", "b", "b", "c"]]
    assert Vocabulary.build(token_lists, min_count=2).words == ["<pad>", "<unk>", "a", "b"]
    small = Vocabulary.build(token_lists, max_size=3)
    assert small.words == ["<pad>", "<unk>", "a"]
    assert len(small) == 3
    assert small["b"] == UNK_INDEX


@pytest.mark.parametrize("kwargs", [{"min_count": 0}, {"max_size": 1}])
def test_build_rejects_bad_limits(kwargs):
    with pytest.raises(ValueError):
        Vocabulary.build([["a"]], **kwargs)


def test_literal_special_tokens_are_not_counted_twice():
    vocab = Vocabulary.build([["<unk>", "<pad>", "a", "<unk>"]])
    assert vocab.words == ["<pad>", "<unk>", "a"]
    assert vocab["<unk>"] == UNK_INDEX


def test_lookup_unknown_word_is_unk():
    vocab = Vocabulary.build([["spam", "ham", "spam"]])
    assert len(vocab) == 4
    assert vocab["spam"] == vocab.index("spam") == 2
    assert vocab["ham"] == 3
    assert vocab["viagra"] == vocab.index("viagra") == UNK_INDEX
    assert "spam" in vocab and "viagra" not in vocab


def test_constructor_rejects_repeated_or_special_words():
    with pytest.raises(ValueError, match="distinct"):
        Vocabulary(["a", "b", "a"])
    with pytest.raises(ValueError, match="distinct"):
        Vocabulary(["a", "<unk>"])


# --- to_indices -------------------------------------------------------------------------

@pytest.fixture
def vocab():
    return Vocabulary(["a", "b", "c", "d"])  # a=2, b=3, c=4, d=5


def test_padding_and_unknown_words(vocab):
    out = vocab.to_indices([["a", "zzz", "b"], [], ["d"]], max_len=4)
    np.testing.assert_array_equal(out.indices, [[2, 1, 3, 0], [0, 0, 0, 0], [5, 0, 0, 0]])
    assert out.indices.dtype == np.int64
    np.testing.assert_array_equal(out.lengths, [3, 0, 1])
    np.testing.assert_array_equal(out.kept, [0, 1, 2])
    assert (out.num_truncated, out.num_dropped, out.max_len) == (0, 0, 4)


def test_truncate_keeps_first_words_and_reports_both_lengths(vocab):
    out = vocab.to_indices([["a", "b", "c", "d", "a"], ["b", "c", "d"], ["a"]], max_len=3,
                           long="truncate")
    np.testing.assert_array_equal(out.indices, [[2, 3, 4], [3, 4, 5], [2, 0, 0]])
    np.testing.assert_array_equal(out.lengths, [3, 3, 1])
    np.testing.assert_array_equal(out.original_lengths, [5, 3, 1])
    assert out.num_truncated == 1 and out.num_dropped == 0


def test_drop_matches_the_book_len_less_than_max_len(vocab):
    # The book keeps a row only if len(row) < 500: a row of exactly max_len goes too.
    rows = [["a"] * 2, ["b"] * 3, ["c"] * 4, ["d"]]
    out = vocab.to_indices(rows, max_len=3, long="drop")
    np.testing.assert_array_equal(out.kept, [0, 3])
    np.testing.assert_array_equal(out.indices, [[2, 2, 0], [5, 0, 0]])
    np.testing.assert_array_equal(out.original_lengths, [2, 1])
    assert out.num_dropped == 2 and out.num_truncated == 0
    assert len(out) == 2


def test_error_names_first_offending_row_and_its_length(vocab):
    rows = [["a"] * 3, ["b"] * 5, ["c"] * 7]
    with pytest.raises(ValueError, match=r"row 1 has 5 words, more than max_len=3"):
        vocab.to_indices(rows, max_len=3, long="error")
    # A row that exactly fits is fine.
    out = vocab.to_indices(rows[:1], max_len=3, long="error")
    np.testing.assert_array_equal(out.indices, [[2, 2, 2]])


def test_max_len_none_uses_longest_row(vocab):
    out = vocab.to_indices([["a"], ["a", "b", "c"]], max_len=None)
    assert out.indices.shape == (2, 3)


def test_accepts_any_iterable_of_sequences(vocab):
    out = vocab.to_indices((row for row in [("a", "b"), ("c",)]), max_len=2)
    np.testing.assert_array_equal(out.indices, [[2, 3], [4, 0]])


def test_no_rows_gives_empty_matrix(vocab):
    out = vocab.to_indices([], max_len=5)
    assert out.indices.shape == (0, 5) and out.num_dropped == 0


@pytest.mark.parametrize("kwargs", [{"long": "clip"}, {"max_len": 0}])
def test_to_indices_rejects_bad_arguments(vocab, kwargs):
    with pytest.raises(ValueError):
        vocab.to_indices([["a"]], **kwargs)


def naive_to_indices(vocab, rows, max_len, long):
    """The book's loop, with our padding: a readable oracle."""
    kept, out = [], []
    for i, row in enumerate(rows):
        if long == "drop" and len(row) >= max_len:
            continue
        idxs = [vocab.index(w) for w in row[:max_len]]
        out.append(idxs + [0] * (max_len - len(idxs)))
        kept.append(i)
    return np.array(out, dtype=np.int64).reshape(len(kept), max_len), kept


@pytest.mark.parametrize("long", ["truncate", "drop"])
def test_matches_naive_loop_on_random_rows(rng, long):
    words = [f"w{i}" for i in range(30)]
    rows = [list(rng.choice(words, size=rng.integers(0, 12))) for _ in range(200)]
    vocab = Vocabulary.build(rows[:100], min_count=2)  # later rows bring unknown words
    out = vocab.to_indices(rows, max_len=8, long=long)
    expected, kept = naive_to_indices(vocab, rows, 8, long)
    np.testing.assert_array_equal(out.indices, expected)
    np.testing.assert_array_equal(out.kept, kept)
    np.testing.assert_array_equal(out.original_lengths, [len(rows[i]) for i in kept])
    assert out.num_dropped == len(rows) - len(kept)
    assert out.num_truncated == sum(len(rows[i]) > 8 for i in kept)


def test_repr_mentions_counts(vocab):
    out = vocab.to_indices([["a"] * 5], max_len=2)
    assert isinstance(out, TokenIndices)
    assert repr(out) == "TokenIndices(1 rows x 2, 1 truncated, 0 dropped)"
    assert repr(vocab).startswith("Vocabulary(6 entries: '<pad>', '<unk>', 'a'")
