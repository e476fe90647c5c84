"""Reference solutions to notebook 01's exercises (read from the notebook), on a small synthetic
corpus."""

import numpy as np
import pytest
from teacher import solutions

from minigrad.datasets import synthetic_spam
from minigrad.federated import UniformSample, client_update, fedavg, num_bytes, run_round
from minigrad.recipes import spam

nb01 = solutions("01")


@pytest.fixture(scope="module")
def data():
    return spam.book_recipe(synthetic_spam(num_emails=600, seed=0), test_per_class=50)


@pytest.fixture(scope="module")
def three_clients(data):
    X, y = data.X_train, data.y_train
    return [(X[:100], y[:100]), (X[100:200], y[100:200]), (X[200:], y[200:])]


def book_update_for(vocab_size, **train_kw):
    model = spam.spam_model(vocab_size)
    return lambda params, xy: client_update(
        model, params, lambda m, d: spam.train_epoch(m, *d, **train_kw), xy)


def round_results(data, clients, start=None, **train_kw):
    """(server sent, [(received, n)]) for one round of local training."""
    server = start if start is not None else spam.spam_model(len(data.vocab)).state_dict()
    update = book_update_for(len(data.vocab), **train_kw)
    return server, [update({k: v.copy() for k, v in server.items()}, c) for c in clients]


# ---------------------------------------------------------------------------
# 1. sparse updates
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("weighted", [True, False])
def test_sparse_updates_rebuild_the_dense_average(data, three_clients, weighted):
    server, results = round_results(data, three_clients, batch_size=50)
    sparse = [(nb01.sparse_update(server, received), n) for received, n in results]

    rebuilt = nb01.apply_sparse_updates(server, sparse, weighted=weighted)

    expected = fedavg(results, weighted=weighted)
    assert rebuilt["weight"].dtype == server["weight"].dtype
    np.testing.assert_allclose(rebuilt["weight"], expected["weight"], rtol=1e-6, atol=1e-7)


def test_sparse_updates_from_a_non_zero_server(data, three_clients, rng):
    start = {"weight": rng.normal(0, 0.1, (len(data.vocab), 1)).astype(np.float32)}
    start["weight"][0] = 0
    server, results = round_results(data, three_clients, start=start, batch_size=50)
    sparse = [(nb01.sparse_update(server, received), n) for received, n in results]

    rebuilt = nb01.apply_sparse_updates(server, sparse)

    np.testing.assert_allclose(rebuilt["weight"], fedavg(results)["weight"], rtol=1e-5,
                               atol=1e-6)


def test_sparse_update_lists_exactly_the_client_words_and_is_smaller(data, three_clients):
    server, results = round_results(data, three_clients[:1], batch_size=50)
    (received, _), = results
    X_client = three_clients[0][0]

    rows, values = nb01.sparse_update(server, received)["weight"]

    words = np.setdiff1d(np.unique(X_client), [0])  # padding never moves
    assert set(rows.tolist()) <= set(words.tolist())
    assert len(rows) >= 0.9 * len(words)  # only words whose net gradient cancels stay put
    np.testing.assert_array_equal(values, received["weight"][rows])
    assert nb01.sparse_num_bytes({"weight": (rows, values)}) == 8 * len(rows)
    assert nb01.sparse_num_bytes({"weight": (rows, values)}) < num_bytes(received)


def test_apply_sparse_updates_without_updates_is_an_error():
    with pytest.raises(ValueError):
        nb01.apply_sparse_updates({"weight": np.zeros((3, 1))}, [])


# ---------------------------------------------------------------------------
# 2. half-precision uploads
# ---------------------------------------------------------------------------
def test_cast_update_halves_the_upload_and_the_server_keeps_float32(data, three_clients):
    update = book_update_for(len(data.vocab), batch_size=50)
    server = spam.spam_model(len(data.vocab)).state_dict()

    full, rec_full = run_round(server, three_clients, update)
    half, rec_half = run_round(server, three_clients, nb01.cast_update(update, np.float16))

    assert rec_half["bytes_up"] * 2 == rec_full["bytes_up"]
    assert rec_half["bytes_down"] == rec_full["bytes_down"]
    assert half["weight"].dtype == np.float32
    # float16 keeps 11 significant bits: each uploaded weight is off by at most 2^-11 of its
    # size, so the weighted mean (whose terms can cancel) by 2^-11 of the largest |weight|
    bound = 2.0 ** -11 * np.abs(full["weight"]).max()
    np.testing.assert_allclose(half["weight"], full["weight"], rtol=0, atol=bound)
    assert not np.array_equal(half["weight"], full["weight"])


# ---------------------------------------------------------------------------
# 3. local epochs
# ---------------------------------------------------------------------------
def test_one_local_epoch_is_the_book_update(data, three_clients):
    server, expected = round_results(data, three_clients, batch_size=50)
    update = nb01.local_epochs_update(spam.spam_model(len(data.vocab)), 1, batch_size=50)

    got = [update({k: v.copy() for k, v in server.items()}, c) for c in three_clients]

    for (p_got, n_got), (p_exp, n_exp) in zip(got, expected, strict=True):
        assert n_got == n_exp
        np.testing.assert_array_equal(p_got["weight"], p_exp["weight"])


def test_a_single_client_with_k_local_epochs_is_k_central_epochs(data):
    X, y = data.X_train, data.y_train
    central = spam.spam_model(len(data.vocab))
    for _ in range(3):
        spam.train_epoch(central, X, y, batch_size=50)
    update = nb01.local_epochs_update(spam.spam_model(len(data.vocab)), 3, batch_size=50)

    scores = nb01.fedavg_curve(spam.spam_model(len(data.vocab)).state_dict(), [(X, y)], update,
                               1, evaluate=lambda params: params["weight"])

    np.testing.assert_array_equal(scores[0], central.weight.data)


def test_local_epochs_update_reports_one_epoch_of_examples(data, three_clients):
    update = nb01.local_epochs_update(spam.spam_model(len(data.vocab)), 5, batch_size=50,
                                      drop_last=False)
    _, n = update(spam.spam_model(len(data.vocab)).state_dict(), three_clients[0])
    assert n == len(three_clients[0][0])
    with pytest.raises(ValueError):
        nb01.local_epochs_update(spam.spam_model(3), 0)


def test_fedavg_curve_with_sampling_is_reproducible_by_seed(data, three_clients):
    def curve(seed):
        update = nb01.local_epochs_update(spam.spam_model(len(data.vocab)), 2, batch_size=50,
                                          drop_last=False)
        model = spam.spam_model(len(data.vocab))

        def evaluate(params):
            model.load_state_dict(params)
            return spam.accuracy(model, data.X_test, data.y_test)

        return nb01.fedavg_curve(model.state_dict(), three_clients, update, 4, evaluate,
                                 sampler=UniformSample(2), rng=np.random.default_rng(seed))

    first, again = curve(7), curve(7)
    assert first == again
    assert len(first) == 4 and all(0.0 <= a <= 1.0 for a in first)
    assert first[-1] > 0.8  # the planted spam words are learnt


# ---------------------------------------------------------------------------
# 4. seeds and the choice of recipe
# ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def corpus_and_data():
    corpus = synthetic_spam(num_emails=600, seed=0)
    return corpus, spam.book_recipe(corpus, test_per_class=50)


def holdout(corpus_and_data):
    corpus, data = corpus_and_data
    fit, val = spam.holdout_like_test(data, corpus, per_class=50)
    return ((data.X_train[fit], data.y_train[fit], data.train_rows[fit]),
            (data.X_train[val], data.y_train[val]))


def test_book_recipe_setup_is_the_books_loop(corpus_and_data):
    _, data = corpus_and_data
    (X, y, rows), (X_val, y_val) = holdout(corpus_and_data)
    model = spam.spam_model(len(data.vocab))
    setup = nb01.recipe_setup("book", len(data.vocab), alpha=0.01, loss="book_mse",
                              batch_size=50)

    curves = nb01.validation_curves(setup, (X, y, rows), (X_val, y_val), num_epochs=2,
                                    seeds=(0,))
    expected = []
    for _ in range(2):
        spam.train_epoch(model, X, y, batch_size=50)
        expected.append(spam.accuracy(model, X_val, y_val))

    np.testing.assert_array_equal(curves, [expected])


@pytest.mark.parametrize("kind", ["linear", "mlp"])
def test_adam_recipes_learn_and_are_reproducible_by_seed(corpus_and_data, kind):
    _, data = corpus_and_data
    fit_data, val_data = holdout(corpus_and_data)
    setup = nb01.recipe_setup(kind, len(data.vocab), alpha=0.01, batch_size=32, dim=4,
                              hidden=4, min_count=2)

    curves = nb01.validation_curves(setup, fit_data, val_data, num_epochs=3, seeds=(0, 1))
    again = nb01.validation_curves(setup, fit_data, val_data, num_epochs=3, seeds=(0,))

    assert curves.shape == (2, 3)
    np.testing.assert_array_equal(again[0], curves[0])
    assert curves[:, -1].min() > 0.8


def test_search_recipes_runs_every_recipe_on_the_holdout(corpus_and_data):
    corpus, data = corpus_and_data
    grid = {"book": ("book", dict(alpha=0.01, loss="book_mse", batch_size=50)),
            "linear sgd": ("linear", dict(alpha=1.0, optimizer="sgd", batch_size=32))}

    found = nb01.search_recipes(data, corpus, grid, num_epochs=2, seeds=(0, 1), per_class=50)

    assert list(found) == ["book", "linear sgd"]
    assert all(curves.shape == (2, 2) for curves in found.values())
    np.testing.assert_array_equal(found["book"][0], found["book"][1])  # no randomness in it


def test_validation_curves_by_class_count_each_classs_errors(corpus_and_data):
    _, data = corpus_and_data
    fit_data, val_data = holdout(corpus_and_data)
    setup = nb01.recipe_setup("linear", len(data.vocab), alpha=1.0, optimizer="sgd",
                              batch_size=32)

    found = nb01.validation_curves(setup, fit_data, val_data, num_epochs=2, seeds=(0, 1),
                                   by_class=True)
    plain = nb01.validation_curves(setup, fit_data, val_data, num_epochs=2, seeds=(0, 1))

    np.testing.assert_array_equal(found["accuracy"], plain)
    errors = found["ham_flagged"] + found["spam_missed"]
    np.testing.assert_allclose(1.0 - errors / len(val_data[1]), plain, atol=1e-12)


def test_ham_weight_trades_missed_spam_for_flagged_ham(corpus_and_data):
    # Arrange: the same seeded runs, ham weighted 1 and 20 times a spam row
    _, data = corpus_and_data
    fit_data, val_data = holdout(corpus_and_data)
    kw = dict(alpha=0.01, batch_size=32, dim=4, hidden=4, min_count=2)
    runs = {w: nb01.validation_curves(nb01.recipe_setup("mlp", len(data.vocab), ham_weight=w,
                                                        **kw),
                                      fit_data, val_data, num_epochs=1, seeds=(0, 1, 2),
                                      by_class=True)
            for w in (1.0, 20.0)}
    # Assert: fewer ham emails flagged, at least as many spam emails missed
    assert runs[20.0]["ham_flagged"].sum() < runs[1.0]["ham_flagged"].sum()
    assert runs[20.0]["spam_missed"].sum() >= runs[1.0]["spam_missed"].sum()
    with pytest.raises(ValueError):
        nb01.recipe_setup("book", 10, alpha=0.1, ham_weight=2.0)


def test_ham_weight_grid_is_the_chosen_mlp_with_five_weights():
    weights = [kw["ham_weight"] for _, kw in nb01.HAM_WEIGHT_GRID.values()]
    assert weights == [1.0, 2.0, 3.0, 4.0, 8.0]
    assert all(kind == "mlp" and kw["dim"] == 8 and kw["hidden"] == 32 and kw["min_count"] == 2
               for kind, kw in nb01.HAM_WEIGHT_GRID.values())


def test_recipe_setup_rejects_unknown_kinds_and_optimizers():
    with pytest.raises(ValueError):
        nb01.recipe_setup("forest", 10, alpha=0.1)
    with pytest.raises(ValueError):
        nb01.recipe_setup("linear", 10, alpha=0.1, optimizer="lbfgs")
