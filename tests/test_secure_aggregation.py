"""Secure aggregation (Bonawitz et al. 2017): masks cancel, dropouts recover, shares hide."""

import itertools
import math

import numpy as np
import pytest
from realdata import ENRON_ROOT, needs_enron

from minigrad.privacy import secure_aggregation as sa
from minigrad.privacy.paillier import is_probable_prime
from minigrad.privacy.secure_aggregation import (
    MODP_2048,
    SERVER,
    Client,
    DHGroup,
    Message,
    Quantizer,
    Server,
    ThresholdError,
    lagrange_coefficients,
    pairwise_mask,
    reconstruct_secret,
    run,
    share_secret,
)

# RFC 2409 / RFC 7296 appendix B.1, the 768-bit MODP group 1: long broken, used here only so
# the many protocol runs of these tests take milliseconds. The protocol code is the same.
OAKLEY_768 = DHGroup("RFC 2409 768-bit MODP group 1 (insecure, tests only)", int("".join("""
    FFFFFFFF FFFFFFFF C90FDAA2 2168C234 C4C6628B 80DC1CD1 29024E08 8A67CC74 020BBEA6 3B139B22
    514A0879 8E3404DD EF9519B3 CD3A431B 302B0A6D F25F1437 4FE1356D 6D51C245 E485B576 625E7EC6
    F44C42E9 A63A3620 FFFFFFFF FFFFFFFF""".split()), 16), 2, 128)
# the quantization bound is exact in integers; float64 sums on both sides add ~1e-15
FLOAT_SLACK = 1e-12


def pi_floor(bits):
    """floor(2**bits * pi), from Machin's formula in integer arithmetic (64 guard bits)."""
    one = 1 << (bits + 64)

    def arctan_inv(x):  # arctan(1/x) * one
        total = term = one // x
        k, sign = 1, -1
        while term:
            term //= x * x
            total += sign * (term // (2 * k + 1))
            k, sign = k + 1, -sign
        return total

    return (4 * (4 * arctan_inv(5) - arctan_inv(239))) >> 64


@pytest.mark.parametrize("group, bits, offset", [(MODP_2048, 2048, 124476),
                                                 (OAKLEY_768, 768, 149686)])
def test_dh_prime_is_the_rfc_formula_and_a_safe_prime(group, bits, offset):
    # RFC 3526 section 3 / RFC 2409: p = 2^b - 2^(b-64) - 1 + 2^64 * ([2^(b-130) pi] + offset)
    expected = 2 ** bits - 2 ** (bits - 64) - 1 + 2 ** 64 * (pi_floor(bits - 130) + offset)

    assert group.p == expected and group.p.bit_length() == bits and group.g == 2
    assert is_probable_prime(group.p, rounds=8) and is_probable_prime((group.p - 1) // 2, rounds=8)


def test_dh_agreement_matches_and_rejects_degenerate_keys(rng):
    a_secret, a_public = MODP_2048.keypair(rng)
    b_secret, b_public = MODP_2048.keypair(rng)

    assert MODP_2048.agree(a_secret, b_public) == MODP_2048.agree(b_secret, a_public)
    assert a_secret.bit_length() <= 257 and MODP_2048.byte_length == 256
    for bad in (0, 1, MODP_2048.p - 1, MODP_2048.p):
        with pytest.raises(ValueError, match="public key"):
            MODP_2048.agree(a_secret, bad)


# ---------------------------------------------------------------------------
# Shamir
# ---------------------------------------------------------------------------
def test_any_t_shares_reconstruct_the_secret(rng):
    secret = 2 ** 255 + 12345
    shares = share_secret(secret, 3, [1, 2, 3, 4, 5], rng)

    for subset in itertools.combinations(shares, 3):
        assert reconstruct_secret(subset, 3) == secret
    assert reconstruct_secret(shares, 3) == secret


def test_t_minus_1_shares_are_consistent_with_every_secret_equally(rng):
    # Arrange: a field small enough to enumerate every polynomial of degree <= 2
    prime, t = 13, 3
    shares = share_secret(7, t, [1, 2, 3, 4, 5], rng, prime=prime)

    def consistent_polynomials(known):
        counts = [0] * prime
        for a0, a1, a2 in itertools.product(range(prime), repeat=3):
            if all((a0 + a1 * x + a2 * x * x) % prime == y for x, y in known):
                counts[a0] += 1
        return counts

    # Act / Assert: t - 1 shares fit exactly one polynomial for every candidate secret ...
    for known in itertools.combinations(shares, t - 1):
        assert consistent_polynomials(known) == [1] * prime
    # ... and t shares single out the true one
    assert consistent_polynomials(shares[:t]) == [1 if s == 7 else 0 for s in range(prime)]


def test_t_minus_1_shares_are_uniform_whatever_the_secret(rng):
    # Arrange: over F_13 with t = 3, the pair of shares at x = 1, 2 should be uniform on the
    # 169 cells for every secret (that needs the random coefficients, not just the algebra)
    prime, draws = 13, 169 * 40
    df, z = 168, 3.0902
    critical = df * (1 - 2 / (9 * df) + z * math.sqrt(2 / (9 * df))) ** 3

    for secret in (0, 7):
        # Act
        cells = np.zeros(prime * prime)
        for _ in range(draws):
            (_, y1), (_, y2), _ = share_secret(secret, 3, [1, 2, 3], rng, prime=prime)
            cells[y1 * prime + y2] += 1

        # Assert
        chi_square = ((cells - draws / 169) ** 2 / (draws / 169)).sum()
        assert chi_square < critical, (secret, chi_square)


def test_fewer_than_t_shares_is_a_threshold_error(rng):
    shares = share_secret(99, 4, range(1, 8), rng)

    with pytest.raises(ThresholdError, match="3 share.*t=4"):
        reconstruct_secret(shares[:3], 4)


def test_lagrange_coefficients_sum_to_one():
    # f = 1 is a polynomial of every degree, so sum_i lam_i * 1 = f(0) = 1
    assert sum(lagrange_coefficients([2, 5, 9, 11])) % sa.FIELD_PRIME == 1


@pytest.mark.parametrize("secret, t, xs", [(-1, 2, [1, 2]), (sa.FIELD_PRIME, 2, [1, 2]),
                                           (5, 3, [1, 2]), (5, 2, [0, 1]), (5, 2, [3, 3])])
def test_share_secret_rejects_bad_arguments(rng, secret, t, xs):
    with pytest.raises(ValueError):
        share_secret(secret, t, xs, rng)


# ---------------------------------------------------------------------------
# quantization
# ---------------------------------------------------------------------------
def test_quantizer_clips_and_keeps_the_sum_of_all_clients_inside_int32():
    # Arrange: L = floor((2^31 - 1) / 3) = 715827882
    q = Quantizer(clip=2.0, num_clients=3)
    x = np.array([-2.0, 2.0, 0.0, 5.0, -1e9, 1.0])

    # Act
    encoded = q.quantize(x)

    # Assert
    assert encoded.dtype == np.uint32 and q.level == 715827882
    np.testing.assert_array_equal(encoded.view(np.int32),
                                  [-q.level, q.level, 0, q.level, -q.level, q.level // 2])
    total = encoded + encoded + encoded  # three clients at the extremes: no wrap
    np.testing.assert_allclose(q.dequantize_sum(total), 3 * np.clip(x, -2, 2),
                               atol=q.error_bound(3) + FLOAT_SLACK)
    assert 3 * q.level <= 2 ** 31 - 1


def test_quantized_sum_is_within_the_bound_of_the_clipped_sum(rng):
    q = Quantizer(clip=1.0, num_clients=50)
    X = rng.normal(size=(50, 1000))

    total = np.zeros(1000, dtype=np.uint32)
    for x in X:
        total += q.quantize(x)

    error = np.abs(q.dequantize_sum(total) - np.clip(X, -1, 1).sum(0)).max()
    assert 0 < error <= q.error_bound(50) + FLOAT_SLACK


# ---------------------------------------------------------------------------
# masks and the protocol
# ---------------------------------------------------------------------------
def test_pairwise_masks_cancel_exactly_mod_2_32(rng):
    # Arrange: four clients agree pairwise seeds by Diffie-Hellman
    keys = [OAKLEY_768.keypair(rng) for _ in range(4)]
    dim = 1000

    # Act
    masks = {}
    for u, v in itertools.permutations(range(4), 2):
        shared = OAKLEY_768.agree(keys[u][0], keys[v][1])  # u's view of the {u, v} secret
        masks[u, v] = pairwise_mask(u, v, OAKLEY_768.encode(shared), dim)
    total = np.zeros(dim, dtype=np.uint32)
    for mask in masks.values():
        total += mask

    # Assert
    assert not total.any()
    assert all(mask.dtype == np.uint32 and mask.any() for mask in masks.values())
    np.testing.assert_array_equal(masks[0, 1] + masks[1, 0], np.zeros(dim, dtype=np.uint32))


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

    result = run(X, 3, np.random.default_rng(0), group=OAKLEY_768)

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
    result = run(X, 3, np.random.default_rng(1), dropout=set(dropped), group=OAKLEY_768)

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

    result = run(X, 3, np.random.default_rng(2), dropout=dropout, group=OAKLEY_768)

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
        run(five_clients, 3, np.random.default_rng(3), dropout=dropout, group=OAKLEY_768)


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
    result = run(X, 2, np.random.default_rng(5), group=OAKLEY_768, keep_messages=True)
    sent = {m.sender: m.payload["y"] for m in result.transcript.log
            if m.round == "masked_input" and m.receiver == SERVER}

    # Assert: the unmasked inputs fail the test by far; what was sent passes it
    assert 330 < critical < 331
    assert byte_chi_square(Quantizer(1.0, 3).quantize(X[0])) > 100 * critical
    assert byte_chi_square(Quantizer(1.0, 3).quantize(X[1])) > 10 * critical
    for u in range(3):
        assert byte_chi_square(sent[u]) < critical


def test_transcript_counts_the_bytes_of_each_round(five_clients):
    result = run(five_clients, 3, np.random.default_rng(6), dropout={4}, group=OAKLEY_768,
                 keep_messages=True)
    by_round = result.transcript.bytes_by_round()

    key = OAKLEY_768.byte_length  # 96
    assert by_round["advertise_keys"] == {"up": 5 * 2 * key, "down": 5 * 5 * (4 + 2 * key)}
    sealed = 4 + 4 + 66 + 66 + 32  # ids, two shares, tag
    assert by_round["share_keys"] == {"up": 5 * 4 * (4 + sealed), "down": 5 * 4 * (4 + sealed)}
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
    clients = [Client(u, X[u], quantizer, t, np.random.default_rng(u), OAKLEY_768)
               for u in range(3)]
    return X, clients, Server(t, dim, OAKLEY_768)


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
        run(args.pop("vectors"), args.pop("t"), args.pop("rng"), group=OAKLEY_768, **args)


def test_run_is_deterministic_given_the_seed(five_clients):
    a = run(five_clients, 3, np.random.default_rng(9), dropout={2}, group=OAKLEY_768,
            keep_messages=True)
    b = run(five_clients, 3, np.random.default_rng(9), dropout={2}, group=OAKLEY_768,
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


def test_uniformity_chi_square_equals_a_naive_bin_count(rng):
    words = rng.integers(0, 2 ** 32, 1000, dtype=np.uint32)
    words[:50] = 0  # a lump in the first bin
    for bins in (2, 16, 256):
        counts = [0] * bins
        for w in words.tolist():
            counts[w * bins // 2 ** 32] += 1
        expected = len(words) / bins
        naive = sum((c - expected) ** 2 / expected for c in counts)
        assert sa.uniformity_chi_square(words, bins) == pytest.approx(naive, rel=1e-12)


def test_uniformity_chi_square_tells_masked_from_plain(rng):
    plain = np.zeros(4096, dtype=np.uint32)
    plain[:100] = 7
    masked = plain + rng.integers(0, 2 ** 32, plain.size, dtype=np.uint32)  # wraps mod 2^32
    assert sa.uniformity_chi_square(plain) == pytest.approx(15 * 4096)
    assert sa.uniformity_chi_square(masked) < 50
    for bad, match in ((plain.astype(np.int64), "uint32"), (plain[:0], "no words")):
        with pytest.raises(ValueError, match=match):
            sa.uniformity_chi_square(bad)
    with pytest.raises(ValueError, match="power of two"):
        sa.uniformity_chi_square(plain, bins=10)
