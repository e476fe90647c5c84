"""Spam detection as in Grokking Deep Learning ch. 15, made exact, plus its fixes.

The book's recipe, on the Enron-Spam folders it was made from:

1. emails in order enron1 ... enron6, spam then ham, files sorted by name;
2. each email whitespace-split into its *set* of words;
3. emails with >= 500 distinct words dropped (the book's ``len(line) < 500``);
4. test = the last 1000 spam and last 1000 ham; training rows interleave spam
   and ham, cycling the shorter class;
5. model: ``Embedding(len(vocab), 1)`` at zero, summed over 500 slots, sigmoid,
   ``MSELoss`` summed over the batch, ``SGD(alpha=0.01)``, batch 500, the last
   incomplete batch skipped (``int(len / 500)`` batches).

Beyond the book (notebook 01, section 7): ``holdout_like_test`` (a validation set
built like the test set), ``LinearSpamModel`` (the book's model plus a bias),
``SpamMLP`` (word vectors, pooled, into a small network), and ``shuffled_epoch``
(shuffled batches of similar length, any optimizer).

Everything here is a function of its inputs: no global state; randomness only from
an ``np.random.Generator`` you pass in.
"""

from dataclasses import dataclass

import numpy as np

from .. import nn, optim
from ..datasets.text import PAD_INDEX, Vocabulary, tokenize
from ..tensor import Tensor, no_grad

__all__ = [
    "SpamData",
    "email_words",
    "book_recipe",
    "interleave",
    "spam_model",
    "logits",
    "train_epoch",
    "accuracy",
    "validation_split",
    "holdout_like_test",
    "frequent_word_map",
    "remap_words",
    "recipe_setup",
    "length_scale",
    "LinearSpamModel",
    "SpamMLP",
    "spam_mlp",
    "shuffled_epoch",
    "model_accuracy",
    "BOOK_MAX_LEN",
    "BOOK_TEST_PER_CLASS",
]

BOOK_MAX_LEN = 500
BOOK_TEST_PER_CLASS = 1000


@dataclass(repr=False)
class SpamData:
    """Index matrices ready for training.

    X_train (N, max_len) int64, y_train (N, 1) float; X_test, y_test likewise;
    train_rows / test_rows: the corpus position of each row (so a row can be
    traced to its email and owner); vocab: the Vocabulary; num_dropped /
    num_truncated: emails dropped or cut by the ``long`` policy.
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    train_rows: np.ndarray
    test_rows: np.ndarray
    vocab: Vocabulary
    num_dropped: int
    num_truncated: int
    max_len: int
    long: str

    def __repr__(self):
        return (f"SpamData(train {self.X_train.shape}, test {self.X_test.shape}, "
                f"vocab {len(self.vocab)}, long={self.long!r}: {self.num_dropped} dropped, "
                f"{self.num_truncated} truncated)")


def interleave(spam_rows, ham_rows):
    """spam0, ham0, spam1, ham1, ... for max(len) pairs, cycling the shorter class.

    Returns (rows, labels): int64 (2 * max(len),), float (2 * max(len), 1).
    """
    spam_rows, ham_rows = np.asarray(spam_rows), np.asarray(ham_rows)
    if len(spam_rows) == 0 or len(ham_rows) == 0:
        raise ValueError("interleave: both classes need at least one row")
    n = max(len(spam_rows), len(ham_rows))
    i = np.arange(n)
    rows = np.stack([spam_rows[i % len(spam_rows)], ham_rows[i % len(ham_rows)]], axis=1)
    labels = np.tile([1.0, 0.0], n).reshape(-1, 1)
    return rows.reshape(-1), labels


def email_words(corpus, lowercase=False):
    """Each email's set of words, in order of first occurrence: a list with one word
    list per email, in corpus order (the book's ``set(row.split(" "))``, made ordered)."""
    return [tokenize(text, lowercase=lowercase, unique=True) for text in corpus.texts]


def book_recipe(corpus, max_len=BOOK_MAX_LEN, long="drop", test_per_class=BOOK_TEST_PER_CLASS,
                lowercase=False, test_rows=None, words=None, vocab=None):
    """The book's data preparation on a ``SpamCorpus`` (see the module docstring).

    ``long="drop"`` is the book's (silent) rule; ``long="truncate"`` keeps every
    email and cuts it to ``max_len`` words. ``lowercase=False`` keeps the text
    as the corpus has it, as the book does. ``test_rows`` (corpus positions,
    e.g. another recipe's ``test_rows``) pins the test set to those emails, in
    that order, so two recipes are compared on the same test emails; every
    other kept email trains.

    Preparing the same corpus twice? Pass ``words=email_words(corpus, lowercase)``
    and ``vocab`` (an earlier recipe's ``.vocab``, built on the same words) to skip
    re-tokenizing every email and re-counting the vocabulary (it is the same:
    both are built over every email).
    """
    if words is None:
        words = email_words(corpus, lowercase=lowercase)
    elif len(words) != len(corpus):
        raise ValueError(f"book_recipe: words must hold one word list per email "
                         f"({len(corpus)}), got {len(words)}")
    if test_rows is not None:
        return _pinned_recipe(corpus, np.asarray(test_rows), max_len, long, words, vocab)
    labels = np.asarray(corpus.labels)
    spam_pos = np.flatnonzero(labels == 1)
    ham_pos = np.flatnonzero(labels == 0)
    order = np.concatenate([spam_pos, ham_pos])
    tokens = [words[i] for i in order]
    if vocab is None:
        vocab = Vocabulary.build(tokens)
    indexed = vocab.to_indices(tokens, max_len=max_len, long=long)

    kept_pos = order[indexed.kept]  # corpus position of each kept row
    is_spam = labels[kept_pos] == 1
    spam_idx, ham_idx = np.flatnonzero(is_spam), np.flatnonzero(~is_spam)
    if min(len(spam_idx), len(ham_idx)) <= test_per_class:
        raise ValueError(f"book_recipe: need more than {test_per_class} emails of each class "
                         f"after the '{long}' policy; have {len(spam_idx)} spam, "
                         f"{len(ham_idx)} ham")
    train_sel, y_train = interleave(spam_idx[:-test_per_class], ham_idx[:-test_per_class])
    test_sel, y_test = interleave(spam_idx[-test_per_class:], ham_idx[-test_per_class:])
    return SpamData(
        X_train=indexed.indices[train_sel], y_train=y_train,
        X_test=indexed.indices[test_sel], y_test=y_test,
        train_rows=kept_pos[train_sel], test_rows=kept_pos[test_sel],
        vocab=vocab, num_dropped=indexed.num_dropped, num_truncated=indexed.num_truncated,
        max_len=max_len, long=long,
    )


def _pinned_recipe(corpus, test_rows, max_len, long, tokens, vocab):
    labels = np.asarray(corpus.labels)
    order = np.concatenate([np.flatnonzero(labels == 1), np.flatnonzero(labels == 0)])
    if vocab is None:
        vocab = Vocabulary.build(tokens[i] for i in order)
    is_test = np.zeros(len(labels), dtype=bool)
    is_test[test_rows] = True
    train_order = order[~is_test[order]]
    indexed = vocab.to_indices([tokens[i] for i in train_order], max_len=max_len, long=long)
    kept = train_order[indexed.kept]
    spam_k, ham_k = np.flatnonzero(labels[kept] == 1), np.flatnonzero(labels[kept] == 0)
    train_sel, y_train = interleave(spam_k, ham_k)
    test = vocab.to_indices([tokens[i] for i in test_rows], max_len=max_len, long="truncate")
    return SpamData(
        X_train=indexed.indices[train_sel], y_train=y_train,
        X_test=test.indices, y_test=labels[test_rows].astype(np.float64).reshape(-1, 1),
        train_rows=kept[train_sel], test_rows=test_rows, vocab=vocab,
        num_dropped=indexed.num_dropped, num_truncated=indexed.num_truncated + test.num_truncated,
        max_len=max_len, long=long,
    )


def spam_model(vocab_size, dtype=np.float32, padding_idx=PAD_INDEX):
    """The book's model: ``Embedding(vocab_size, 1)`` initialised to zero."""
    model = nn.Embedding(vocab_size, 1, dtype=dtype, padding_idx=padding_idx)
    model.weight.data[...] = 0
    return model


def logits(model, X):
    """Sum of the words' weights per email: (B, max_len) ids -> (B, 1) scores."""
    return model(X).sum(1)


_LOSSES = {
    # the book: sigmoid, then squared error summed over the batch
    "book_mse": lambda z, y: nn.MSELoss(reduction="sum")(z.sigmoid(), y),
    # the fix: cross-entropy computed from the logits, averaged over the batch
    "bce": lambda z, y: nn.BCELoss(reduction="mean")(z, y),
}


def train_epoch(model, X, y, *, batch_size=500, alpha=0.01, loss="book_mse", optimizer=None,
                drop_last=True):
    """One pass over (X, y) in order; returns the number of examples trained on.

    The book's loop (``loss="book_mse"``, SGD ``alpha``, last partial batch
    skipped). ``optimizer`` (e.g. an ``optim.Adam`` over ``model``) replaces SGD.
    """
    try:
        loss_fn = _LOSSES[loss]
    except KeyError:
        raise ValueError(
            f"train_epoch: loss must be one of {sorted(_LOSSES)}, got {loss!r}") from None
    if optimizer is None:
        optimizer = optim.SGD(model.get_parameters(), alpha=alpha)
    n = len(X)
    num_batches = n // batch_size if drop_last else -(-n // batch_size)
    dtype = model.weight.data.dtype
    for b in range(num_batches):
        sl = slice(b * batch_size, (b + 1) * batch_size)
        target = Tensor(y[sl], dtype=dtype)
        loss_value = loss_fn(logits(model, X[sl]), target)
        loss_value.backward()
        optimizer.step()
    return min(num_batches * batch_size, n)


def accuracy(model, X, y, batch_size=5000):
    """Share of emails whose predicted class (logit > 0, i.e. sigmoid > 0.5) matches y."""
    correct = 0
    with no_grad():
        for start in range(0, len(X), batch_size):
            z = logits(model, X[start:start + batch_size]).data
            correct += int(((z > 0) == (y[start:start + batch_size] > 0.5)).sum())
    return correct / len(X)


# ---------------------------------------------------------------------------
# beyond the book (notebook 01): a validation slice, a smaller table, a small MLP
# ---------------------------------------------------------------------------
def validation_split(data, corpus, fraction=0.05):
    """Hold out the most recent training emails of every mailbox, per class.

    For each (owner, label), the last ``round(fraction * n)`` of that owner's n
    training emails in corpus (file-name, i.e. date) order are held out, as the
    test set holds the corpus' last emails. Returns (fit, val): int64 positions
    into ``data.X_train``; ``fit`` keeps every row of the other emails in
    training order (repeats from ``interleave`` included), ``val`` has one row
    per held-out email, in increasing position.
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"validation_split: fraction must lie in (0, 1), got {fraction}")
    rows = np.asarray(data.train_rows)
    owners, labels = np.asarray(corpus.owners), np.asarray(corpus.labels)
    emails, first = np.unique(rows, return_index=True)  # sorted corpus positions
    held = []
    for owner in np.unique(owners[emails]):
        for label in np.unique(labels[emails]):
            mine = emails[(owners[emails] == owner) & (labels[emails] == label)]
            k = int(round(fraction * len(mine)))
            held.append(mine[len(mine) - k:])
    is_val = np.isin(rows, np.concatenate(held))
    val = np.sort(first[is_val[first]])
    return np.flatnonzero(~is_val).astype(np.int64), val.astype(np.int64)


def holdout_like_test(data, corpus, per_class=BOOK_TEST_PER_CLASS):
    """A validation set built the way the test set is: the last emails of each class.

    The book's test set is the last ``per_class`` spam and the last ``per_class`` ham
    of the corpus order. This holds out the last ``per_class`` spam and ham of the
    *training* emails in the same order, i.e. the emails just before the test ones,
    from the same (last) mailboxes. Returns (fit, val): int64 positions into
    ``data.X_train``; ``fit`` keeps every row of the other emails in training order
    (repeats from ``interleave`` included); ``val`` has one row per held-out email,
    interleaved spam, ham, spam, ... as the test rows are.
    """
    rows = np.asarray(data.train_rows)
    labels = np.asarray(corpus.labels)
    emails, first = np.unique(rows, return_index=True)  # sorted corpus positions
    held = []
    for label, name in [(1, "spam"), (0, "ham")]:
        mine = np.flatnonzero(labels[emails] == label)
        if len(mine) <= per_class:
            raise ValueError(f"holdout_like_test: need more than per_class={per_class} "
                             f"training emails of each class; have {len(mine)} {name}")
        held.append(mine[-per_class:])
    val, _ = interleave(first[held[0]], first[held[1]])
    is_val = np.isin(rows, emails[np.concatenate(held)])
    return np.flatnonzero(~is_val).astype(np.int64), val.astype(np.int64)


def frequent_word_map(X, vocab_size, min_count=2, padding_idx=PAD_INDEX):
    """Old word id -> new id, keeping the words found in >= ``min_count`` rows of ``X``.

    X: (N, max_len) ids, one row per email (rows are sets of words, so a word's
    count is its number of emails). Kept words get ids 1, 2, ... in their old
    order after ``padding_idx`` = 0; every other word maps to ``padding_idx``, so
    it is ignored like padding. Returns int64 (vocab_size,); ``word_map.max() + 1``
    is the new vocabulary size.
    """
    if padding_idx != 0:
        raise ValueError("frequent_word_map: the new ids start after padding index 0")
    counts = np.bincount(np.asarray(X).ravel(), minlength=vocab_size)
    keep = counts >= min_count
    keep[padding_idx] = True
    return np.where(keep, np.cumsum(keep) - 1, padding_idx).astype(np.int64)


def remap_words(X, word_map, padding_idx=PAD_INDEX):
    """Apply ``word_map`` to every id and move each row's remaining words to its front.

    (N, max_len) -> (N, max_len) int64; words mapped to ``padding_idx`` vanish and
    the row stays padded at the end, as ``Vocabulary.to_indices`` pads it. Padding
    stays padding. Only the non-padding ids (about a fifth of Enron's) are gathered and
    mapped: on this machine a fresh (N, max_len) temporary costs more than the work.
    """
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"remap_words: X must be (N, max_len) ids, got shape {X.shape}")
    n, width = X.shape
    flat = X.ravel()
    pos = np.flatnonzero(flat != padding_idx)      # where the words are, row-major
    ids = word_map[flat[pos]]
    keep = ids != padding_idx
    ids = ids[keep]
    per_row = np.bincount(pos[keep] // width, minlength=n)
    out = np.zeros((n, width), dtype=np.int64)
    out[np.arange(width) < per_row[:, None]] = ids  # row-major fill: each row's words, in order
    return out


def length_scale(X, padding_idx=PAD_INDEX, power=0.5):
    """1 / n**power for each row of ids, n = its number of words: (B, L) -> (B, 1) float64.

    power=0.5 (1 / sqrt(n)) is how ``SpamMLP`` pools; 0 keeps the plain sum; 1 gives the
    mean. Padding is not counted (``padding_idx=None``: every slot counts); an empty row
    counts as 1 word, and its sum of word vectors is zero anyway.
    """
    X = np.asarray(X)
    if padding_idx is None:
        lengths = np.full((len(X), 1), X.shape[1])
    else:
        lengths = (X != padding_idx).sum(1, keepdims=True)
    lengths = np.maximum(lengths, 1)
    return 1.0 / (np.sqrt(lengths) if power == 0.5 else lengths ** float(power))


class LinearSpamModel(nn.Layer):
    """The book's model plus a bias: (B, max_len) ids -> (B, 1) logits.

    logit = (sum of the email's word weights) / n**power + bias, n = number of words.
    The word weights are the book's ``Embedding(vocab_size, 1)`` at zero (``embedding``),
    the bias is one number (``bias``). ``power=0`` keeps the book's sum; 0.5 divides by
    sqrt(n), so that n words of similar weight w score about sqrt(n) * w instead of
    n * w; 1 takes the mean.
    """

    def __init__(self, vocab_size, power=0, dtype=np.float32, padding_idx=PAD_INDEX):
        self.embedding = spam_model(vocab_size, dtype=dtype, padding_idx=padding_idx)
        self.bias = Tensor(np.zeros(1, dtype=dtype), autograd=True)
        self.power = power
        self.padding_idx = padding_idx

    def forward(self, X):
        X = np.asarray(X)
        z = self.embedding(X).sum(1)
        if self.power:
            z = z * Tensor(length_scale(X, self.padding_idx, self.power), dtype=self.bias.dtype)
        return z + self.bias


class SpamMLP(nn.Layer):
    """Pooled word embeddings into a one-hidden-layer MLP: (B, max_len) ids -> (B, 1) logits.

    pooled = (sum of the email's word vectors) / sqrt(number of words), so long
    and short emails give vectors of a similar size; logit = relu(pooled W1 + b1) W2 + b2.
    Padding (``padding_idx``) is neither counted nor learned.
    """

    def __init__(self, vocab_size, dim=16, hidden=32, rng=None, dtype=np.float32,
                 padding_idx=PAD_INDEX):
        self.embedding = nn.Embedding(vocab_size, dim, rng=rng, dtype=dtype,
                                      padding_idx=padding_idx)
        self.hidden = nn.Linear(dim, hidden, rng=rng, dtype=dtype)
        self.out = nn.Linear(hidden, 1, rng=rng, dtype=dtype)
        self.padding_idx = padding_idx

    def forward(self, X):
        X = np.asarray(X)
        scale = Tensor(length_scale(X, self.padding_idx), dtype=self.out.weight.dtype)
        pooled = self.embedding(X).sum(1) * scale
        return self.out(self.hidden(pooled).relu())


def spam_mlp(vocab_size, dim=16, hidden=32, rng=None, dtype=np.float32):
    """A ``SpamMLP``: Embedding(vocab_size, dim), sqrt-pooled, Linear(dim, hidden), ReLU,
    Linear(hidden, 1). ``rng`` (a Generator or a seed) draws the initial weights."""
    return SpamMLP(vocab_size, dim=dim, hidden=hidden, rng=rng, dtype=dtype)


def _trim(X, padding_idx=PAD_INDEX):
    """Drop the padding columns every row of a batch has (rows are padded at the end)."""
    width = int((X != padding_idx).sum(1).max(initial=0))
    return X[:, :max(width, 1)]


def _class_weights(class_weight, y, dtype):
    """Per-row weights (len(y), 1) from {0: w0, 1: w1}; None stays None."""
    if class_weight is None:
        return None
    if set(class_weight) != {0, 1} or not all(float(w) > 0 for w in class_weight.values()):
        raise ValueError(f"class_weight must map both labels 0 (ham) and 1 (spam) to a "
                         f"positive weight, got {class_weight!r}")
    labels = np.asarray(y).reshape(len(y), -1)[:, :1]
    if not np.isin(labels, (0, 1)).all():
        raise ValueError("class_weight needs labels y of exactly 0 and 1")
    return np.where(labels > 0.5, float(class_weight[1]), float(class_weight[0])).astype(dtype)


def shuffled_epoch(model, X, y, optimizer, *, batch_size=500, rng=None, bucket=True,
                   class_weight=None):
    """One epoch of cross-entropy (from logits) training of any ``model`` mapping
    (B, L) ids to (B, 1) logits (``LinearSpamModel``, ``SpamMLP``), one
    ``optimizer.step()`` per batch.

    With ``rng`` (an ``np.random.Generator``) the rows are shuffled; with
    ``bucket`` as well, the shuffled rows are sorted by length, cut into
    batches, and the batches visited in random order, so each batch holds
    emails of similar length. Each batch is cut to its longest row, which gives
    the same result as the full width (padding adds nothing) but gathers and
    scatters ~4x fewer rows on Enron. Every row is used; returns len(X).

    ``class_weight`` ({0: ham weight, 1: spam weight}, both > 0) makes each batch's loss
    the weighted mean sum(w_i l_i) / sum(w_i), so a ham email flagged as spam costs
    ``class_weight[0] / class_weight[1]`` times as much as a missed spam; None is the
    plain mean.
    """
    X = np.asarray(X)
    n = len(X)
    order = np.arange(n) if rng is None else rng.permutation(n)
    if rng is not None and bucket:
        lengths = (X[order] != PAD_INDEX).sum(1)
        order = order[np.argsort(lengths, kind="stable")]
        starts = np.arange(0, n, batch_size)[rng.permutation(-(-n // batch_size))]
    else:
        starts = np.arange(0, n, batch_size)
    dtype = model.get_parameters()[0].data.dtype
    weights = _class_weights(class_weight, y, dtype)
    criterion = nn.BCELoss(reduction="mean" if weights is None else "none")
    for start in starts:
        idx = order[start:start + batch_size]
        loss_value = criterion(model(_trim(X[idx])), Tensor(y[idx], dtype=dtype))
        if weights is not None:
            w = weights[idx]
            loss_value = (loss_value * Tensor(w / w.sum(), dtype=dtype)).sum()
        loss_value.backward()
        optimizer.step()
    return n


def model_accuracy(model, X, y, batch_size=1000):
    """Like ``accuracy``, for any model that maps (B, max_len) ids to (B, 1) logits."""
    correct = 0
    with no_grad():
        for start in range(0, len(X), batch_size):
            z = model(_trim(X[start:start + batch_size])).data
            correct += int(((z > 0) == (y[start:start + batch_size] > 0.5)).sum())
    return correct / len(X)


def recipe_setup(kind, vocab_size, *, alpha, batch_size=100, loss="bce", dim=16, hidden=32,
                 min_count=1, optimizer="adam", power=0, ham_weight=1.0, drop_long=False):
    """A candidate recipe as ``setup(X, y, rows, rng) -> (train_one_epoch, score)``.

    kind: ``"book"`` (``spam_model`` trained in order by ``train_epoch``, SGD ``alpha``,
    ``loss``, batches of ``batch_size``), ``"linear"`` (``LinearSpamModel(power)``) or
    ``"mlp"`` (``spam_mlp(dim, hidden)``, its weights drawn from ``rng``); the last two
    learn from cross-entropy in shuffled batches of ``batch_size`` (``shuffled_epoch``,
    shuffled by ``rng``) with Adam ``alpha`` (``optimizer="sgd"``: SGD). ``min_count`` > 1
    keeps only the words found in that many training emails (``rows`` are their corpus
    positions, one per row of ``X``). ``ham_weight`` != 1 weighs ham rows that much more
    than spam rows in each batch's loss (``shuffled_epoch(class_weight=...)``; linear and
    MLP only). ``drop_long`` trains only on the rows with some padding, i.e. the book's
    rule of dropping emails of ``max_len`` or more words. ``score(X, y)`` is the accuracy
    on other emails.
    """
    if kind not in ("book", "linear", "mlp"):
        raise ValueError(f"recipe_setup: kind must be 'book', 'linear' or 'mlp', got {kind!r}")
    if optimizer not in ("adam", "sgd"):
        raise ValueError(f"recipe_setup: optimizer must be 'adam' or 'sgd', got {optimizer!r}")
    if ham_weight != 1.0 and kind == "book":
        raise ValueError("recipe_setup: ham_weight needs a 'linear' or 'mlp' recipe "
                         "(the book's loop has no class weights)")
    class_weight = None if ham_weight == 1.0 else {0: float(ham_weight), 1: 1.0}

    def setup(X, y, rows, rng):
        if drop_long:
            keep = (X == PAD_INDEX).any(axis=1)
            X, y, rows = X[keep], y[keep], np.asarray(rows)[keep]
        if min_count > 1:
            _, first = np.unique(rows, return_index=True)  # one row per training email
            word_map = frequent_word_map(X[first], vocab_size, min_count=min_count)

            def small(X_any):
                return remap_words(X_any, word_map)
            size = int(word_map.max()) + 1
        else:  # every word kept: the ids stay as they are
            def small(X_any):
                return X_any
            size = vocab_size
        X_small = small(X)
        if kind == "book":
            model = spam_model(size)

            def train_one_epoch():
                train_epoch(model, X_small, y, loss=loss, alpha=alpha, batch_size=batch_size)

            def score(X_eval, y_eval):
                return accuracy(model, small(X_eval), y_eval)
            return train_one_epoch, score
        if kind == "linear":
            model = LinearSpamModel(size, power=power)
        else:
            model = spam_mlp(size, dim=dim, hidden=hidden, rng=rng)
        opt = (optim.Adam if optimizer == "adam" else optim.SGD)(model.get_parameters(),
                                                                  alpha=alpha)

        def train_one_epoch():
            shuffled_epoch(model, X_small, y, opt, batch_size=batch_size, rng=rng,
                           class_weight=class_weight)

        def score(X_eval, y_eval):
            return model_accuracy(model, small(X_eval), y_eval)
        return train_one_epoch, score
    return setup


def rows_touched(*X_clients, padding_idx=PAD_INDEX):
    """Distinct word rows used by the given clients' (N, max_len) id arrays, padding excluded.

    These are the embedding rows a round's updates can change: what notebook 02's
    row-diff attack reads, and what an encrypted or masked upload must still cover.
    """
    ids = np.unique(np.concatenate([np.asarray(X).ravel() for X in X_clients]))
    return int((ids != padding_idx).sum())


def book_update_fn(model):
    """The book's local step as a FedAvg update function: ``(params, (X, y)) -> (params, n)``.

    Loads ``params`` into ``model`` (the object every client trains in turn) and runs
    one ``train_epoch`` (batch 500, SGD 0.01, the book's summed MSE) on the client's rows.
    """
    from ..federated import client_update

    def update(params, data):
        return client_update(model, params, lambda m, xy: train_epoch(m, *xy), data)

    return update
