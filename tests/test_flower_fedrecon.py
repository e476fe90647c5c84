"""Federated Reconstruction on Flower's Simulation Engine: the in-process reference's bits,
and user factors that stay on their nodes."""

import numpy as np
import pytest

from minigrad.engines.flower import write_partitions
from minigrad.federated import reconstruction as fr

pytestmark = pytest.mark.federation

SPEC = fr.MFSpec(num_items=15, dim=4, item_bias=True, user_bias=True, global_bias=True)
CONFIG = fr.FedReconConfig(clients_per_round=4, batch_size=3)


def _data():
    rng = np.random.default_rng(2)
    sizes = (4, 6, 9, 12, 7, 10)
    item = np.concatenate([rng.choice(SPEC.num_items, size=n, replace=False) for n in sizes])
    rating = rng.integers(1, 6, size=len(item)).astype(np.float64)
    return fr.ClientRatings(item.astype(np.int64), rating, np.r_[0, np.cumsum(sizes)],
                            np.arange(len(sizes)))


def _partitions(tmp_path, data):
    write_partitions(tmp_path, [data.client(c) for c in range(len(data))])


def test_fedrecon_on_the_simulation_engine_gives_the_reference_bits(tmp_path):
    pytest.importorskip("flwr")
    from minigrad.engines.flower import simulate
    from minigrad.engines.flower.fedrecon import fedrecon_client_app, fedrecon_server_app

    data = _data()
    _partitions(tmp_path, data)
    want, want_history = fr.train(SPEC, CONFIG, data, 3, np.random.default_rng(5),
                                  reference=True)
    server = fedrecon_server_app(SPEC, CONFIG, 3, np.random.default_rng(5), num_clients=6,
                                 recommend_k=3)
    simulate(server, fedrecon_client_app(SPEC, CONFIG, tmp_path), 6)
    got = server.result["state"]
    assert got.round_num == 3
    for name, value in want.params.items():
        assert got.params[name].tobytes() == value.tobytes(), name
    for mine, ref in zip(server.result["history"].rounds, want_history.rounds, strict=True):
        assert mine["dropped"] == {}
        assert mine["loss"] == ref["loss"] and mine["num_examples"] == ref["num_examples"]
    # the server received global deltas only; the factors stayed where they were made
    assert server.result["reply_names"] == set(SPEC.global_names)
    assert not set(SPEC.local_names) & set(server.result["reply_names"])
    for c, top in server.result["recommended"].items():
        if top is not None:  # recommended on the node, from the factors in its state
            items, _ = data.client(c)
            assert len(top) == 3 and not set(top) & set(items)
    assert sum(top is not None for top in server.result["recommended"].values()) >= 4


def _smuggle(msg, context, call_next):
    """Partition 1 adds its user factors to every reply it sends."""
    reply = call_next(msg, context)
    if context.node_config["partition-id"] == 1 and msg.metadata.message_type == "train":
        from flwr.app import Array

        reply.content["params"]["user_embedding"] = Array(np.ones(SPEC.dim))
    return reply


def test_a_reply_carrying_user_factors_is_refused(tmp_path):
    pytest.importorskip("flwr")
    from minigrad.engines.flower import simulate
    from minigrad.engines.flower.fedrecon import fedrecon_client_app, fedrecon_server_app

    data = _data()
    _partitions(tmp_path, data)
    config = fr.FedReconConfig(clients_per_round=6, batch_size=3)
    server = fedrecon_server_app(SPEC, config, 2, np.random.default_rng(5), num_clients=6)
    simulate(server, fedrecon_client_app(SPEC, config, tmp_path, mods=[_smuggle]), 6)
    for record in server.result["history"].rounds:
        assert sorted(record["dropped"]) == [1]
        assert "user_embedding" in record["dropped"][1]
    assert server.result["state"].round_num == 2
