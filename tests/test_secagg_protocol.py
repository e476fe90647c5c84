"""Secure-aggregation protocol: masks cancel, dropouts recover, the parties refuse to leak."""

import itertools
import math

import numpy as np
import pytest
from realdata import ENRON_ROOT, needs_enron
from statecheck import assert_same, snapshot
from test_secagg_primitives import FLOAT_SLACK, OAKLEY_768

from minigrad.privacy import secure_aggregation as sa
from minigrad.privacy.secure_aggregation import (
    SERVER,
    Client,
    Message,
    Quantizer,
    Server,
    ThresholdError,
    primitives,
    protocol,
    run,
    stats,
)

DEMO = {"group": OAKLEY_768, "insecure_demo": True}  # a 768-bit group: fast, insecure


def quantized_sum(X, rows, clip=1.0):
    q = Quantizer(clip, len(X))
    total = np.zeros(X.shape[1], dtype=np.uint32)
    for u in rows:
        total += q.quantize(X[u])
    return total


@pytest.fixture(scope="module")
def five_clients():
    return np.random.default_rng(7).normal(scale=0.6, size=(5, 64))


def test_without_dropout_the_server_gets_exactly_the_sum(five_clients):
    X = five_clients

    result = run(X, 3, np.random.default_rng(0), **DEMO)

    np.testing.assert_array_equal(result.sum_quantized, quantized_sum(X, range(5)))
    assert result.survivors == (0, 1, 2, 3, 4)
    assert np.abs(result.sum - np.clip(X, -1, 1).sum(0)).max() <= result.error_bound + FLOAT_SLACK
    assert result.num_clipped == int((np.abs(X) > 1).sum()) > 0


@pytest.mark.parametrize("dropped", [d for k in range(3)
                                     for d in itertools.combinations(range(5), k)])
def test_any_dropout_leaving_t_survivors_recovers_their_sum(five_clients, dropped):
    # Arrange: clients in ``dropped`` shared their keys, then vanished before sending input
    X = five_clients
    survivors = [u for u in range(5) if u not in dropped]

    # Act
    result = run(X, 3, np.random.default_rng(1), dropout=set(dropped), **DEMO)

    # Assert
    assert result.survivors == tuple(survivors)
    np.testing.assert_array_equal(result.sum_quantized, quantized_sum(X, survivors))
    error = np.abs(result.sum - np.clip(X[survivors], -1, 1).sum(0)).max()
    assert result.error_bound == len(survivors) * 0.5 / result.quantizer.scale
    assert error <= result.error_bound + FLOAT_SLACK


@pytest.mark.parametrize("dropout, survivors", [
    ({"advertise_keys": {0}, "share_keys": {1}}, (2, 3, 4)),
    ({"share_keys": {4}, "masked_input": {0}}, (1, 2, 3)),
    ({"masked_input": {1}, "unmasking": {2}}, (0, 2, 3, 4)),  # 2's input counts, no shares
    ({"unmasking": {0, 1}}, (0, 1, 2, 3, 4)),
])
def test_dropouts_in_any_round_recover_the_survivors_sum(five_clients, dropout, survivors):
    X = five_clients

    result = run(X, 3, np.random.default_rng(2), dropout=dropout, **DEMO)

    assert result.survivors == survivors
    np.testing.assert_array_equal(result.sum_quantized, quantized_sum(X, survivors))


@pytest.mark.parametrize("dropout, round_name", [
    ({0, 1, 2}, "masked_input"),
    ({"advertise_keys": {0, 1, 2}}, "advertise_keys"),
    ({"share_keys": {3}, "masked_input": {0, 4}}, "masked_input"),
    ({"unmasking": {0, 1, 2}}, "unmasking"),
])
def test_fewer_than_t_survivors_is_a_clear_error(five_clients, dropout, round_name):
    with pytest.raises(ThresholdError, match=f"round '{round_name}': only 2 client.*t=3"):
        run(five_clients, 3, np.random.default_rng(3), dropout=dropout, **DEMO)


def byte_chi_square(values):
    counts = np.bincount(np.ascontiguousarray(values).view(np.uint8), minlength=256)
    expected = counts.sum() / 256
    return float(((counts - expected) ** 2 / expected).sum())


def test_a_masked_input_looks_uniform_even_for_an_all_zero_vector():
    # Arrange: client 0 sends all zeros; chi-square on its 40,000 bytes, 255 degrees of freedom
    X = np.random.default_rng(4).normal(scale=0.1, size=(3, 10_000))
    X[0] = 0.0
    df, z = 255, 3.0902  # the 0.999 quantile, by the Wilson-Hilferty approximation
    critical = df * (1 - 2 / (9 * df) + z * math.sqrt(2 / (9 * df))) ** 3

    # Act
    result = run(X, 2, np.random.default_rng(5), **DEMO, keep_messages=True)
    sent = {m.sender: m.payload["y"] for m in result.transcript.log
            if m.round == "masked_input" and m.receiver == SERVER}

    # Assert: the unmasked inputs fail the test by far; what was sent passes it
    assert 330 < critical < 331
    assert byte_chi_square(Quantizer(1.0, 3).quantize(X[0])) > 100 * critical
    assert byte_chi_square(Quantizer(1.0, 3).quantize(X[1])) > 10 * critical
    for u in range(3):
        assert byte_chi_square(sent[u]) < critical


def test_transcript_counts_the_bytes_of_each_round(five_clients):
    result = run(five_clients, 3, np.random.default_rng(6), dropout={4}, **DEMO,
                 keep_messages=True)
    by_round = result.transcript.bytes_by_round()

    key = OAKLEY_768.byte_length  # 96
    assert by_round["advertise_keys"] == {"up": 5 * 2 * key, "down": 5 * 5 * (4 + 2 * key)}
    sealed = 4 + 4 + 66 + 66 + 32  # ids, two shares, tag
    commitment = 32  # each client's SHA-256 commitment to its self-mask seed b, kept up there
    assert by_round["share_keys"] == {"up": 5 * (4 * (4 + sealed) + commitment),
                                      "down": 5 * 4 * (4 + sealed)}
    assert by_round["masked_input"] == {"up": 4 * 64 * 4, "down": 4 * (4 * 4 + 1 * 4)}
    assert by_round["unmasking"] == {"up": 4 * 5 * (4 + 66), "down": 0}
    assert result.transcript.total_bytes == sum(m.nbytes for m in result.transcript.log)
    unmasking = [m for m in result.transcript.log if m.round == "unmasking"]
    for m in unmasking:  # never both shares of one client
        assert set(m.payload["b_shares"]) == {0, 1, 2, 3} and set(m.payload["s_shares"]) == {4}


# ---------------------------------------------------------------------------
# the parties, one round at a time
# ---------------------------------------------------------------------------
def three_parties(t=2, dim=8):
    X = np.arange(3 * dim, dtype=np.float64).reshape(3, dim) / 100
    quantizer = Quantizer(1.0, 3)
    clients = [Client(u, X[u], quantizer, t, np.random.default_rng(u), OAKLEY_768,
                      insecure_demo=True)
               for u in range(3)]
    return X, clients, Server(t, dim, OAKLEY_768, insecure_demo=True)


def test_a_client_refuses_to_reveal_both_shares_of_anyone():
    # Arrange: three rounds played honestly
    X, clients, server = three_parties()
    keys = server.collect_keys([c.advertise_keys() for c in clients])
    shares = server.route_shares([c.share_keys(keys[c.index]) for c in clients])
    requests = server.collect_masked_inputs([c.masked_input(shares[c.index]) for c in clients])

    # Act: a curious server asks for the self-mask seed AND the DH key of client 2
    greedy = Message("masked_input", SERVER, 0, {"survivors": np.array([0, 1, 2], np.int32),
                                                 "dropped": np.array([2], np.int32)})

    # Assert
    with pytest.raises(ValueError, match="both shares of clients \\[2\\]"):
        clients[0].unmask(greedy)
    total = server.unmask([c.unmask(requests[c.index]) for c in clients])
    np.testing.assert_array_equal(total, quantized_sum(X, range(3)))


def test_shares_altered_in_transit_fail_authentication():
    _, clients, server = three_parties()
    keys = server.collect_keys([c.advertise_keys() for c in clients])
    shares = server.route_shares([c.share_keys(keys[c.index]) for c in clients])
    sealed = shares[0].payload["ciphertexts"][1]
    shares[0].payload["ciphertexts"][1] = sealed[:10] + bytes([sealed[10] ^ 1]) + sealed[11:]

    with pytest.raises(ValueError, match="from client 1 to client 0 fail their authentication"):
        clients[0].masked_input(shares[0])


def test_a_wrong_key_share_is_caught_by_the_advertised_public_key():
    # Arrange: client 2 drops before its input; client 0 sends a corrupted share of its key
    _, clients, server = three_parties()
    keys = server.collect_keys([c.advertise_keys() for c in clients])
    shares = server.route_shares([c.share_keys(keys[c.index]) for c in clients])
    requests = server.collect_masked_inputs([c.masked_input(shares[c.index])
                                             for c in clients[:2]])
    answers = [clients[u].unmask(requests[u]) for u in (0, 1)]
    bad = int.from_bytes(answers[0].payload["s_shares"][2], "big") ^ 1
    answers[0].payload["s_shares"][2] = bad.to_bytes(66, "big")

    with pytest.raises(ValueError, match="dropped client 2 does not match"):
        server.unmask(answers)


def test_message_bytes_count_arrays_bytes_and_client_ids():
    m = Message("unmasking", 3, SERVER, {"b_shares": {0: b"x" * 66, 1: b"y" * 66},
                                         "y": np.zeros(5, dtype=np.uint32)})

    assert m.nbytes == 2 * (4 + 66) + 20
    with pytest.raises(TypeError, match="payload values"):
        Message("unmasking", 3, SERVER, {"bad": [1, 2]}).nbytes  # noqa: B018


@pytest.mark.parametrize("kwargs, error", [
    ({"t": 1}, ValueError), ({"t": 6}, ValueError), ({"rng": 0}, TypeError),
    ({"vectors": np.zeros(5)}, ValueError), ({"dropout": {"later": {1}}}, ValueError),
    ({"dropout": {7}}, ValueError),
    ({"dropout": {"share_keys": {1}, "unmasking": {1}}}, ValueError),
    ({"clip": 0.0}, ValueError), ({"vectors": np.full((5, 2), np.nan)}, ValueError),
])
def test_run_rejects_bad_arguments(five_clients, kwargs, error):
    args = {"vectors": five_clients, "t": 3, "rng": np.random.default_rng(0)} | kwargs
    with pytest.raises(error):
        run(args.pop("vectors"), args.pop("t"), args.pop("rng"), **DEMO, **args)


def test_run_is_deterministic_given_the_seed(five_clients):
    a = run(five_clients, 3, np.random.default_rng(9), dropout={2}, **DEMO,
            keep_messages=True)
    b = run(five_clients, 3, np.random.default_rng(9), dropout={2}, **DEMO,
            keep_messages=True)

    ys = [[m.payload["y"] for m in r.transcript.log if m.round == "masked_input"
           and m.receiver == SERVER] for r in (a, b)]
    for ya, yb in zip(*ys, strict=True):
        np.testing.assert_array_equal(ya, yb)


# ---------------------------------------------------------------------------
# real data: secure aggregation of three spam models (enron1), one client drops
# ---------------------------------------------------------------------------


@needs_enron
def test_secure_sum_of_spam_models_with_a_dropout_matches_the_plain_sum():
    # Arrange: bob, alice and sue train the book's model for one epoch; sue drops out
    from minigrad.datasets import load_enron_spam
    from minigrad.recipes import spam

    d = spam.book_recipe(load_enron_spam(ENRON_ROOT, folders=("enron1",)), test_per_class=200)
    X, y = d.X_train, d.y_train
    weights = []
    for rows in (slice(0, 1000), slice(1000, 2000), slice(2000, 3000)):
        model = spam.spam_model(len(d.vocab))
        spam.train_epoch(model, X[rows], y[rows])
        weights.append(model.state_dict()["weight"].reshape(-1))
    vectors = np.stack(weights)

    # Act: the real 2048-bit group
    result = run(vectors, 2, np.random.default_rng(0), dropout={2}, clip=4.0)

    # Assert
    assert result.num_clipped == 0 and np.abs(vectors).max() > 0.01
    expected = vectors[:2].astype(np.float64).sum(0)
    assert np.abs(result.sum - expected).max() <= result.error_bound + FLOAT_SLACK
    assert result.transcript.bytes_by_round()["masked_input"]["up"] == 2 * 4 * len(d.vocab)


def test_package_exports():
    expected = set(primitives.__all__) | set(protocol.__all__) | set(stats.__all__)
    assert set(sa.__all__) == expected and "run" in sa.__all__


# ---------------------------------------------------------------------------
# issue 17: every message is checked before it changes a party; b is committed
# ---------------------------------------------------------------------------
def played_to_unmasking(t=2):
    X, clients, server = three_parties(t)
    keys = server.collect_keys([c.advertise_keys() for c in clients])
    shares = server.route_shares([c.share_keys(keys[c.index]) for c in clients])
    requests = server.collect_masked_inputs([c.masked_input(shares[c.index]) for c in clients])
    return X, clients, server, requests


def test_a_wrong_b_share_is_caught_by_the_commitment_naming_the_client():
    # Arrange: no dropout; client 0 sends a b-share for client 1 that is off by one
    X, clients, server, requests = played_to_unmasking()
    answers = [c.unmask(requests[c.index]) for c in clients]
    bad = int.from_bytes(answers[0].payload["b_shares"][1], "big") + 1
    forged = _with(answers[0], b_shares={**answers[0].payload["b_shares"],
                                         1: bad.to_bytes(66, "big")})
    before = snapshot(server)

    # Act / Assert: before the fix the sum came back wrong, without an error
    with pytest.raises(ValueError, match="seed b recovered for client 1 does not match"):
        server.unmask([forged, *answers[1:]])
    assert_same(before, snapshot(server), "server")
    np.testing.assert_array_equal(server.unmask(answers), quantized_sum(X, range(3)))


def test_the_commitment_costs_32_bytes_per_client_in_share_keys():
    five = np.random.default_rng(7).normal(size=(5, 4))
    result = run(five, 3, np.random.default_rng(6), keep_messages=True, **DEMO)

    ups = [m for m in result.transcript.log if m.round == "share_keys" and m.receiver == SERVER]
    assert all(len(m.payload["b_commitment"]) == 32 for m in ups)
    assert all(m.nbytes == 4 * (4 + 172) + 32 for m in ups)  # 4 sealed share pairs, b_u


def _server_messages(round_name):
    """Honest messages of ``round_name`` to a fresh server played up to that round."""
    X, clients, server = three_parties()
    advertised = [c.advertise_keys() for c in clients]
    if round_name == "advertise_keys":
        return server, advertised, server.collect_keys
    keys = server.collect_keys(advertised)
    shared = [c.share_keys(keys[c.index]) for c in clients]
    if round_name == "share_keys":
        return server, shared, server.route_shares
    shares = server.route_shares(shared)
    masked = [c.masked_input(shares[c.index]) for c in clients]
    if round_name == "masked_input":
        return server, masked, server.collect_masked_inputs
    requests = server.collect_masked_inputs(masked)
    return server, [c.unmask(requests[c.index]) for c in clients], server.unmask


def _with(m, **payload):
    return Message(m.round, m.sender, m.receiver, {**m.payload, **payload})


SERVER_FORGERIES = {
    "advertise_keys": [
        lambda m: _with(m, c_public=b"\x00" * 96),                 # key 0
        lambda m: _with(m, s_public=m.payload["s_public"][:-1]),   # short
        lambda m: Message(m.round, True, m.receiver, m.payload),   # not an id
        lambda m: Message(m.round, m.sender, m.receiver, {"c_public": m.payload["c_public"]}),
    ],
    "share_keys": [
        lambda m: _with(m, b_commitment=b"x" * 31),
        lambda m: _with(m, ciphertexts={v: c[:-1] for v, c in m.payload["ciphertexts"].items()}),
        lambda m: _with(m, ciphertexts={**m.payload["ciphertexts"], 9: b"x" * 200}),
        lambda m: _with(m, ciphertexts={**m.payload["ciphertexts"], m.sender: b"x" * 200}),
    ],
    "masked_input": [
        lambda m: _with(m, y=m.payload["y"].astype(np.int64)),
        lambda m: _with(m, y=m.payload["y"][:-1]),
        lambda m: _with(m, y=list(m.payload["y"])),
        lambda m: "not a message",
    ],
    "unmasking": [
        lambda m: _with(m, b_shares={}),                               # withholds shares
        lambda m: _with(m, s_shares={1: b"\x00" * 66}),                # asks both for 1
        lambda m: _with(m, b_shares={v: b"\xff" * 66 for v in m.payload["b_shares"]}),
        lambda m: _with(m, b_shares={v: s[:-1] for v, s in m.payload["b_shares"].items()}),
    ],
}


@pytest.mark.parametrize("round_name, k", [(r, k) for r in sa.ROUNDS
                                           for k in range(len(SERVER_FORGERIES[r]))])
def test_the_server_refuses_a_bad_message_and_keeps_its_state(round_name, k):
    server, messages, receive = _server_messages(round_name)
    messages[1] = SERVER_FORGERIES[round_name][k](messages[1])
    before = snapshot(server)

    with pytest.raises((ValueError, TypeError)):
        receive(messages)

    assert_same(before, snapshot(server), "server")



def _client_inbox(round_name):
    """Client 0 played honestly up to ``round_name``, and the server's message for it."""
    X, clients, server = three_parties()
    keys = server.collect_keys([c.advertise_keys() for c in clients])
    if round_name == "advertise_keys":
        return clients[0], keys[0], clients[0].share_keys
    shares = server.route_shares([c.share_keys(keys[c.index]) for c in clients])
    if round_name == "share_keys":
        return clients[0], shares[0], clients[0].masked_input
    requests = server.collect_masked_inputs([c.masked_input(shares[c.index]) for c in clients])
    return clients[0], requests[0], clients[0].unmask


def _tamper_sealed(m):
    cts = dict(m.payload["ciphertexts"])
    cts[2] = cts[2][:-1] + bytes([cts[2][-1] ^ 1])  # the second share fails its tag
    return _with(m, ciphertexts=cts)


CLIENT_FORGERIES = {
    "advertise_keys": [
        lambda m: _with(m, public_keys={**m.payload["public_keys"], 1: b"\x01" * 10}),
        lambda m: _with(m, public_keys={**m.payload["public_keys"], 1: b"\x00" * 192}),
        lambda m: Message("advertise_keys", 1, 0, m.payload),           # not from the server
        lambda m: Message("share_keys", SERVER, 0, m.payload),          # wrong round
    ],
    "share_keys": [
        _tamper_sealed,
        lambda m: _with(m, ciphertexts={**m.payload["ciphertexts"], 7: b"x" * 200}),
        lambda m: _with(m, ciphertexts={1: m.payload["ciphertexts"][1][:-3]}),
        lambda m: Message("share_keys", SERVER, 1, m.payload),          # for someone else
    ],
    "masked_input": [
        lambda m: _with(m, survivors=np.array([0, 1, 1], np.int32)),
        lambda m: _with(m, survivors=[0, 1, 2]),
        lambda m: _with(m, dropped=np.array([2], np.int32)),            # both shares of 2
        lambda m: Message("masked_input", SERVER, 0, {"survivors": m.payload["survivors"]}),
    ],
}


@pytest.mark.parametrize("round_name, k", [(r, k) for r in CLIENT_FORGERIES
                                           for k in range(len(CLIENT_FORGERIES[r]))])
def test_a_client_refuses_a_bad_server_message_and_keeps_its_state(round_name, k):
    client, message, receive = _client_inbox(round_name)
    bad = CLIENT_FORGERIES[round_name][k](message)
    before = snapshot(client)

    with pytest.raises((ValueError, TypeError)):
        receive(bad)

    assert_same(before, snapshot(client), "client")
    receive(message)  # the honest message still works


def test_a_client_answers_one_unmasking_request_only():
    _, clients, _, requests = played_to_unmasking()
    clients[0].unmask(requests[0])

    with pytest.raises(ValueError, match="already answered"):
        clients[0].unmask(requests[0])


@pytest.mark.parametrize("t, n", [(2, 4), (3, 6)])
def test_the_threshold_must_exceed_half_the_clients_unless_a_demo(t, n):
    from minigrad.privacy.secure_sums import secure_sum

    X = np.zeros((n, 2))
    with pytest.raises(ValueError, match="t must exceed n / 2"):
        run(X, t, np.random.default_rng(0))
    with pytest.raises(ValueError, match="t must exceed n / 2"):
        secure_sum([{"w": x} for x in X], t, np.random.default_rng(0))
    assert run(X, t, np.random.default_rng(0), **DEMO).survivors == tuple(range(n))


def test_a_client_and_the_server_check_the_majority_themselves():
    # Arrange: four clients with t=2 in the real group; 2t <= n
    quantizer = Quantizer(1.0, 4)
    clients = [Client(u, np.zeros(2), quantizer, 2, np.random.default_rng(u)) for u in range(4)]
    advertised = [c.advertise_keys() for c in clients]
    keys = Message("advertise_keys", SERVER, 0, {"public_keys": {
        m.sender: m.payload["c_public"] + m.payload["s_public"] for m in advertised}})
    server, client = Server(2, 2), clients[0]
    before_server, before_client = snapshot(server), snapshot(client)

    # Act / Assert
    with pytest.raises(ValueError, match="t must exceed n / 2"):
        server.collect_keys(advertised)
    with pytest.raises(ValueError, match="t must exceed n / 2"):
        client.share_keys(keys)
    assert_same(before_server, snapshot(server), "server")
    assert_same(before_client, snapshot(client), "client")


def test_a_group_below_2048_bits_needs_an_explicit_opt_in():
    X = np.zeros((3, 2))
    for make in (lambda: run(X, 2, np.random.default_rng(0), group=OAKLEY_768),
                 lambda: Server(2, 2, OAKLEY_768),
                 lambda: Client(0, X[0], Quantizer(1.0, 3), 2, np.random.default_rng(0),
                                OAKLEY_768)):
        with pytest.raises(ValueError, match="insecure_demo=True"):
            make()
