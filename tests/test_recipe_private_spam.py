"""minigrad.recipes.private_spam: notebook 05's pipeline around the privacy package.

Tiny literal vocabularies and arrays first (Arrange / Act / Assert), then the Enron
mailbox enron1: encrypted FedAvg equals plain FedAvg, secure aggregation equals the plain
sum, and DP-FedAvg's noise on the padding row is kept out by ``frozen``.
"""

import functools
from types import SimpleNamespace

import numpy as np
import pytest
from realdata import ENRON_ROOT, needs_enron
from tinyspam import paillier_test_keys, tiny_spam_clients

from minigrad.datasets import PAD_INDEX
from minigrad.federated import History, client_update, run_round
from minigrad.federated.params import delta
from minigrad.privacy import dp, paillier
from minigrad.privacy.secure_sums import PaillierFedAvg, secure_sum
from minigrad.recipes import private_spam as ps
from minigrad.recipes import spam

tiny = pytest.fixture(tiny_spam_clients)
keys = pytest.fixture(scope="module")(paillier_test_keys)


# ---------------------------------------------------------------------------
# clients and local work
# ---------------------------------------------------------------------------
def test_unique_training_rows_keeps_the_first_copy_of_each_email():
    data = SimpleNamespace(train_rows=np.array([5, 3, 5, 7, 3, 9]))

    rows = ps.unique_training_rows(data)

    assert rows.tolist() == [0, 1, 3, 5]
    assert rows.dtype == np.int64


def test_iid_clients_cover_the_given_rows_exactly_once(rng):
    X = np.arange(40).reshape(20, 2)
    y = np.arange(20, dtype=float).reshape(-1, 1)
    rows = np.array([0, 2, 3, 5, 8, 9, 11, 13, 17, 19])

    clients = ps.iid_clients(X, y, 3, rng, rows=rows)

    got = np.sort(np.concatenate([Xk[:, 0] // 2 for Xk, _ in clients]))
    assert got.tolist() == rows.tolist()
    assert sorted(len(Xk) for Xk, _ in clients) == [3, 3, 4]
    for Xk, yk in clients:  # X and y stay paired
        assert np.array_equal(Xk[:, 0] // 2, yk[:, 0].astype(int))


def test_local_trainer_full_batch_is_one_step_on_every_row(tiny):
    vocab, clients, _ = tiny
    X, y = clients[2]  # 4 emails
    by_trainer, by_hand = spam.spam_model(len(vocab)), spam.spam_model(len(vocab))

    n = ps.local_trainer(loss="bce", alpha=0.5)(by_trainer, (X, y))
    spam.train_epoch(by_hand, X, y, batch_size=4, alpha=0.5, loss="bce", drop_last=False)

    assert n == 4
    assert np.array_equal(by_trainer.weight.data, by_hand.weight.data)
    assert np.count_nonzero(by_trainer.weight.data) > 0


def test_local_trainer_rejects_a_bad_batch_size():
    with pytest.raises(ValueError, match="batch_size=0"):
        ps.local_trainer(batch_size=0)


# ---------------------------------------------------------------------------
# train_rounds
# ---------------------------------------------------------------------------
def test_train_rounds_restores_frozen_rows_and_evaluates_every_round(rng):
    start = {"weight": np.zeros((4, 1), dtype=np.float32), "bias": np.ones(1)}

    def noisy_round(params, history):
        new = {k: v + rng.normal(0, 1, v.shape).astype(v.dtype) for k, v in params.items()}
        record = {"round": len(history) + 1}
        history.append(record)
        return new, record

    params, history, curve = ps.train_rounds(noisy_round, start, 3,
                                             evaluate=lambda p: p["bias"][0],
                                             frozen={"weight": [0]})

    assert params["weight"][0, 0] == 0.0
    assert np.all(params["weight"][1:] != 0)
    assert isinstance(history, History) and len(history) == 3
    assert len(curve) == 3 and curve[-1] == params["bias"][0]
    assert start["weight"][1, 0] == 0  # the caller's mapping is not modified


def test_train_rounds_rejects_unknown_frozen_names_and_bad_round_counts():
    start = {"weight": np.zeros((2, 1))}
    with pytest.raises(KeyError, match="bias"):
        ps.train_rounds(lambda p, h: (p, {}), start, 1, frozen={"bias": [0]})
    with pytest.raises(ValueError, match="num_rounds=-1"):
        ps.train_rounds(lambda p, h: (p, {}), start, -1)


def test_dp_noise_on_the_padding_row_is_a_bias_unless_frozen(tiny):
    vocab, clients, update = tiny
    start = spam.spam_model(len(vocab)).state_dict()

    def run(frozen):
        round_fn = functools.partial(run_round, clients=clients, update_fn=update,
                                     rng=np.random.default_rng(3),
                                     aggregator=dp.DPFedAvg(1.0, 1.0, 1.0, len(clients)))
        params, _, _ = ps.train_rounds(lambda p, h: round_fn(p, history=h), start, 2,
                                       frozen=frozen)
        return params

    loose, held = run(None), run({"weight": [PAD_INDEX]})

    assert loose["weight"][PAD_INDEX, 0] != 0  # the noise reached the row every email pads with
    assert held["weight"][PAD_INDEX, 0] == 0


# ---------------------------------------------------------------------------
# Paillier
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("num_values", [0, 1, 4, 5, 13])
def test_paillier_upload_size_matches_what_encrypt_array_sends(keys, rng, num_values):
    public_key, _ = keys
    encoding = paillier.Encoding(frac_bits=16, max_abs=2.0, slot_bits=48)

    count, nbytes = ps.paillier_upload_size(num_values, public_key, encoding)
    sent = paillier.encrypt_array(public_key, rng.uniform(-1, 1, num_values), rng,
                                  encoding=encoding)

    assert (count, nbytes) == (sent.num_ciphertexts, sent.nbytes)


def test_paillier_upload_size_rejects_negative_counts(keys):
    with pytest.raises(ValueError, match="num_values=-1"):
        ps.paillier_upload_size(-1, keys[0], paillier.Encoding())


# ---------------------------------------------------------------------------
# the attack, scored
# ---------------------------------------------------------------------------
def test_ranked_rows_orders_by_largest_move_with_stable_ties():
    delta = {"weight": np.array([[0.0], [-0.5], [0.2], [0.5], [0.0]])}

    assert ps.ranked_rows(delta).tolist() == [1, 3, 2, 0, 4]
    with pytest.raises(ValueError, match="scalar"):
        ps.ranked_rows({"weight": np.float64(1.0)})


def test_attack_scores_on_a_literal_update():
    delta = {"weight": np.array([[0.0], [0.5], [0.0], [-0.2], [0.01], [0.3]])}

    scores = ps.attack_scores(delta, [1, 3, 4])
    without_row_5 = ps.attack_scores(delta, [1, 3, 4], ignore=[5])

    assert scores == {"changed": 4, "changed_precision": 0.75, "changed_recall": 1.0,
                      "top_precision": 2 / 3}  # the top 3 are rows 1, 5, 3
    assert without_row_5["changed"] == 3 and without_row_5["top_precision"] == 1.0


def test_attack_scores_under_noise_fall_to_chance(rng):
    true = np.arange(20)
    clean = np.zeros((2000, 1))
    clean[true] = 0.01

    noisy = {"weight": clean + rng.normal(0, 1.0, clean.shape)}
    scores = ps.attack_scores(noisy, true)

    assert scores["changed"] == 2000
    assert scores["changed_precision"] == 20 / 2000 and scores["changed_recall"] == 1.0
    assert scores["top_precision"] <= 0.15


def test_attack_scores_with_nothing_to_find_or_nothing_found():
    scores = ps.attack_scores({"weight": np.zeros((3, 1))}, [])

    assert scores == {"changed": 0, "changed_precision": 1.0, "changed_recall": 1.0,
                      "top_precision": 1.0}


# ---------------------------------------------------------------------------
# real data: the Enron mailbox enron1
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def enron1():
    from minigrad.datasets import load_enron_spam

    corpus = load_enron_spam(ENRON_ROOT, folders=("enron1",), encoding_fallback="ignore")
    data = spam.book_recipe(corpus, test_per_class=200)
    word_map = spam.frequent_word_map(data.X_train, len(data.vocab), min_count=50)
    X = spam.remap_words(data.X_train, word_map)
    X_test = spam.remap_words(data.X_test, word_map)
    size = int(word_map.max()) + 1
    model = spam.spam_model(size)

    def update(params, xy):
        return client_update(model, params, lambda m, d: spam.train_epoch(m, *d, batch_size=100),
                             xy)

    return SimpleNamespace(data=data, X=X, X_test=X_test, size=size, update=update)


@needs_enron
def test_real_encrypted_fedavg_gives_the_plain_model(enron1, keys):
    X, y = enron1.X, enron1.data.y_train
    clients = [(X[:600], y[:600]), (X[600:1000], y[600:1000]), (X[1000:1800], y[1000:1800])]
    server = spam.spam_model(enron1.size).state_dict()
    encoding = paillier.Encoding(frac_bits=29, max_abs=4.0, slot_bits=48)

    encrypted, record = run_round(server, clients, enron1.update, rng=np.random.default_rng(0),
                                  aggregator=PaillierFedAvg(*keys, encoding))
    plain, plain_record = run_round(server, clients, enron1.update)

    assert np.abs(encrypted["weight"] - plain["weight"]).max() <= 2e-7
    evaluate = spam.spam_model(enron1.size)
    accuracies = []
    for params in (encrypted, plain):
        evaluate.load_state_dict(params)
        accuracies.append(spam.accuracy(evaluate, enron1.X_test, enron1.data.y_test))
    assert accuracies[0] == accuracies[1] > 0.8
    assert record["bytes_up"] > 3 * plain_record["bytes_up"]


@needs_enron
def test_real_secure_sum_of_updates_reveals_the_union_of_their_rows(enron1, rng):
    X, y = enron1.X, enron1.data.y_train
    server = spam.spam_model(enron1.size).state_dict()
    deltas = [delta(server, enron1.update(server, (X[k:k + 100], y[k:k + 100]))[0])
              for k in (0, 100, 200)]

    total, result = secure_sum(deltas, 2, rng, clip=0.5)

    plain = sum(d["weight"] for d in deltas)
    assert np.abs(total["weight"] - plain).max() <= result.error_bound
    union = set().union(*(np.flatnonzero(d["weight"][:, 0]).tolist() for d in deltas))
    visible = set(np.flatnonzero(total["weight"][:, 0]).tolist())
    assert visible <= union and len(visible) >= 0.95 * len(union)


@needs_enron
def test_real_dp_rounds_keep_the_padding_row_at_zero_when_frozen(enron1):
    rows = ps.unique_training_rows(enron1.data)
    clients = ps.iid_clients(enron1.X, enron1.data.y_train, 50, np.random.default_rng(0),
                             rows=rows)
    round_fn = functools.partial(run_round, clients=clients, update_fn=enron1.update,
                                 rng=np.random.default_rng(1),
                                 aggregator=dp.DPFedAvg(0.5, 1.0, 0.2, len(clients)))

    params, history, curve = ps.train_rounds(
        lambda p, h: round_fn(p, history=h), spam.spam_model(enron1.size).state_dict(), 3,
        evaluate=lambda p: float(np.abs(p["weight"][1:]).sum()), frozen={"weight": [PAD_INDEX]})

    assert params["weight"][PAD_INDEX, 0] == 0
    assert len(history) == 3 and all(r["num_sampled"] > 0 for r in history)
    assert curve[-1] > 0
