"""minigrad's rounds on Flower: what crosses the wire, and runs on the Simulation Engine
that must give the in-process ``run_round``'s bits."""

import numpy as np
import pytest

from minigrad.engines.flower import partitions, read_partition, write_partitions
from minigrad.federated import FedAvg, UniformSample, client_update, run_round
from minigrad.privacy.dp import Clipped, DPFedAvg
from minigrad.recipes import spam

VOCAB, LENGTH = 40, 6


def _clients(num_clients=4, seed=3, base=20, step=5):
    """Small spam-shaped clients: word rows (n, LENGTH) in [1, VOCAB) with padding 0;
    client k holds base + step * k rows."""
    rng = np.random.default_rng(seed)
    out = []
    for k in range(num_clients):
        n = base + step * k
        X = rng.integers(1, VOCAB, size=(n, LENGTH))
        X[rng.random(X.shape) < 0.3] = 0
        y = (X[:, :1] % 2 == 0).astype(np.float64)
        out.append((X, y))
    return out


def make_update(loss="bce"):
    """The improved recipe's local epoch (BCE, alpha 1, batch 10) as an update function."""
    model = spam.spam_model(VOCAB)

    def train(m, data):
        return spam.train_epoch(m, data[0], data[1], loss=loss, alpha=1.0, batch_size=10,
                                drop_last=False)

    return lambda params, data: client_update(model, params, train, data)


def make_book_update():
    return spam.book_update_fn(spam.spam_model(VOCAB))


# ---------------------------------------------------------------------------
# partitions and the wire format (no engine process)
# ---------------------------------------------------------------------------
def test_partitions_round_trip_and_refuse_a_changed_file(tmp_path):
    clients = _clients()
    manifest = write_partitions(tmp_path, clients)
    assert manifest["num_partitions"] == 4
    for k, (X, y) in enumerate(clients):
        X2, y2 = read_partition(tmp_path, k)
        assert X2.dtype == X.dtype and np.array_equal(X2, X) and np.array_equal(y2, y)
    with pytest.raises(ValueError, match="partition-id 4 is not one of the 4"):
        read_partition(tmp_path, 4)
    path = tmp_path / "partition-1.npz"
    path.write_bytes(path.read_bytes()[:-1] + b"x")
    with pytest.raises(ValueError, match="partition-1.npz does not match its checksum"):
        read_partition(tmp_path, 1)
    with pytest.raises(FileNotFoundError, match="manifest.json is missing"):
        read_partition(tmp_path / "elsewhere", 0)


def test_partitions_refuse_data_that_is_not_arrays(tmp_path):
    with pytest.raises(TypeError, match="client 1's data must be a tuple or dict of ndarrays"):
        write_partitions(tmp_path, [(np.zeros(2),), ([1, 2],)])
    assert not (tmp_path / partitions.MANIFEST).exists()


def test_arrays_cross_the_wire_bit_for_bit():
    pytest.importorskip("flwr")
    from minigrad.engines.flower.records import from_arrays, to_arrays

    rng = np.random.default_rng(0)
    params = {"w": rng.normal(size=(5, 3)).astype(np.float32), "b": np.float64(rng.normal()),
              "t": np.asfortranarray(rng.normal(size=(3, 4))), "i": np.arange(4)}
    back = from_arrays(to_arrays(params), "test")
    for k, v in params.items():
        v = np.asarray(v)
        assert back[k].dtype == v.dtype and back[k].shape == v.shape
        assert back[k].tobytes() == np.asarray(v, order="C").tobytes()


def test_replies_are_checked_before_the_aggregator_sees_them():
    pytest.importorskip("flwr")
    from flwr.app import MetricRecord, RecordDict

    from minigrad.engines.flower.records import pack_reply, to_arrays, unpack_reply

    params = {"w": np.ones((3, 1), np.float32)}
    fedavg = FedAvg()
    (got, n), count = unpack_reply(fedavg, pack_reply(fedavg, (params, 7), 7), "client 0")
    assert n == count == 7 and np.array_equal(got["w"], params["w"])
    dp = DPFedAvg(clip=1.0, noise_multiplier=1.0, sample_rate=0.5, num_clients=4)
    clipped, _ = unpack_reply(dp, pack_reply(dp, Clipped({"w": np.zeros((3, 1))}, 2.5), 3), "c")
    assert isinstance(clipped, Clipped) and clipped.norm_before == 2.5
    for content, match in [
        (RecordDict({"params": to_arrays(params)}), "no MetricRecord 'metrics'"),
        (RecordDict({"params": to_arrays(params),
                     "metrics": MetricRecord({"num-examples": -1})}), "'num-examples' is -1"),
        (RecordDict({"params": to_arrays(params),
                     "metrics": MetricRecord({"num-examples": float("nan")})}), "is nan"),
        (RecordDict({"metrics": MetricRecord({"num-examples": 1})}), "no ArrayRecord 'params'"),
    ]:
        with pytest.raises(ValueError, match=f"client 2: .*{match}"):
            unpack_reply(fedavg, content, "client 2")
    with pytest.raises(ValueError, match="'norm-before' is nan"):
        unpack_reply(dp, pack_reply(fedavg, (params, 1), 1), "client 2")


def test_an_aggregator_without_a_wire_format_is_refused_when_the_app_is_built(tmp_path):
    pytest.importorskip("flwr")
    from minigrad.engines.flower import client_app
    from minigrad.privacy.secure_sums import SecureAggregation

    with pytest.raises(TypeError, match="SecureAggregation.* has no Flower message format"):
        client_app(make_update, SecureAggregation(t=3), tmp_path)


def test_the_engine_is_imported_only_when_used(monkeypatch):
    import sys

    from minigrad.engines import flower

    monkeypatch.setitem(sys.modules, "flwr", None)
    monkeypatch.setitem(sys.modules, "flwr.app", None)
    with pytest.raises(ImportError, match=r'pip install "minigrad\[flower\]"'):
        flower.client_app(make_update)


# ---------------------------------------------------------------------------
# the Simulation Engine: the same bits as run_round
# ---------------------------------------------------------------------------
def _in_process(clients, update_fn, num_rounds, **kw):
    params = spam.spam_model(VOCAB).state_dict()
    for _ in range(num_rounds):
        params, _ = run_round(params, clients, update_fn, **kw)
    return params


def _assert_same_bits(got, want, what):
    assert sorted(got) == sorted(want), what
    start = spam.spam_model(VOCAB).state_dict()
    assert any(not np.array_equal(want[k], start[k]) for k in want), f"{what}: nothing trained"
    for k in want:
        assert got[k].dtype == want[k].dtype, (what, k)
        assert got[k].tobytes() == want[k].tobytes(), (
            f"{what}: '{k}' differs from the in-process run by up to "
            f"{np.abs(got[k].astype(float) - want[k]).max():.3g}")


@pytest.mark.federation
@pytest.mark.parametrize("recipe", ["book", "improved"])
def test_fedavg_on_the_simulation_engine_gives_run_rounds_bits(tmp_path, recipe):
    pytest.importorskip("flwr")
    from minigrad.engines.flower import client_app, server_app, simulate

    # the book's epoch runs whole batches of 500 only: its clients hold 500-1,400 rows
    clients = _clients(base=500, step=300) if recipe == "book" else _clients()
    write_partitions(tmp_path, clients)
    if recipe == "book":  # notebook 01's recipe: plain mean, the book's epoch, all clients
        factory, kw = make_book_update, {"aggregator": FedAvg(weighted=False)}
    else:  # its improved recipe: weighted mean, BCE, 3 of 4 clients sampled per round
        factory, kw = make_update, {"aggregator": FedAvg(), "sampler": UniformSample(3)}
    want = _in_process(clients, factory(), 3, rng=np.random.default_rng(7), **kw)
    server = server_app(spam.spam_model(VOCAB).state_dict(), 3, num_clients=4,
                        rng=np.random.default_rng(7), **kw)
    simulate(server, client_app(factory, kw["aggregator"], tmp_path), 4)
    _assert_same_bits(server.result["params"], want, f"FedAvg, {recipe} recipe")
    history = server.result["history"]
    assert [r["dropped"] for r in history.rounds] == [{}, {}, {}]
    if recipe == "improved":
        rng = np.random.default_rng(7)
        assert [r["clients"] for r in history.rounds] == [
            list(UniformSample(3)(4, rng)) for _ in range(3)]


def _dp():
    return DPFedAvg(clip=0.05, noise_multiplier=0.8, sample_rate=0.6, num_clients=5)


@pytest.mark.federation
def test_dp_fedavg_on_the_simulation_engine_gives_run_rounds_bits(tmp_path):
    pytest.importorskip("flwr")
    from minigrad.engines.flower import client_app, server_app, simulate

    clients = _clients(5)
    write_partitions(tmp_path, clients)
    want = _in_process(clients, make_update(), 4, aggregator=_dp(),
                       rng=np.random.default_rng(11))
    server = server_app(spam.spam_model(VOCAB).state_dict(), 4, num_clients=5,
                        aggregator=_dp(), rng=np.random.default_rng(11))
    simulate(server, client_app(make_update, _dp(), tmp_path), 5)
    _assert_same_bits(server.result["params"], want, "DP-FedAvg")
    rounds = server.result["history"].rounds
    assert all(r["noise_std"] == pytest.approx(0.8 * 0.05 / 3) for r in rounds)
    assert sum(r["num_clipped"] for r in rounds) > 0  # the clip was exercised


def _faulty_mod(msg, context, call_next):
    """Partition 3 fails once the model has moved (rounds 2+); partition 2 always replies
    with a smuggled extra array, which the server must refuse."""
    pid = context.node_config["partition-id"]
    if pid == 3 and msg.metadata.message_type == "train" and \
            np.any(msg.content["params"]["weight"].numpy() != 0):
        raise ConnectionError("partition 3 went away")
    reply = call_next(msg, context)
    if pid == 2 and msg.metadata.message_type == "train":
        from flwr.app import Array

        reply.content["params"]["user_embedding"] = Array(np.ones(4, np.float32))
    return reply


@pytest.mark.federation
def test_a_failing_node_and_a_refused_reply_leave_the_round_to_the_others(tmp_path):
    pytest.importorskip("flwr")
    from minigrad.engines.flower import client_app, server_app, simulate

    clients = _clients()
    write_partitions(tmp_path, clients)
    update = make_update()
    params = spam.spam_model(VOCAB).state_dict()
    params, _ = run_round(params, [clients[0], clients[1], clients[3]], update)  # round 1
    for _ in range(2):
        params, _ = run_round(params, clients[:2], update)
    server = server_app(spam.spam_model(VOCAB).state_dict(), 3, num_clients=4)
    simulate(server, client_app(make_update, FedAvg(), tmp_path, mods=[_faulty_mod]), 4)
    _assert_same_bits(server.result["params"], params, "rounds without the failed clients")
    rounds = server.result["history"].rounds
    assert [r["clients"] for r in rounds] == [[0, 1, 3], [0, 1], [0, 1]]
    assert all("client 2" in r["dropped"][2] and "user_embedding" in r["dropped"][2]
               for r in rounds)
    assert [sorted(r["dropped"]) for r in rounds] == [[2], [2, 3], [2, 3]]
    assert "partition 3 went away" in rounds[1]["dropped"][3]


# ---------------------------------------------------------------------------
# minigrad's DP-FedAvg beside Flower's DifferentialPrivacyServerSideFixedClipping
# ---------------------------------------------------------------------------
def test_dp_fedavg_agrees_with_flowers_server_side_fixed_clipping_where_they_overlap():
    """Same clip, same mean, same noise scale, same epsilon; they differ in where the clip
    runs, in what dtype, and in the noise's generator (see docs/engines.md)."""
    pytest.importorskip("flwr")
    from flwr.supercore.differential_privacy import compute_clip_model_update, compute_stdv
    from flwr.supercore.privacy_accounting import (
        GaussianPrivacyEvent,
        NeighboringRelation,
        PrivacyConfig,
        SamplingMethod,
    )
    from flwr.supercore.privacy_accounting.rdp_accountant import RdpAccountant

    from minigrad.federated import ClientUpdate
    from minigrad.privacy import dp

    rng = np.random.default_rng(0)
    server = {"w": rng.normal(size=(50, 3)).astype(np.float32)}
    trained = [{"w": (server["w"] + rng.normal(scale=s, size=(50, 3))).astype(np.float32)}
               for s in (0.01, 0.1, 0.3, 1.0, 0.05)]
    ours = DPFedAvg(clip=0.5, noise_multiplier=0.0, sample_rate=1.0, num_clients=5)
    messages = [ours.encode(ClientUpdate(i, server, t, 10), None) for i, t in enumerate(trained)]
    mean, info = ours.aggregate(messages, server, np.random.default_rng(1))
    assert info["num_clipped"] == 4  # the clip bites for four of the five
    theirs = []
    for t in trained:  # Flower clips on the server, in the model's float32
        arrays = [t["w"].copy()]
        compute_clip_model_update(arrays, [server["w"]], 0.5)
        theirs.append(arrays[0])
    gap = np.abs(np.mean(theirs, axis=0) - (server["w"] + mean["w"])).max()
    assert 0 < gap < 1e-6  # float32 rounding of Flower's clip and mean, no more
    assert compute_stdv(1.1, 0.5, 5) == pytest.approx(1.1 * 0.5 / 5)  # the same noise std
    population = 1000
    for q, z, steps in [(0.01, 1.0, 1000), (0.05, 0.8, 50)]:
        accountant = RdpAccountant(PrivacyConfig(
            target_delta=1e-5, population_size=population,
            neighboring_relation=NeighboringRelation.ADD_OR_REMOVE_ONE,
            sampling_method=SamplingMethod.POISSON))
        accountant.compose(GaussianPrivacyEvent(noise_multiplier=z,
                                                sample_size=int(q * population),
                                                population_size=population), count=steps)
        eps, _ = dp.rdp_epsilon(q, z, steps, 1e-5)
        assert eps == pytest.approx(accountant.get_epsilon(1e-5), rel=0.01)
