"""Reference solutions to notebook 02's exercises (read from the notebook), on a tiny literal
vocabulary."""

import numpy as np
import pytest
from teacher import solutions

from minigrad.datasets.text import Vocabulary
from minigrad.privacy.attacks import changed_rows
from minigrad.recipes.spam import spam_model, train_epoch

nb02 = solutions("02")

WORDS = ["my", "computer", "password", "is", "pizza", "free", "money", "meeting", "at", "noon"]
BOB_EMAIL = ["my", "computer", "password", "is", "pizza"]


@pytest.fixture
def vocab():
    return Vocabulary(WORDS)


def one_step(vocab, emails, targets, start=None, alpha=0.01):
    """(sent, received) for one SGD step of the book's loss over all ``emails`` at once."""
    model = spam_model(len(vocab))
    if start is not None:
        model.load_state_dict(start)
    sent = model.state_dict()
    X = vocab.to_indices(emails, max_len=6).indices
    train_epoch(model, X, np.asarray(targets, dtype=np.float64).reshape(-1, 1),
                batch_size=len(emails), alpha=alpha)
    return sent, model.state_dict()


@pytest.mark.parametrize("label", [0, 1])
def test_infer_label_from_zero_and_from_random_models(vocab, rng, label):
    start = {"weight": rng.uniform(-0.3, 0.3, (len(vocab), 1)).astype(np.float32)}
    start["weight"][0] = 0
    for init in (None, start):
        sent, received = one_step(vocab, [BOB_EMAIL], [label], start=init)
        assert nb02.infer_label(sent, received) == label


def test_infer_label_of_a_no_op_update_is_an_error(vocab):
    params = spam_model(len(vocab)).state_dict()
    with pytest.raises(ValueError):
        nb02.infer_label(params, params)


def test_net_spam_counts_at_the_zero_model(vocab):
    emails = [["free", "money", "meeting"], ["free", "money", "at"], ["free", "my", "meeting"],
              ["meeting", "at", "noon"]]
    targets = [1, 1, 1, 0]
    sent, received = one_step(vocab, emails, targets, alpha=0.01)
    counts = nb02.net_spam_counts(sent, received, alpha=0.01)
    expected = {"free": 3, "money": 2, "meeting": 2 - 1, "at": 1 - 1, "my": 1, "noon": -1}
    for word, net in expected.items():
        assert counts[vocab.index(word)] == net, word
    assert counts.dtype == np.int64 and counts.shape == (len(vocab),)
    # 'at' netted to zero, so the row-diff attack cannot see it
    assert vocab.index("at") not in changed_rows(sent, received)


def test_add_gaussian_noise_copies_keeps_dtype_and_has_the_right_scale(rng):
    params = {"weight": np.zeros((20_000, 1), dtype=np.float32)}
    noisy = nb02.add_gaussian_noise(params, 0.5, rng)
    assert noisy["weight"].dtype == np.float32
    assert np.all(params["weight"] == 0)  # input untouched
    assert noisy["weight"].std() == pytest.approx(0.5, rel=0.03)
    with pytest.raises(TypeError):
        nb02.add_gaussian_noise(params, 0.5, 0)


def test_noise_hides_which_rows_changed_but_not_the_largest_moves(vocab, rng):
    sent, received = one_step(vocab, [BOB_EMAIL], [0])  # rows move by alpha/4 = 0.0025
    bob_rows = sorted(vocab.index(w) for w in BOB_EMAIL)

    slight = nb02.add_gaussian_noise(received, 1e-5, rng)
    assert len(changed_rows(sent, slight)) == len(vocab)  # every row "changed"
    assert nb02.top_changed_rows(sent, slight, 5).tolist() == bob_rows

    heavy = nb02.add_gaussian_noise(received, 1.0, rng)
    assert nb02.top_changed_rows(sent, heavy, 5).tolist() != bob_rows


def test_top_changed_rows_on_literals():
    sent = {"w": np.zeros((5, 2))}
    received = {"w": np.array([[0, 0], [0.1, -3], [2, 0], [0, 0], [-2, 1]], dtype=float)}
    assert nb02.top_changed_rows(sent, received, 2, name="w").tolist() == [1, 2]  # tie: lower row
    assert nb02.top_changed_rows(sent, received, 0, name="w").tolist() == []


def test_membership_scores_on_literals():
    recovered = ["my", "password", "is", "pizza", "free"]
    candidates = [["my", "password", "is"], ["free", "money"], ["noon"], []]
    np.testing.assert_allclose(nb02.membership_scores(recovered, candidates),
                               [1.0, 0.5, 0.0, 0.0])


def test_my_changed_rows_agrees_with_the_package(rng):
    sent = {"weight": rng.normal(size=(50, 3)).astype(np.float32)}
    received = {"weight": sent["weight"].copy()}
    moved = rng.choice(50, size=12, replace=False)
    received["weight"][moved, rng.integers(0, 3, size=12)] += np.float32(1e-3)

    got = nb02.my_changed_rows(sent, received)

    assert got.tolist() == changed_rows(sent, received).tolist() == sorted(moved.tolist())
