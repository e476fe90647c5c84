"""FedAvg: the weighted mean on literal arrays, the round's invariants, sampling, bytes.

Literal tests follow Flower's ``strategy/aggregate.py`` tests (Arrange / Act / Assert);
the invariants (one client == centralized, identical clients) train the book's spam
model on a small synthetic corpus.
"""

import numpy as np
import pytest
from statecheck import assert_same, snapshot

from minigrad.datasets import synthetic_spam
from minigrad.federated import (
    Aggregator,
    FedAvg,
    History,
    PoissonSample,
    ServerAdam,
    ServerSGD,
    UniformSample,
    client_update,
    fedavg,
    num_bytes,
    run_round,
    sample_clients,
    weighted_mean,
)
from minigrad.recipes import spam

RECORD_KEYS = ["round", "clients", "num_examples", "bytes_down", "bytes_up", "seconds"]


# ---------------------------------------------------------------------------
# fedavg on literal arrays
# ---------------------------------------------------------------------------
def two_clients():
    """Client A (1 example) and client B (3 examples); weights 1/4 and 3/4 are exact."""
    a = {"w": np.array([[1.0, 2.0]]), "b": np.array([0.0])}
    b = {"w": np.array([[3.0, 6.0]]), "b": np.array([4.0])}
    return [(a, 1), (b, 3)]


def test_fedavg_weights_by_number_of_examples():
    results = two_clients()

    average = fedavg(results)

    # w: (1*1 + 3*3) / 4 = 2.5, (1*2 + 3*6) / 4 = 5; b: (1*0 + 3*4) / 4 = 3
    np.testing.assert_array_equal(average["w"], [[2.5, 5.0]])
    np.testing.assert_array_equal(average["b"], [3.0])
    assert set(average) == {"w", "b"}


def test_fedavg_plain_mean_ignores_example_counts():
    results = two_clients()

    average = fedavg(results, weighted=False)

    np.testing.assert_array_equal(average["w"], [[2.0, 4.0]])
    np.testing.assert_array_equal(average["b"], [2.0])


def test_fedavg_three_clients_hand_computed():
    results = [({"w": np.array([0.0, 10.0])}, 2),
               ({"w": np.array([5.0, 0.0])}, 1),
               ({"w": np.array([10.0, 0.0])}, 1)]

    average = fedavg(results)

    # (2*0 + 5 + 10) / 4 = 3.75, (2*10 + 0 + 0) / 4 = 5
    np.testing.assert_allclose(average["w"], [3.75, 5.0], rtol=1e-15)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fedavg_keeps_the_clients_dtype(dtype):
    results = [({"w": np.array([1.0, 2.0], dtype=dtype)}, 1),
               ({"w": np.array([3.0, 4.0], dtype=dtype)}, 1)]

    average = fedavg(results)

    assert average["w"].dtype == dtype
    np.testing.assert_array_equal(average["w"], np.array([2.0, 3.0], dtype=dtype))


def test_fedavg_returns_new_arrays_and_leaves_inputs_alone():
    results = two_clients()
    before = [{k: v.copy() for k, v in p.items()} for p, _ in results]

    average = fedavg(results[:1])
    average["w"][...] = -1

    for (params, _), saved in zip(results, before, strict=True):
        for name in saved:
            np.testing.assert_array_equal(params[name], saved[name])


def test_fedavg_different_names_is_a_value_error_naming_them():
    results = [({"w": np.zeros(2)}, 1), ({"v": np.zeros(2)}, 1)]

    with pytest.raises(ValueError, match=r"client 1.*missing \['w'\].*unexpected \['v'\]"):
        fedavg(results)


def test_fedavg_different_shapes_is_a_value_error_naming_the_key():
    results = [({"w": np.zeros(2), "b": np.zeros(1)}, 1),
               ({"w": np.zeros(3), "b": np.zeros(1)}, 1)]

    with pytest.raises(ValueError, match=r"client 1: 'w' has shape \(3,\), expected \(2,\)"):
        fedavg(results)


def test_fedavg_zero_examples_in_total_is_an_error():
    results = [({"w": np.ones(2)}, 0), ({"w": np.ones(2)}, 0)]

    with pytest.raises(ValueError, match="0 examples"):
        fedavg(results)


@pytest.mark.parametrize("bad", [-1, [3], None], ids=["negative", "list", "None"])
def test_fedavg_bad_example_count_is_an_error(bad):
    results = [({"w": np.ones(2)}, 1), ({"w": np.ones(2)}, bad)]

    with pytest.raises(ValueError, match="client 1 reported"):
        fedavg(results)


def test_fedavg_no_results_is_an_error():
    with pytest.raises(ValueError, match="no client results"):
        fedavg([])


def test_weighted_mean_is_the_weighted_sum():
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal((4, 3)) for _ in range(5)]
    weights = rng.random(5)
    weights /= weights.sum()

    got = weighted_mean(arrays, weights)

    np.testing.assert_allclose(got, sum(w * a for w, a in zip(weights, arrays, strict=True)),
                               rtol=0, atol=1e-14)


def test_weighted_mean_returns_entries_all_clients_agree_on_bit_for_bit():
    # with the book's client sizes, sum_i w_i x != x for 3 of these 4 values in floating
    # point (a weighted dot product "changes" rows no client changed); the deltas from
    # client 0 are exactly 0 there
    same = np.array([0.6404226504432821, 0.10490011715303971, 1.3040000451301372, 0.5])
    changed = same + np.array([0.0, 0.0, 0.0, 1.0])
    weights = np.array([1000, 1000, 29000]) / 31000

    got = weighted_mean([same, same, changed], weights)

    assert np.array_equal(got[:3], same[:3])
    assert got[3] != same[3]


def test_weighted_mean_sums_in_client_order_elementwise():
    # the documented order, element by element in plain Python floats: the same bits
    # on every machine, whatever BLAS or SIMD width it has
    rng = np.random.default_rng(1)
    arrays = [rng.standard_normal(50).astype(np.float32) for _ in range(4)]
    weights = rng.random(4)

    got = weighted_mean(arrays, weights)

    for j in range(50):
        first = float(arrays[0][j])
        total = 0.0
        for w, a in zip(weights, arrays, strict=True):
            total += float(w) * (float(a[j]) - first)
        assert got[j] == first + total


def test_num_bytes_counts_the_raw_payload():
    params = {"w": np.zeros((3, 2), np.float32), "b": np.zeros(2, np.float64)}

    assert num_bytes(params) == 3 * 2 * 4 + 2 * 8


# ---------------------------------------------------------------------------
# run_round with stub clients: server update, bytes, what reaches the server
# ---------------------------------------------------------------------------
def constant_client(value, n=1, dtype=np.float32):
    """An update function that ignores its input and returns ``{'w': value}``."""
    def update(params, data):
        return {"w": np.asarray(value, dtype=dtype)}, n
    return update


@pytest.mark.parametrize("server_lr, expected", [(1.0, [2.0, 4.0]), (0.5, [1.0, 2.0])],
                         ids=["replace", "halfway"])
def test_server_lr_moves_from_server_toward_average(server_lr, expected):
    server = {"w": np.zeros(2, np.float32)}

    new, _ = run_round(server, [None], constant_client([2.0, 4.0]),
                       server_update=ServerSGD(server_lr))

    np.testing.assert_array_equal(new["w"], expected)
    assert new["w"].dtype == np.float32
    np.testing.assert_array_equal(server["w"], [0.0, 0.0])  # the old model is not mutated


@pytest.mark.parametrize("server_lr", [1.0, 0.5], ids=["replace", "halfway"])
def test_a_client_cannot_change_the_server_models_dtype(server_lr):
    server = {"w": np.zeros(2, np.float32)}

    new, _ = run_round(server, [None], constant_client([2.0, 4.0], dtype=np.float64),
                       server_update=ServerSGD(server_lr))

    assert new["w"].dtype == np.float32


def test_record_counts_bytes_down_and_bytes_up():
    server = {"w": np.zeros(3, np.float32), "b": np.zeros(1, np.float32)}  # 16 bytes

    def update(params, data):
        if data == "wide":  # a client may send float64: it costs twice the bytes
            return {k: v.astype(np.float64) for k, v in params.items()}, 1
        return params, 1

    _, record = run_round(server, ["narrow", "narrow", "wide"], update)

    assert record["bytes_down"] == 16 * 3
    assert record["bytes_up"] == 16 + 16 + 32
    assert record["num_examples"] == 3
    assert record["clients"] == [0, 1, 2]
    assert list(record) == RECORD_KEYS


def test_a_client_sending_an_extra_key_is_refused():
    server = {"w": np.zeros(2)}

    def leaky(params, data):
        return {**params, "emails": np.array([1.0, 2.0])}, 1

    with pytest.raises(ValueError, match=r"client 0.*unexpected \['emails'\]"):
        run_round(server, ["secret"], leaky)


def test_a_client_sending_a_missing_key_is_refused():
    server = {"w": np.zeros(2), "b": np.zeros(1)}

    with pytest.raises(ValueError, match=r"client 0.*missing \['b'\]"):
        run_round(server, [None], lambda params, data: ({"w": params["w"]}, 1))


def test_each_client_receives_its_own_copy_of_the_model():
    server = {"w": np.zeros(2)}
    seen = []

    def greedy(params, data):
        params["w"] += 1.0  # in place: must touch neither the server nor the next client
        seen.append(params["w"].copy())
        return params, 1

    new, _ = run_round(server, [None, None], greedy)

    np.testing.assert_array_equal(server["w"], [0.0, 0.0])
    np.testing.assert_array_equal(seen[0], [1.0, 1.0])
    np.testing.assert_array_equal(seen[1], [1.0, 1.0])
    np.testing.assert_array_equal(new["w"], [1.0, 1.0])


def test_history_table_has_one_row_per_round():
    server = {"w": np.zeros(2, np.float32)}
    history = History()

    for _ in range(2):
        server, _ = run_round(server, [None, None], constant_client([1.0, 1.0]),
                              history=history)
    table = history.table()

    assert list(table.columns) == RECORD_KEYS
    assert table["round"].tolist() == [1, 2]
    assert table["bytes_down"].tolist() == [16, 16]
    assert len(history) == 2 and history[1]["round"] == 2
    assert history.column("num_examples") == [2, 2]


# ---------------------------------------------------------------------------
# the pluggable pieces: aggregator, sampler, server update
# ---------------------------------------------------------------------------
class MedianOfDeltas(Aggregator):
    """A coordinate-wise median: an aggregator the package does not ship."""

    def encode(self, update, rng):
        return update.delta

    def message_bytes(self, message):
        return num_bytes(message)

    def aggregate(self, messages, template, rng):
        median = {k: np.median([m[k] for m in messages], axis=0) for k in template}
        return median, {"kind": "median"}


def test_a_custom_aggregator_sees_only_encoded_messages_and_sets_the_new_model():
    server = {"w": np.zeros(2, np.float32)}
    values = {"a": [1.0, 9.0], "b": [2.0, -1.0], "c": [100.0, 0.5]}

    new, record = run_round(server, ["a", "b", "c"],
                            lambda p, d: ({"w": np.asarray(values[d], np.float32)}, 1),
                            aggregator=MedianOfDeltas())

    np.testing.assert_array_equal(new["w"], [2.0, 0.5])
    assert record["kind"] == "median"
    assert record["bytes_up"] == 3 * 2 * 8  # float64 deltas


def test_fedavg_aggregator_recovers_each_delta_exactly_from_the_parameters_sent():
    server = {"w": np.array([0.1, 3.0], np.float32)}
    moved = np.array([0.1, 3.0], np.float32) + np.float32(1e-7) * np.array([0, 1], np.float32)

    new, record = run_round(server, [None, None], lambda p, d: ({"w": moved.copy()}, 5))

    np.testing.assert_array_equal(new["w"], moved)  # the unchanged entry stays bit-identical
    assert record["bytes_up"] == 2 * 8  # float32 parameters, as the book sends them


def test_fedavg_aggregator_and_fedavg_function_agree():
    server = {"w": np.zeros(3, np.float32)}
    sent = {"a": ([1.0, 2.0, 3.0], 1), "b": ([5.0, 6.0, 7.0], 3)}

    def update(params, data):
        value, n = sent[data]
        return {"w": np.asarray(value, np.float32)}, n

    new, _ = run_round(server, ["a", "b"], update, aggregator=FedAvg(weighted=True))
    direct = fedavg([({"w": np.asarray(v, np.float32)}, n) for v, n in sent.values()])

    np.testing.assert_array_equal(new["w"], direct["w"])


def test_poisson_sampler_draws_each_client_independently():
    rng = np.random.default_rng(0)
    counts = np.zeros(50)

    for _ in range(400):
        counts[PoissonSample(0.2)(50, rng)] += 1

    assert 0.15 < counts.mean() / 400 < 0.25
    assert PoissonSample(0.2)(50, np.random.default_rng(1)).tolist() == \
        np.flatnonzero(np.random.default_rng(1).random(50) < 0.2).tolist()


class NeedsPoisson(FedAvg):
    sampler = PoissonSample(0.5)


def test_an_aggregators_required_sampler_is_the_default_and_cannot_be_swapped():
    server = {"w": np.zeros(1)}
    clients = list(range(20))

    _, record = run_round(server, clients, lambda p, d: (p, 1), aggregator=NeedsPoisson(),
                          rng=np.random.default_rng(2))

    assert record["clients"] == PoissonSample(0.5)(20, np.random.default_rng(2)).tolist()
    with pytest.raises(ValueError, match=r"needs sampler PoissonSample\(0.5\)"):
        run_round(server, clients, lambda p, d: (p, 1), aggregator=NeedsPoisson(),
                  sampler=UniformSample(3), rng=np.random.default_rng(2))


@pytest.mark.parametrize("make", [lambda: UniformSample(0), lambda: PoissonSample(0.0),
                                  lambda: PoissonSample(1.5), lambda: ServerSGD(float("nan")),
                                  lambda: ServerAdam(lr=0), lambda: ServerAdam(beta2=1.0),
                                  lambda: ServerAdam(eps=float("inf"))],
                         ids=["k=0", "q=0", "q>1", "lr=nan", "adam lr=0", "adam beta2=1",
                              "adam eps=inf"])
def test_round_pieces_validate_their_settings(make):
    with pytest.raises(ValueError):
        make()


def test_keep_messages_records_what_the_server_received():
    server = {"w": np.zeros(2, np.float32)}

    _, record = run_round(server, [None], constant_client([1.0, 2.0], n=4), keep_messages=True)

    (params, n), = record["messages"]
    np.testing.assert_array_equal(params["w"], [1.0, 2.0])
    assert n == 4


# ---------------------------------------------------------------------------
# client sampling
# ---------------------------------------------------------------------------
def test_sampling_is_reproducible_by_seed():
    first = sample_clients(20, 5, np.random.default_rng(7))
    again = sample_clients(20, 5, np.random.default_rng(7))
    other = sample_clients(20, 5, np.random.default_rng(8))

    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    assert len(np.unique(first)) == 5 and np.all(np.diff(first) > 0)
    assert 0 <= first.min() and first.max() < 20


@pytest.mark.parametrize("rng", [None, 0, np.random.RandomState(0)],
                         ids=["None", "int", "RandomState"])
def test_sampling_needs_an_explicit_generator(rng):
    with pytest.raises(TypeError, match="np.random.Generator"):
        sample_clients(10, 2, rng)


@pytest.mark.parametrize("clients_per_round", [0, 11])
def test_sampling_validates_clients_per_round(clients_per_round):
    with pytest.raises(ValueError, match=f"clients_per_round={clients_per_round}"):
        sample_clients(10, clients_per_round, np.random.default_rng(0))


def test_run_round_samples_with_the_generator():
    server = {"w": np.zeros(1)}
    clients = list(range(10))

    def run(seed):
        _, record = run_round(server, clients, lambda p, d: (p, 1), sampler=UniformSample(3),
                              rng=np.random.default_rng(seed))
        return record

    record = run(3)

    assert record["clients"] == run(3)["clients"]
    assert record["clients"] == sample_clients(10, 3, np.random.default_rng(3)).tolist()
    assert record["bytes_down"] == 8 * 3


# ---------------------------------------------------------------------------
# invariants on the book's spam model (small synthetic corpus)
# ---------------------------------------------------------------------------
BATCH = 50


@pytest.fixture(scope="module")
def spam_data():
    return spam.book_recipe(synthetic_spam(600, seed=0), test_per_class=20)


def spam_update(model):
    """client_update around the book's epoch: load, train one epoch, send the state."""
    def train(m, data):
        return spam.train_epoch(m, *data, batch_size=BATCH)

    def update(params, data):
        return client_update(model, params, train, data)
    return update


def test_one_client_equals_centralized_training_exactly(spam_data):
    X, y = spam_data.X_train, spam_data.y_train
    num_epochs = 3
    central = spam.spam_model(len(spam_data.vocab))
    client_model = spam.spam_model(len(spam_data.vocab))
    server = spam.spam_model(len(spam_data.vocab)).state_dict()

    for _ in range(num_epochs):
        spam.train_epoch(central, X, y, batch_size=BATCH)
    for _ in range(num_epochs):
        server, record = run_round(server, [(X, y)], spam_update(client_model))

    assert np.abs(central.weight.data).max() > 0  # it did train
    assert server["weight"].dtype == central.weight.data.dtype == np.float32
    assert np.array_equal(server["weight"], central.weight.data)
    assert record["num_examples"] == (len(X) // BATCH) * BATCH


@pytest.mark.parametrize("weighted", [True, False], ids=["weighted", "plain"])
def test_identical_clients_aggregate_to_one_clients_result(spam_data, weighted):
    data = (spam_data.X_train, spam_data.y_train)
    model = spam.spam_model(len(spam_data.vocab))
    server = model.state_dict()

    one, _ = run_round(server, [data], spam_update(model), aggregator=FedAvg(weighted))
    three, record = run_round(server, [data, data, data], spam_update(model),
                              aggregator=FedAvg(weighted))

    assert np.abs(one["weight"]).max() > 0
    assert np.array_equal(three["weight"], one["weight"])
    assert record["bytes_up"] == 3 * num_bytes(one)


# ---------------------------------------------------------------------------
# ServerAdam: the server's optimizer steps like optim.Adam on -mean_delta
# ---------------------------------------------------------------------------
def test_server_adam_first_step_moves_each_weight_by_about_lr_in_its_deltas_direction():
    server = {"w": np.zeros(3, np.float32)}
    deltas = {"a": [0.5, -2.0, 0.0]}

    new, _ = run_round(server, ["a"], lambda p, d: ({"w": np.asarray(deltas[d], np.float32)}, 1),
                       server_update=ServerAdam(lr=0.1, eps=1e-8))

    # m_hat = g, v_hat = g^2 on the first step: lr * g / (|g| + eps)
    np.testing.assert_allclose(new["w"], [0.1, -0.1, 0.0], rtol=1e-6)
    assert new["w"].dtype == np.float32


def test_server_adam_equals_optim_adam_on_the_pseudo_gradient():
    from minigrad import Tensor, optim

    rng = np.random.default_rng(0)
    server = {"w": rng.normal(size=4)}
    adam = ServerAdam(lr=0.05, beta1=0.8, beta2=0.95, eps=1e-3)
    w = Tensor(server["w"].copy(), autograd=True)
    reference = optim.Adam([w], alpha=0.05, beta1=0.8, beta2=0.95, eps=1e-3)

    for _ in range(3):
        target = rng.normal(size=4)
        server, _ = run_round(server, [None], lambda p, d, t=target: ({"w": t}, 1),
                              server_update=adam)
        w.grad = -(target - w.data)
        reference.step()

    np.testing.assert_array_equal(server["w"], w.data)
    assert adam.step == 3


# ---------------------------------------------------------------------------
# issue 17: what the server receives is checked before anything changes
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -2.0, True],
                         ids=["nan", "inf", "negative", "bool"])
def test_fedavg_plain_mean_still_checks_every_example_count(bad):
    results = [({"w": np.ones(2)}, 1), ({"w": np.zeros(2)}, bad)]

    with pytest.raises(ValueError, match="client 1 reported"):
        fedavg(results, weighted=False)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf], ids=["nan", "inf", "-inf"])
def test_fedavg_refuses_a_non_finite_update_naming_the_client(bad):
    results = [({"w": np.ones(2)}, 1), ({"w": np.array([0.0, bad])}, 3)]

    with pytest.raises(ValueError, match=r"fedavg: client 1: 'w' holds 1 non-finite"):
        fedavg(results)


@pytest.mark.parametrize("bad", [np.zeros(2, np.float32), np.zeros(2, np.int64),
                                 np.array([None, None])], ids=["float32", "int64", "object"])
def test_fedavg_refuses_a_client_whose_dtype_differs_from_the_first(bad):
    results = [({"w": np.ones(2)}, 1), ({"w": bad}, 3)]

    with pytest.raises(ValueError, match=r"client 1: 'w' has dtype"):
        fedavg(results)


@pytest.mark.parametrize("trained, n", [
    ({"w": np.array([np.nan, 0.0], np.float32)}, 1),
    ({"w": np.array([1.0, np.inf], np.float32)}, 1),
    ({"w": np.zeros((1, 2), np.float32)}, 1),
    ({"w": np.zeros(2, np.complex64)}, 1),
    ({"w": np.zeros(2, np.float32)}, float("nan")),
    ({"w": np.zeros(2, np.float32)}, -1),
], ids=["nan", "inf", "shape", "complex", "nan-count", "negative-count"])
def test_a_bad_client_message_leaves_the_server_and_server_adam_as_they_were(trained, n):
    server = {"w": np.array([0.5, -0.5], np.float32)}
    adam = ServerAdam(lr=0.1)
    good = constant_client([1.0, 1.0], n=2)
    run_round(server, ["a", "b"], good, server_update=adam)  # moments now nonzero
    before_server, before_adam = snapshot(server), snapshot(adam)

    def update(params, data):
        return (trained, n) if data == "bad" else good(params, data)

    with pytest.raises((ValueError, TypeError)):
        run_round(server, ["a", "bad"], update, server_update=adam)

    assert_same(before_server, snapshot(server), "server")
    assert_same(before_adam, snapshot(adam), "ServerAdam")


def test_fedavg_aggregator_accepts_a_wider_float_as_before():
    server = {"w": np.zeros(2, np.float32)}

    mean, _ = FedAvg().aggregate([({"w": np.array([1.0, 2.0])}, 1)], server, None)

    np.testing.assert_array_equal(mean["w"], [1.0, 2.0])


@pytest.mark.parametrize("bad", [
    {"w": np.array([1.0, np.nan]), "b": np.zeros(1)},          # a NaN in the second key
    {"w": np.ones(2), "b": np.zeros((1, 1))},                  # a shape the server lacks
    {"w": np.ones(2)},                                         # a missing key
])
def test_server_updates_refuse_a_bad_mean_and_keep_their_state(bad):
    # the second key is the bad one, so an update that stepped key by key would have moved
    # 'w' and its moments (and the step count) before failing
    server = {"w": np.array([0.5, -0.5]), "b": np.array([0.1])}
    good = {"w": np.array([0.1, 0.2]), "b": np.array([0.3])}
    for update in (ServerAdam(lr=0.1), ServerSGD(lr=1.0)):
        update(server, good)  # one good round first: the moments exist
        before, server_before = snapshot(update), snapshot(server)
        with pytest.raises(ValueError, match="mean delta"):
            update(server, bad)
        assert_same(before, snapshot(update), type(update).__name__)
        assert_same(server_before, snapshot(server), "server")


@pytest.mark.parametrize("count", [3.7, -1, float("nan"), True, "3"])
def test_run_round_refuses_a_count_it_would_have_rounded(count):
    # int(3.7) used to give 3 without a word
    server = {"w": np.zeros(2)}

    def update_fn(params, data):
        return {"w": params["w"] + 1.0}, count

    with pytest.raises((TypeError, ValueError), match="client 0: the number of examples"):
        run_round(server, [None], update_fn)
    assert np.array_equal(server["w"], np.zeros(2))
