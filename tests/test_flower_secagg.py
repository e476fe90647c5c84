"""minigrad's secure aggregation over Flower: the codec, and rounds over the Simulation Engine."""

import os

import numpy as np
import pytest

from minigrad.engines.flower.secagg import (
    decode_message,
    encode_message,
    node_seed,
    partition_vector,
)
from minigrad.privacy.secure_aggregation import ThresholdError, run


def _same(a, b):
    assert a.round == b.round and a.sender == b.sender and a.receiver == b.receiver
    assert set(a.payload) == set(b.payload)
    for k, v in a.payload.items():
        w = b.payload[k]
        if isinstance(v, np.ndarray):
            assert v.dtype == w.dtype and v.shape == w.shape and np.array_equal(v, w)
        else:
            assert type(v) is type(w) and v == w


def test_codec_round_trips_every_message_of_a_run_with_dropout():
    X = np.stack([partition_vector(u, 6) for u in range(5)])
    result = run(X, 3, np.random.default_rng(1), dropout={2}, keep_messages=True)
    assert {m.round for m in result.transcript.log} == {"advertise_keys", "share_keys",
                                                        "masked_input", "unmasking"}
    for m in result.transcript.log:
        _same(decode_message(encode_message(m)), m)
        assert decode_message(encode_message(m)).nbytes == m.nbytes


def test_codec_refuses_malformed_records():
    m = run(np.stack([partition_vector(u, 3) for u in range(3)]), 2,
            np.random.default_rng(0), keep_messages=True).transcript.log
    masked = next(x for x in m if x.round == "masked_input" and x.sender != "server")
    record = encode_message(masked)
    with pytest.raises(ValueError, match="bytes, not shape"):
        decode_message({**record, "array.y": record["array.y"][:-1]})
    with pytest.raises(ValueError, match="dtype"):
        decode_message({**record, "array.y.dtype": "|O"})
    with pytest.raises(ValueError, match="unknown fields"):
        decode_message({**record, "extra": 1})
    with pytest.raises(ValueError, match="round"):
        decode_message({**record, "round": "setup"})
    shares = next(x for x in m if x.round == "share_keys" and x.sender != "server")
    record = encode_message(shares)
    with pytest.raises(ValueError, match="map 'ciphertexts'"):
        decode_message({**record, "map.ciphertexts.values": record["map.ciphertexts.values"]
                        + b"x"})


def test_node_seed_is_runs_derivation():
    seeds = np.random.default_rng(7).integers(0, 2 ** 63, size=5)
    assert [node_seed(7, 5, u) for u in range(5)] == [int(s) for s in seeds]


@pytest.mark.federation
def test_secure_aggregation_over_the_simulation_engine_recovers_and_aborts():
    pytest.importorskip("flwr")
    for k, v in {"FLWR_TELEMETRY_ENABLED": "0", "FLWR_DISABLE_UPDATE_CHECK": "1",
                 "RAY_USAGE_STATS_ENABLED": "0"}.items():
        os.environ.setdefault(k, v)
    from flwr.serverapp import ServerApp
    from flwr.simulation import run_simulation

    from minigrad.engines.flower.secagg import make_client_app, secure_sum_over_grid

    n, dim, t = 5, 8, 3
    # session -> {partition: steps (0 advertise, 1 share, 2 masked input, 3 unmask)}
    faults = {"recovered": {1: [2], 3: [2]}, "aborted": {0: [2], 2: [2], 4: [2]},
              "late": {4: [1], 1: [3]}}
    out = {}
    server_app = ServerApp()

    @server_app.main()
    def main(grid, context):
        model = np.zeros(dim)
        for session in ("all", "recovered", "aborted", "late"):
            try:
                r = secure_sum_over_grid(grid, session=session, num_clients=n, t=t, dim=dim,
                                         seed=11, timeout=60, wait_s=60,
                                         keep_messages=True)
            except ThresholdError as error:
                out[session] = error
                continue
            model = model + r["sum"]
            out[session] = r
        out["model"] = model

    run_simulation(server_app, make_client_app(faults=faults), num_supernodes=n,
                   backend_config={"client_resources": {"num_cpus": 1}})
    X = np.stack([partition_vector(u, dim) for u in range(n)])
    cases = (("all", {}), ("recovered", {"masked_input": (1, 3)}),
             ("late", {"share_keys": (4,), "unmasking": (1,)}))
    for session, drop in cases:
        ref = run(X, t, np.random.default_rng(11), dropout=drop, keep_messages=True)
        got = out[session]
        assert got["sum_quantized"].dtype == np.uint32
        assert np.array_equal(got["sum_quantized"], ref.sum_quantized), session
        assert got["sum"].tobytes() == ref.sum.tobytes(), session
        assert got["survivors"] == ref.survivors
        assert {r: tuple(v) for r, v in got["dropped"].items() if v} == drop
        assert got["transcript"].bytes_by_round() == ref.transcript.bytes_by_round()
        # every message (keys, sealed shares, masked inputs, shares) as run's, in run's order
        assert len(got["transcript"].log) == len(ref.transcript.log)
        for a, b in zip(got["transcript"].log, ref.transcript.log, strict=True):
            _same(a, b)
    assert isinstance(out["aborted"], ThresholdError)
    assert "'masked_input'" in str(out["aborted"]) and "only 2 client(s)" in str(out["aborted"])
    with pytest.raises(ThresholdError, match="masked_input"):
        run(X, t, np.random.default_rng(11), dropout=(0, 2, 4))
    # the aborted session left the model as the completed ones made it
    assert out["model"].tobytes() == (out["all"]["sum"] + out["recovered"]["sum"]
                                      + out["late"]["sum"]).tobytes()
    assert 1 in out["late"]["survivors"] and 4 not in out["late"]["survivors"]
