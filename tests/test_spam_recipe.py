"""The book's spam recipe: data preparation on literals, the training loop, and the
reproduction of our measured book figures on the real Enron-Spam corpus."""


import numpy as np
import pytest
from realdata import ENRON_ROOT, needs_enron

from minigrad.datasets import PAD_INDEX, load_enron_spam
from minigrad.datasets.types import SpamCorpus
from minigrad.federated import FedAvg, client_update, run_round
from minigrad.recipes import spam


# ---------------------------------------------------------------------------
# interleave
# ---------------------------------------------------------------------------
def test_interleave_cycles_the_shorter_class():
    rows, labels = spam.interleave([10, 11, 12], [20])

    np.testing.assert_array_equal(rows, [10, 20, 11, 20, 12, 20])
    np.testing.assert_array_equal(labels, [[1.0], [0.0], [1.0], [0.0], [1.0], [0.0]])


def test_interleave_cycles_spam_when_ham_is_longer():
    rows, labels = spam.interleave([10], [20, 21])

    np.testing.assert_array_equal(rows, [10, 20, 10, 21])
    assert labels.shape == (4, 1)
    np.testing.assert_array_equal(labels.ravel(), [1.0, 0.0, 1.0, 0.0])


def test_interleave_needs_both_classes():
    with pytest.raises(ValueError, match="both classes"):
        spam.interleave([1, 2], [])


# ---------------------------------------------------------------------------
# book_recipe on a hand-built corpus
# ---------------------------------------------------------------------------
MAX_LEN = 4  # the drop rule is len(unique words) >= MAX_LEN

# (text, label): ham first as in an Enron mailbox; book_recipe reorders spam, then ham
EMAILS = [
    ("h0 x", 0),             # 0 kept
    ("h1 y y y y y", 0),     # 1 kept: the *set* of words has 2 entries
    ("a b c d", 0),          # 2 dropped: exactly MAX_LEN distinct words (>=, the book's rule)
    ("h3", 0),               # 3 kept -> test (last ham)
    ("s4 buy", 1),           # 4 kept
    ("s5 buy now", 1),       # 5 kept: MAX_LEN - 1 distinct words fit
    ("w x y z q", 1),        # 6 dropped: more than MAX_LEN distinct words
    ("s7", 1),               # 7 kept
    ("s8 Buy", 1),           # 8 kept -> test (last spam); 'Buy' is not 'buy' (no lowercasing)
]


def tiny_corpus():
    texts = [t for t, _ in EMAILS]
    labels = np.array([y for _, y in EMAILS], dtype=np.int64)
    return SpamCorpus(texts=texts, labels=labels, owners=np.array(["box"] * len(texts)),
                      files=[f"box/{i}.txt" for i in range(len(texts))], source="literal")


def words(vocab, row):
    return [vocab.words[i] for i in row if i != PAD_INDEX]


def test_book_recipe_drops_long_emails_and_interleaves_training_rows():
    data = spam.book_recipe(tiny_corpus(), max_len=MAX_LEN, test_per_class=1)

    assert data.num_dropped == 2 and data.num_truncated == 0
    # train: spam 4, 5, 7 against ham 0, 1 (cycled)
    np.testing.assert_array_equal(data.train_rows, [4, 0, 5, 1, 7, 0])
    np.testing.assert_array_equal(data.y_train.ravel(), [1, 0, 1, 0, 1, 0])
    # test: the last spam and the last ham that were kept
    np.testing.assert_array_equal(data.test_rows, [8, 3])
    np.testing.assert_array_equal(data.y_test.ravel(), [1, 0])
    assert data.X_train.shape == (6, MAX_LEN) and data.X_test.shape == (2, MAX_LEN)
    assert data.X_train.dtype == np.int64


def test_book_recipe_rows_hold_each_emails_set_of_words_padded():
    data = spam.book_recipe(tiny_corpus(), max_len=MAX_LEN, test_per_class=1)

    assert words(data.vocab, data.X_train[0]) == ["s4", "buy"]
    assert words(data.vocab, data.X_train[3]) == ["h1", "y"]
    assert words(data.vocab, data.X_test[0]) == ["s8", "Buy"]
    np.testing.assert_array_equal(data.X_train[3, 2:], [PAD_INDEX, PAD_INDEX])


def test_book_recipe_with_too_few_emails_per_class_is_an_error():
    with pytest.raises(ValueError, match="need more than 3 emails of each class"):
        spam.book_recipe(tiny_corpus(), max_len=MAX_LEN, test_per_class=3)


def test_pinned_test_rows_keep_the_same_test_emails():
    book = spam.book_recipe(tiny_corpus(), max_len=MAX_LEN, test_per_class=1)

    pinned = spam.book_recipe(tiny_corpus(), max_len=MAX_LEN, test_rows=book.test_rows)

    np.testing.assert_array_equal(pinned.test_rows, book.test_rows)
    np.testing.assert_array_equal(pinned.X_test, book.X_test)
    np.testing.assert_array_equal(pinned.y_test, book.y_test)
    np.testing.assert_array_equal(pinned.train_rows, book.train_rows)
    assert not set(pinned.train_rows) & set(pinned.test_rows)


def test_pinned_test_rows_with_truncation_keep_every_other_email_for_training():
    book = spam.book_recipe(tiny_corpus(), max_len=MAX_LEN, test_per_class=1)

    pinned = spam.book_recipe(tiny_corpus(), max_len=MAX_LEN, long="truncate",
                              test_rows=book.test_rows)

    np.testing.assert_array_equal(pinned.test_rows, book.test_rows)
    np.testing.assert_array_equal(pinned.X_test, book.X_test)
    assert pinned.num_dropped == 0 and pinned.num_truncated == 1  # email 6 is cut
    assert set(pinned.train_rows) == {0, 1, 2, 4, 5, 6, 7}


# ---------------------------------------------------------------------------
# train_epoch and accuracy
# ---------------------------------------------------------------------------
def one_word_rows(n, vocab_size=12):
    """Row k holds word k + 2 then padding; labels alternate spam, ham."""
    X = np.zeros((n, 3), dtype=np.int64)
    X[:, 0] = np.arange(n) + 2
    y = np.tile([1.0, 0.0], n)[:n].reshape(-1, 1)
    return X, y, vocab_size


def test_train_epoch_skips_the_last_partial_batch_as_the_book_does():
    X, y, vocab_size = one_word_rows(7)
    model = spam.spam_model(vocab_size)

    trained = spam.train_epoch(model, X, y, batch_size=3)

    assert trained == 6
    assert model.weight.data[2, 0] != 0  # row 0's word learned
    assert model.weight.data[8, 0] == 0  # row 6 (the partial batch) never seen


def test_train_epoch_without_drop_last_trains_the_partial_batch():
    X, y, vocab_size = one_word_rows(7)
    model = spam.spam_model(vocab_size)

    trained = spam.train_epoch(model, X, y, batch_size=3, drop_last=False)

    assert trained == 7
    assert model.weight.data[8, 0] != 0


def test_padding_row_stays_exactly_zero_through_training():
    X, y, vocab_size = one_word_rows(6)
    model = spam.spam_model(vocab_size)
    unpadded = spam.spam_model(vocab_size, padding_idx=None)

    for _ in range(3):
        spam.train_epoch(model, X, y, batch_size=2)
        spam.train_epoch(unpadded, X, y, batch_size=2)

    assert model.weight.data[PAD_INDEX, 0] == 0.0
    assert unpadded.weight.data[PAD_INDEX, 0] != 0.0  # without padding_idx it would learn


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("loss", ["book_mse", "bce"])
def test_train_epoch_keeps_the_parameter_dtype(dtype, loss):
    X, y, vocab_size = one_word_rows(6)
    model = spam.spam_model(vocab_size, dtype=dtype)

    spam.train_epoch(model, X, y, batch_size=2, loss=loss)

    assert model.weight.data.dtype == dtype
    assert model.state_dict()["weight"].dtype == dtype


def test_train_epoch_unknown_loss_is_an_error():
    X, y, vocab_size = one_word_rows(4)

    with pytest.raises(ValueError, match="loss must be one of"):
        spam.train_epoch(spam.spam_model(vocab_size), X, y, loss="hinge")


@pytest.mark.parametrize("batch_size", [5000, 2])
def test_accuracy_of_a_hand_made_model(batch_size):
    model = spam.spam_model(4)
    model.weight.data[:, 0] = [0.0, 0.0, 1.0, -1.0]  # '<pad>', '<unk>', spammy, hammy
    X = np.array([[2, 0], [3, 0], [2, 3], [3, 3], [2, 2]])
    y = np.array([[1.0], [0.0], [1.0], [0.0], [0.0]])
    # logits 1, -1, 0, -2, 2 -> spam, ham, ham (0 is not > 0), ham, spam: 3 of 5 right

    acc = spam.accuracy(model, X, y, batch_size=batch_size)

    assert acc == pytest.approx(0.6)


# ---------------------------------------------------------------------------
# reproduction of the book's algorithm on the real corpus
# ---------------------------------------------------------------------------

# measured here on the recipe of minigrad.recipes.spam (issue 4)
BOOK_TEST_ACC = [0.9635, 0.972, 0.974]
BOOK_FEDAVG3_TEST_ACC = [0.696, 0.9175, 0.963]
TOLERANCE = 0.003


@pytest.fixture(scope="module")
def book_data():
    corpus = load_enron_spam(ENRON_ROOT, encoding_fallback="ignore")
    return spam.book_recipe(corpus)


@needs_enron
def test_book_recipe_reproduces_three_epochs(book_data):
    d = book_data
    model = spam.spam_model(len(d.vocab))
    test_acc = []

    for _ in range(3):
        spam.train_epoch(model, d.X_train, d.y_train)
        test_acc.append(spam.accuracy(model, d.X_test, d.y_test))

    assert d.X_test.shape == (2000, 500)
    np.testing.assert_allclose(test_acc, BOOK_TEST_ACC, atol=TOLERANCE)


@needs_enron
def test_book_fedavg_three_clients_plain_mean_reproduces_three_rounds(book_data):
    d = book_data
    X, y = d.X_train, d.y_train
    bob, alice, sue = (X[:1000], y[:1000]), (X[1000:2000], y[1000:2000]), (X[2000:], y[2000:])
    model = spam.spam_model(len(d.vocab))
    server = model.state_dict()

    def update(params, data):
        return client_update(model, params, lambda m, xy: spam.train_epoch(m, *xy), data)

    test_acc = []
    for _ in range(3):
        server, _ = run_round(server, [bob, alice, sue], update,
                              aggregator=FedAvg(weighted=False))
        model.load_state_dict(server)
        test_acc.append(spam.accuracy(model, d.X_test, d.y_test))

    np.testing.assert_allclose(test_acc, BOOK_FEDAVG3_TEST_ACC, atol=TOLERANCE)
