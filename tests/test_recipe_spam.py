"""recipes.spam: the book's pipeline (data, model, training, FedAvg on it), then notebook 01's
additions (validation sets, a smaller word table, the linear model with a bias, the small MLP)."""

import numpy as np
import pytest
from realdata import ENRON_ROOT, needs_enron

from minigrad import Tensor, gradcheck, nn, optim
from minigrad.datasets import PAD_INDEX, load_enron_spam, synthetic_spam
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


# ===========================================================================
# notebook 01's additions
# ===========================================================================
# ---------------------------------------------------------------------------
# validation_split
# ---------------------------------------------------------------------------
def literal_corpus():
    """Two owners; owner 'a' has 4 ham and 4 spam, owner 'b' 2 ham and 2 spam."""
    owners = np.array(["a"] * 8 + ["b"] * 4)
    labels = np.array([0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 1, 1])
    texts = [f"w{i} common" for i in range(len(labels))]
    return SpamCorpus(texts=texts, labels=labels, owners=owners,
                      files=[f"{o}/{i}.txt" for i, o in enumerate(owners)], source="literal")


class Rows:
    """Just the attribute validation_split reads."""

    def __init__(self, train_rows):
        self.train_rows = np.asarray(train_rows)


def test_validation_split_holds_out_the_latest_emails_per_owner_and_class():
    # training rows in interleaved order, with email 8 (ham of 'b') repeated by the cycling
    data = Rows([4, 0, 5, 1, 6, 2, 7, 3, 10, 8, 11, 9, 4, 8])

    fit, val = spam.validation_split(data, literal_corpus(), fraction=0.25)

    # a: last of 4 ham (3) and of 4 spam (7); b: round(0.5) = 0 of 2 -> nothing held out
    assert sorted(data.train_rows[val].tolist()) == [3, 7]
    assert val.tolist() == sorted(val.tolist())
    assert not set(data.train_rows[fit]) & {3, 7}
    np.testing.assert_array_equal(fit, [0, 1, 2, 3, 4, 5, 8, 9, 10, 11, 12, 13])
    assert fit.dtype == np.int64 and val.dtype == np.int64


def test_validation_split_gives_one_row_per_held_out_email():
    data = Rows([4, 0, 5, 1, 6, 2, 7, 3, 4, 3])  # email 3 appears twice

    _, val = spam.validation_split(data, literal_corpus(), fraction=0.25)

    assert sorted(data.train_rows[val].tolist()) == [3, 7]
    assert len(val) == 2


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1])
def test_validation_split_fraction_must_be_strictly_between_0_and_1(fraction):
    with pytest.raises(ValueError, match="fraction"):
        spam.validation_split(Rows([0, 4]), literal_corpus(), fraction=fraction)


# ---------------------------------------------------------------------------
# holdout_like_test
# ---------------------------------------------------------------------------
def test_holdout_like_test_holds_out_the_last_training_emails_of_each_class():
    # interleaved training rows; ham email 0 is repeated by the cycling
    data = Rows([4, 0, 5, 1, 6, 2, 10, 3, 11, 8, 4, 0])

    fit, val = spam.holdout_like_test(data, literal_corpus(), per_class=2)

    # spam emails 4, 5, 6, 10, 11 -> last two 10, 11; ham 0, 1, 2, 3, 8 -> last two 3, 8
    np.testing.assert_array_equal(data.train_rows[val], [10, 3, 11, 8])  # spam, ham, ...
    np.testing.assert_array_equal(fit, [0, 1, 2, 3, 4, 5, 10, 11])
    assert fit.dtype == np.int64 and val.dtype == np.int64


def test_holdout_like_test_gives_one_row_per_held_out_email():
    data = Rows([4, 0, 5, 1, 5, 1, 6, 2])  # emails 5 and 1 appear twice

    fit, val = spam.holdout_like_test(data, literal_corpus(), per_class=1)

    np.testing.assert_array_equal(data.train_rows[val], [6, 2])
    assert not {6, 2} & set(data.train_rows[fit].tolist())
    assert len(fit) == 6  # both copies of 5 and of 1 stay in fit


def test_holdout_like_test_needs_more_emails_than_it_holds_out():
    with pytest.raises(ValueError, match="per_class=2 .* 2 ham"):
        spam.holdout_like_test(Rows([4, 0, 5, 1, 6, 0]), literal_corpus(), per_class=2)


def test_holdout_like_test_on_the_book_layout_matches_the_test_construction():
    corpus = synthetic_spam(num_emails=600, seed=0)
    data = spam.book_recipe(corpus, test_per_class=50)

    fit, val = spam.holdout_like_test(data, corpus, per_class=50)

    train_emails = np.unique(data.train_rows)
    for label in (0, 1):
        mine = train_emails[corpus.labels[train_emails] == label]
        held = data.train_rows[val][data.y_train[val, 0] == label]
        np.testing.assert_array_equal(held, mine[-50:])  # the last 50, in corpus order
        assert held.max() < data.test_rows[data.y_test[:, 0] == label].min()
    assert len(fit) + (np.isin(data.train_rows, data.train_rows[val])).sum() == len(data.X_train)


# ---------------------------------------------------------------------------
# email_words and book_recipe(words=..., vocab=...)
# ---------------------------------------------------------------------------
def test_email_words_are_each_emails_ordered_set_of_words():
    corpus = literal_corpus()
    corpus.texts[0] = "Subject: buy buy now\nnow then"

    words = spam.email_words(corpus)

    assert words[0] == ["Subject:", "buy", "now", "then"]
    assert len(words) == len(corpus)
    assert spam.email_words(corpus, lowercase=True)[0][0] == "subject:"


@pytest.mark.parametrize("long", ["drop", "truncate"])
def test_book_recipe_with_precomputed_words_and_vocab_is_the_same(long):
    corpus = synthetic_spam(num_emails=400, seed=1)
    book = spam.book_recipe(corpus, max_len=40, test_per_class=30)
    words = spam.email_words(corpus)

    again = spam.book_recipe(corpus, max_len=40, test_per_class=30, words=words)
    pinned = spam.book_recipe(corpus, max_len=40, long=long, test_rows=book.test_rows)
    pinned_fast = spam.book_recipe(corpus, max_len=40, long=long, test_rows=book.test_rows,
                                   words=words, vocab=book.vocab)

    np.testing.assert_array_equal(again.X_train, book.X_train)
    assert again.vocab.words == book.vocab.words
    for field in ["X_train", "y_train", "X_test", "y_test", "train_rows", "test_rows"]:
        np.testing.assert_array_equal(getattr(pinned_fast, field), getattr(pinned, field))


def test_book_recipe_words_must_match_the_corpus():
    with pytest.raises(ValueError, match="one word list per email"):
        spam.book_recipe(literal_corpus(), words=[["a"]])


# ---------------------------------------------------------------------------
# length_scale and LinearSpamModel
# ---------------------------------------------------------------------------
def test_length_scale_counts_words_not_padding():
    X = np.array([[2, 3, 4, 5], [7, 0, 0, 0], [0, 0, 0, 0]])

    np.testing.assert_allclose(spam.length_scale(X), [[0.5], [1.0], [1.0]])
    np.testing.assert_allclose(spam.length_scale(X, padding_idx=None), [[0.5]] * 3)
    np.testing.assert_allclose(spam.length_scale(X, power=1), [[0.25], [1.0], [1.0]])
    np.testing.assert_array_equal(spam.length_scale(X, power=0), [[1.0]] * 3)


def test_linear_model_with_power_half_is_the_sum_over_sqrt_length_plus_bias():
    model = spam.LinearSpamModel(6, power=0.5, dtype=np.float64)
    model.embedding.weight.data[:, 0] = [0.0, 0.0, 1.0, -2.0, 0.5, 3.0]
    model.bias.data[...] = 0.25
    X = np.array([[2, 3, 4, 5], [5, 0, 0, 0]])

    z = model(X).data

    # (1 - 2 + 0.5 + 3) / sqrt(4) + 0.25 = 1.5;  3 / sqrt(1) + 0.25 = 3.25
    np.testing.assert_allclose(z, [[1.5], [3.25]])
    assert {k: v.shape for k, v in model.state_dict().items()} == {
        "embedding.weight": (6, 1), "bias": (1,)}


@pytest.mark.parametrize("power, expected", [(0, [[2.75], [3.25]]), (1, [[0.875], [3.25]])])
def test_linear_model_power_0_is_the_books_sum_and_1_the_mean(power, expected):
    model = spam.LinearSpamModel(6, power=power, dtype=np.float64)
    model.embedding.weight.data[:, 0] = [0.0, 0.0, 1.0, -2.0, 0.5, 3.0]
    model.bias.data[...] = 0.25
    X = np.array([[2, 3, 4, 5], [5, 0, 0, 0]])

    np.testing.assert_allclose(model(X).data, expected)  # sum 2.5 or mean 0.625, + 0.25


@pytest.mark.parametrize("power", [0, 0.5])
def test_linear_model_starts_at_zero_and_ignores_padding_and_order(power):
    model = spam.LinearSpamModel(10, power=power, dtype=np.float64)
    assert not model.state_dict()["embedding.weight"].any()
    model.embedding.weight.data[:, 0] = np.arange(10) * 0.1

    a = model(np.array([[2, 7, 9]])).data
    padded = model(np.array([[9, 2, 7, 0, 0]])).data

    np.testing.assert_allclose(padded, a)


@pytest.mark.parametrize("power", [0, 0.5])
def test_linear_model_gradcheck(rng, power):
    model = spam.LinearSpamModel(8, power=power, dtype=np.float64)
    model.embedding.weight.data[1:] = rng.normal(size=(7, 1))
    X = np.array([[2, 5, 5, 7], [3, 4, 6, 1]])  # no padding (row 0 is frozen); 5 repeats
    y = np.array([[1.0], [0.0]])

    result = gradcheck(lambda *params: nn.BCELoss()(model(X), y), model.get_parameters())

    assert result, str(result)


def test_linear_model_learns_the_toy_task(rng):
    X, y = toy_rows(200, rng)
    model = spam.LinearSpamModel(30)
    opt = optim.Adam(model.get_parameters(), alpha=0.05)

    for _ in range(20):
        spam.shuffled_epoch(model, X, y, opt, batch_size=32, rng=rng)

    assert spam.model_accuracy(model, X, y) == 1.0
    assert model.embedding.weight.data[2, 0] > 0 > model.embedding.weight.data[3, 0]


# ---------------------------------------------------------------------------
# frequent_word_map and remap_words
# ---------------------------------------------------------------------------
def test_frequent_word_map_keeps_words_in_enough_rows_in_order():
    X = np.array([[2, 3, 5, 0], [3, 5, 0, 0], [5, 6, 0, 0]])  # counts: 2:1 3:2 5:3 6:1

    word_map = spam.frequent_word_map(X, vocab_size=8, min_count=2)

    np.testing.assert_array_equal(word_map, [0, 0, 0, 1, 0, 2, 0, 0])
    assert word_map.dtype == np.int64


def test_frequent_word_map_with_min_count_1_keeps_every_seen_word():
    X = np.array([[4, 2, 0]])
    np.testing.assert_array_equal(spam.frequent_word_map(X, 6, min_count=1), [0, 0, 1, 0, 2, 0])


def test_remap_words_drops_rare_words_and_keeps_rows_padded_at_the_end():
    word_map = np.array([0, 0, 0, 1, 0, 2, 0, 0])
    X = np.array([[2, 3, 5, 0], [6, 2, 0, 0], [5, 7, 3, 0]])

    Y = spam.remap_words(X, word_map)

    np.testing.assert_array_equal(Y, [[1, 2, 0, 0], [0, 0, 0, 0], [2, 1, 0, 0]])
    assert Y.shape == X.shape and Y.dtype == np.int64


def naive_remap_words(X, word_map):
    """The per-row reference: map each word, keep the non-padding ones in order, pad."""
    out = np.zeros_like(X, dtype=np.int64)
    for i, row in enumerate(X):
        words = [int(word_map[w]) for w in row if w != 0 and word_map[w] != 0]
        out[i, :len(words)] = words
    return out


def test_remap_words_equals_the_naive_per_row_loop(rng):
    # Arrange: rows of random length (some empty, some full), padding also mid-row
    X = rng.integers(1, 40, size=(60, 12))
    X[rng.random(X.shape) < 0.3] = 0
    X[:5] = 0
    word_map = spam.frequent_word_map(X, vocab_size=40, min_count=4)
    # Act / Assert
    np.testing.assert_array_equal(spam.remap_words(X, word_map), naive_remap_words(X, word_map))
    empty = np.zeros((0, 7), dtype=np.int64)
    assert spam.remap_words(empty, word_map).shape == (0, 7)
    with pytest.raises(ValueError, match=r"\(N, max_len\)"):
        spam.remap_words(np.array([1, 2, 3]), word_map)


# ---------------------------------------------------------------------------
# SpamMLP
# ---------------------------------------------------------------------------
def test_spam_mlp_shapes_and_parameter_names(rng):
    model = spam.spam_mlp(50, dim=4, hidden=6, rng=rng)

    out = model(np.array([[2, 3, 0], [4, 0, 0]]))

    assert out.shape == (2, 1)
    assert {k: v.shape for k, v in model.state_dict().items()} == {
        "embedding.weight": (50, 4), "hidden.weight": (4, 6), "hidden.bias": (6,),
        "out.weight": (6, 1), "out.bias": (1,)}
    assert all(v.dtype == np.float32 for v in model.state_dict().values())
    np.testing.assert_array_equal(model.embedding.weight.data[PAD_INDEX], 0)


def test_spam_mlp_ignores_padding_and_word_order(rng):
    model = spam.spam_mlp(20, dim=3, hidden=5, rng=rng, dtype=np.float64)

    a = model(np.array([[2, 7, 9]])).data
    padded = model(np.array([[2, 7, 9, 0, 0, 0]])).data
    shuffled = model(np.array([[9, 2, 7, 0]])).data

    np.testing.assert_allclose(padded, a)
    np.testing.assert_allclose(shuffled, a)


def test_spam_mlp_pools_by_sum_over_sqrt_length(rng):
    model = spam.spam_mlp(10, dim=2, hidden=3, rng=rng, dtype=np.float64)
    E = model.embedding.weight.data
    X = np.array([[2, 3, 4, 5]])
    pooled = (E[2] + E[3] + E[4] + E[5]) / 2.0  # sqrt(4 words)
    hidden = np.maximum(pooled @ model.hidden.weight.data + model.hidden.bias.data, 0)
    expected = hidden @ model.out.weight.data + model.out.bias.data

    np.testing.assert_allclose(model(X).data, expected.reshape(1, 1))


def test_spam_mlp_of_an_all_padding_email_is_finite(rng):
    model = spam.spam_mlp(10, dim=2, hidden=3, rng=rng)
    assert np.isfinite(model(np.zeros((1, 4), dtype=np.int64)).data).all()


def test_spam_mlp_gradcheck_of_the_loss_wrt_all_parameters(rng):
    model = spam.spam_mlp(12, dim=3, hidden=4, rng=rng, dtype=np.float64)
    # no padding here: row 0 is frozen at zero by design, so its numeric gradient is not
    # the model's (padding is covered by the tests above); word 5 repeats
    X = np.array([[2, 5, 5, 9], [3, 4, 7, 11], [6, 5, 8, 10]])
    y = np.array([[1.0], [0.0], [1.0]])
    criterion = nn.BCELoss()

    result = gradcheck(lambda *params: criterion(model(X), y), model.get_parameters())

    assert result, str(result)


# ---------------------------------------------------------------------------
# shuffled_epoch and model_accuracy
# ---------------------------------------------------------------------------
def toy_rows(num_rows, rng, max_len=12):
    """Spam rows hold word 2, ham rows word 3, each with a few noise words 4..29."""
    X = np.zeros((num_rows, max_len), dtype=np.int64)
    y = (np.arange(num_rows) % 2 == 0).astype(np.float64).reshape(-1, 1)
    for i in range(num_rows):
        n = rng.integers(1, max_len)
        noise = rng.choice(np.arange(4, 30), size=n - 1, replace=False)
        X[i, :n] = np.r_[2 if y[i, 0] else 3, noise]
    return X, y


def twin_mlps(optimizer, alpha):
    """Two float64 SpamMLPs with the same weights, each with its own optimizer:
    (model_a, opt_a, model_b, opt_b)."""
    twins = []
    for _ in range(2):
        model = spam.spam_mlp(30, dim=3, hidden=4, rng=1, dtype=np.float64)
        twins += [model, optimizer(model.get_parameters(), alpha=alpha)]
    return tuple(twins)


def assert_same_weights(model_a, model_b):
    for name, value in model_b.state_dict().items():
        np.testing.assert_allclose(model_a.state_dict()[name], value, rtol=1e-10, atol=1e-12)


def test_shuffled_epoch_in_order_matches_a_hand_loop_at_full_width(rng):
    X, y = toy_rows(40, rng)
    trained, opt_a, by_hand, opt_b = twin_mlps(optim.Adam, 0.01)

    n = spam.shuffled_epoch(trained, X, y, opt_a, batch_size=16)  # batches cut to their width
    for start in range(0, len(X), 16):  # the full, padded width
        loss = nn.BCELoss()(by_hand(X[start:start + 16]), Tensor(y[start:start + 16]))
        loss.backward()
        opt_b.step()

    assert n == 40
    assert_same_weights(trained, by_hand)


def test_shuffled_epoch_class_weight_is_a_weighted_mean_of_the_row_losses(rng):
    # Arrange: one batch, in order; ham rows weigh 3, spam rows 1
    X, y = toy_rows(10, rng)
    weighted, opt_a, by_hand, opt_b = twin_mlps(optim.SGD, 0.5)
    w = np.where(y > 0.5, 1.0, 3.0)
    # Act
    spam.shuffled_epoch(weighted, X, y, opt_a, batch_size=10, class_weight={0: 3.0, 1: 1.0})
    rows = nn.BCELoss(reduction="none")(by_hand(X), Tensor(y))
    (rows * Tensor(w / w.sum())).sum().backward()
    opt_b.step()
    # Assert
    assert_same_weights(weighted, by_hand)


def test_shuffled_epoch_equal_class_weights_are_the_plain_mean(rng):
    X, y = toy_rows(40, rng)
    models = [spam.spam_mlp(30, dim=3, hidden=4, rng=1, dtype=np.float64) for _ in range(3)]
    for model, cw in zip(models, [None, {0: 2.0, 1: 2.0}, {0: 5.0, 1: 1.0}], strict=True):
        spam.shuffled_epoch(model, X, y, optim.Adam(model.get_parameters(), alpha=0.01),
                            batch_size=16, rng=np.random.default_rng(0), class_weight=cw)
    plain, equal, ham_heavy = (m.state_dict() for m in models)
    for name in plain:
        np.testing.assert_allclose(equal[name], plain[name], rtol=1e-9, atol=1e-12)
    assert not np.allclose(ham_heavy["out.bias"], plain["out.bias"])


@pytest.mark.parametrize("bad", [{0: 1.0}, {0: 0.0, 1: 1.0}, {0: 1.0, 1: -2.0},
                                 {"ham": 1.0, "spam": 1.0}])
def test_shuffled_epoch_rejects_bad_class_weights(rng, bad):
    X, y = toy_rows(8, rng)
    model = spam.spam_mlp(30, dim=2, hidden=2, rng=0)
    with pytest.raises(ValueError, match="class_weight must map both labels 0"):
        spam.shuffled_epoch(model, X, y, optim.SGD(model.get_parameters(), alpha=0.1),
                            class_weight=bad)


def test_shuffled_epoch_with_buckets_is_reproducible_and_learns(rng):
    X, y = toy_rows(200, rng)

    def train(seed):
        model = spam.spam_mlp(30, dim=4, hidden=8, rng=0)
        opt = optim.Adam(model.get_parameters(), alpha=0.03)
        gen = np.random.default_rng(seed)
        for _ in range(8):
            spam.shuffled_epoch(model, X, y, opt, batch_size=32, rng=gen)
        return model

    first, again = train(3), train(3)

    np.testing.assert_array_equal(first.embedding.weight.data, again.embedding.weight.data)
    assert spam.model_accuracy(first, X, y) == 1.0
    assert first.embedding.weight.data[PAD_INDEX].tolist() == [0.0] * 4


def test_shuffled_epoch_visits_every_row_once_per_epoch(rng):
    X, y = toy_rows(50, rng)
    seen = []

    class Recorder(spam.SpamMLP):
        def forward(self, X_batch):
            seen.append(len(X_batch))
            return super().forward(X_batch)

    model = Recorder(30, dim=2, hidden=2, rng=0)
    spam.shuffled_epoch(model, X, y, optim.SGD(model.get_parameters(), alpha=0.1),
                         batch_size=16, rng=rng)

    assert sorted(seen) == [2, 16, 16, 16]


def test_model_accuracy_of_a_hand_made_model():
    model = spam.spam_mlp(4, dim=1, hidden=1, rng=0, dtype=np.float64)
    model.embedding.weight.data[:, 0] = [0.0, 0.0, 1.0, -1.0]  # '<pad>', '<unk>', spammy, hammy
    model.hidden.weight.data[...] = 1.0
    model.hidden.bias.data[...] = 0.0
    model.out.weight.data[...] = 1.0
    model.out.bias.data[...] = -0.1
    X = np.array([[2, 0], [3, 0], [2, 2], [3, 3]])
    y = np.array([[1.0], [0.0], [0.0], [0.0]])
    # logits 0.9, -0.1, 1.31, -0.1 -> spam, ham, spam, ham: 3 of 4 right

    assert spam.model_accuracy(model, X, y, batch_size=3) == pytest.approx(0.75)


def test_mlp_on_a_synthetic_corpus_beats_chance():
    data = spam.book_recipe(synthetic_spam(num_emails=600, seed=0), test_per_class=50)
    gen = np.random.default_rng(0)
    model = spam.spam_mlp(len(data.vocab), dim=8, hidden=8, rng=gen)
    opt = optim.Adam(model.get_parameters(), alpha=0.01)

    for _ in range(3):
        spam.shuffled_epoch(model, data.X_train, data.y_train, opt, batch_size=64, rng=gen)

    assert spam.model_accuracy(model, data.X_test, data.y_test) > 0.8


def test_rows_touched_counts_distinct_non_padding_ids_over_clients():
    from minigrad.recipes import spam

    a = np.array([[3, 1, 0, 0], [3, 2, 0, 0]])
    b = np.array([[5, 2, 0, 0]])
    assert spam.rows_touched(a) == 3
    assert spam.rows_touched(a, b) == 4


def test_book_update_fn_is_one_book_epoch_through_client_update():
    from minigrad.recipes import spam

    rng = np.random.default_rng(0)
    X = rng.integers(1, 20, size=(1000, 5))  # two full batches: the book skips a partial one
    y = rng.integers(0, 2, size=(1000, 1)).astype(np.float32)
    model = spam.spam_model(20)
    start = model.state_dict()
    sent, num_examples = spam.book_update_fn(model)(start, (X, y))
    expected_model = spam.spam_model(20)
    expected_model.load_state_dict(start)
    spam.train_epoch(expected_model, X, y)
    np.testing.assert_array_equal(sent["weight"], expected_model.state_dict()["weight"])
    assert not np.array_equal(sent["weight"], start["weight"])
    assert num_examples == 1000


def test_recipe_setup_drop_long_trains_only_on_rows_with_padding(rng):
    # Arrange: two of the rows fill every slot (the book drops such emails)
    X, y = toy_rows(30, rng)
    X[[3, 8]] = rng.integers(4, 30, size=(2, X.shape[1]))
    rows = np.arange(len(X))
    keep = (X == 0).any(axis=1)
    setup = spam.recipe_setup("book", 30, loss="book_mse", alpha=0.5, batch_size=7,
                              drop_long=True)
    plain = spam.recipe_setup("book", 30, loss="book_mse", alpha=0.5, batch_size=7)
    # Act: the dropping setup on all rows, the plain one on the kept rows
    train_drop, score_drop = setup(X, y, rows, rng)
    train_kept, score_kept = plain(X[keep], y[keep], rows[keep], rng)
    train_drop(), train_kept()
    # Assert: the same predictions on every row, one row at a time
    assert keep.sum() == 28
    assert [score_drop(X[i:i + 1], y[i:i + 1]) for i in range(len(X))] == \
        [score_kept(X[i:i + 1], y[i:i + 1]) for i in range(len(X))]
    with pytest.raises(ValueError, match="ham_weight needs"):
        spam.recipe_setup("book", 30, alpha=0.1, ham_weight=2.0)
