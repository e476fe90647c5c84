"""The row-diff attack of notebook 02 (Grokking Deep Learning ch. 15, "password leakage")."""

import numpy as np
import pytest

from minigrad.datasets.text import PAD_INDEX, UNK_INDEX, Vocabulary
from minigrad.privacy.attacks import changed_rows, leaked_words, word_recovery_scores
from minigrad.recipes.spam import spam_model, train_epoch

WORDS = ["my", "computer", "password", "is", "pizza", "free", "money", "meeting", "at", "noon"]
BOB_EMAIL = ["my", "computer", "password", "is", "pizza"]


@pytest.fixture
def vocab():
    return Vocabulary(WORDS)


def client_update(vocab, emails, targets, batch_size=1, start=None, max_len=8):
    """(sent, received): the book's model before and after local training on ``emails``."""
    model = spam_model(len(vocab))
    if start is not None:
        model.load_state_dict(start)
    sent = model.state_dict()
    X = vocab.to_indices(emails, max_len=max_len).indices  # padded with '<pad>' (row 0)
    y = np.asarray(targets, dtype=np.float64).reshape(-1, 1)
    train_epoch(model, X, y, batch_size=batch_size)
    return sent, model.state_dict()


def rows_of(vocab, words):
    return sorted(vocab.index(w) for w in words)


def test_single_email_update_reveals_exactly_its_words(vocab):
    # Arrange: the book's experiment, on a 12-row vocabulary
    sent, received = client_update(vocab, [BOB_EMAIL], [0])

    # Act
    rows = changed_rows(sent, received)
    words = leaked_words(sent, received, vocab)

    # Assert
    assert rows.dtype == np.int64
    assert rows.tolist() == rows_of(vocab, BOB_EMAIL)
    assert sorted(words) == sorted(BOB_EMAIL)
    untouched = np.setdiff1d(np.arange(len(vocab)), rows_of(vocab, BOB_EMAIL))
    np.testing.assert_array_equal(received["weight"][untouched], sent["weight"][untouched])
    assert PAD_INDEX not in rows  # the email was padded to 8 slots with row 0


def test_attack_works_from_any_model_not_just_zeros(vocab, rng):
    start = {"weight": rng.uniform(-0.5, 0.5, (len(vocab), 1)).astype(np.float32)}
    start["weight"][PAD_INDEX] = 0
    sent, received = client_update(vocab, [BOB_EMAIL], [0], start=start)
    assert sorted(leaked_words(sent, received, vocab)) == sorted(BOB_EMAIL)
    assert PAD_INDEX not in changed_rows(sent, received)


@pytest.mark.parametrize("batch_size", [1, 2])
def test_two_emails_reveal_the_union(vocab, batch_size):
    other = ["free", "money", "at", "noon"]
    sent, received = client_update(vocab, [BOB_EMAIL, other], [0, 1], batch_size=batch_size)
    assert changed_rows(sent, received).tolist() == rows_of(vocab, BOB_EMAIL + other)


def test_rows_sorted_words_in_row_order(vocab):
    sent, received = client_update(vocab, [["pizza", "my"]], [1])
    rows = changed_rows(sent, received)
    assert np.all(np.diff(rows) > 0)
    assert leaked_words(sent, received, vocab) == [vocab.words[r] for r in rows]


def test_unknown_words_move_the_unk_row_but_are_not_listed(vocab):
    sent, received = client_update(vocab, [["my", "hunter2", "pizza"]], [0])
    assert UNK_INDEX in changed_rows(sent, received)
    assert sorted(leaked_words(sent, received, vocab)) == ["my", "pizza"]
    assert "<unk>" in leaked_words(sent, received, vocab, ignore=("<pad>",))


def test_no_op_update_recovers_nothing(vocab):
    model = spam_model(len(vocab))
    sent, received = model.state_dict(), model.state_dict()
    assert changed_rows(sent, received).tolist() == []
    assert leaked_words(sent, received, vocab) == []
    assert word_recovery_scores([], BOB_EMAIL) == (1.0, 0.0)


def test_spam_and_ham_sharing_a_word_cancel_at_the_zero_model(vocab):
    # At zero weights every email's logit gradient is +-1/4, so a word in one spam and
    # one ham email of the same batch gets exactly zero: the attack cannot see it.
    sent, received = client_update(vocab, [["free", "meeting"], ["my", "meeting"]], [1, 0],
                                   batch_size=2)
    assert sorted(leaked_words(sent, received, vocab)) == ["free", "my"]


def test_word_recovery_scores_on_literals():
    precision, recall = word_recovery_scores(["a", "b", "c", "x"], ["a", "b", "c", "d", "e"])
    assert precision == pytest.approx(3 / 4)
    assert recall == pytest.approx(3 / 5)
    assert word_recovery_scores(["a", "a", "b"], ["a", "b", "b"]) == (1.0, 1.0)  # sets
    assert word_recovery_scores(["z"], ["a"]) == (0.0, 0.0)
    assert word_recovery_scores([], []) == (1.0, 1.0)
    assert word_recovery_scores(["a"], []) == (0.0, 1.0)


def test_changed_rows_on_literal_arrays():
    sent = {"weight": np.zeros((5, 3)), "bias": np.zeros(4)}
    received = {"weight": np.zeros((5, 3)), "bias": np.array([0.0, 1e-3, 0.0, -2.0])}
    received["weight"][2, 1] = 0.5
    received["weight"][4, 0] = 1e-9
    assert changed_rows(sent, received).tolist() == [2, 4]
    assert changed_rows(sent, received, atol=1e-6).tolist() == [2]
    assert changed_rows(sent, received, name="bias").tolist() == [1, 3]
    assert changed_rows(sent, received, name="bias", atol=1e-2).tolist() == [3]


def test_changed_rows_does_not_modify_its_inputs():
    sent = {"weight": np.arange(6.0).reshape(3, 2)}
    received = {"weight": sent["weight"] + np.array([[0.0], [1.0], [0.0]])}
    before = {k: v.copy() for k, v in sent.items()}, {k: v.copy() for k, v in received.items()}
    changed_rows(sent, received, atol=0.5)
    np.testing.assert_array_equal(sent["weight"], before[0]["weight"])
    np.testing.assert_array_equal(received["weight"], before[1]["weight"])


def test_bad_inputs_raise_clear_errors(vocab):
    sent = {"weight": np.zeros((len(vocab), 1))}
    with pytest.raises(ValueError, match="shape"):
        changed_rows(sent, {"weight": np.zeros((3, 1))})
    with pytest.raises(KeyError, match="bias"):
        changed_rows(sent, sent, name="bias")
    with pytest.raises(ValueError, match="atol"):
        changed_rows(sent, sent, atol=-1.0)
    with pytest.raises(ValueError, match="scalar"):
        changed_rows({"s": np.float64(1.0)}, {"s": np.float64(2.0)}, name="s")
    with pytest.raises(ValueError, match="vocabulary has 3 words"):
        leaked_words(sent, sent, ["<pad>", "<unk>", "a"])
