"""Secure-aggregation primitives: Diffie-Hellman, Shamir, fixed point, masks, sealing."""

import itertools
import math

import numpy as np
import pytest

from minigrad.privacy import secure_aggregation as sa
from minigrad.privacy.paillier import is_probable_prime
from minigrad.privacy.secure_aggregation import (
    MODP_2048,
    DHGroup,
    Quantizer,
    ThresholdError,
    lagrange_coefficients,
    open_sealed,
    pairwise_mask,
    reconstruct_secret,
    seal,
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
# masks and sealing
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


def test_sealed_shares_open_only_for_their_direction_and_key(rng):
    # Arrange: clients 1 and 2 agree a channel secret; 1 seals a message to 2
    (a_secret, a_public), (b_secret, b_public) = OAKLEY_768.keypair(rng), OAKLEY_768.keypair(rng)
    shared = OAKLEY_768.agree(a_secret, b_public)
    message = b"\x00" * 8 + bytes(range(132))

    # Act
    sealed = seal(shared, 1, 2, message, OAKLEY_768)

    # Assert: 32-byte tag, no plaintext visible; opens for (1 -> 2) only
    assert len(sealed) == len(message) + 32 and sealed[:len(message)] != message
    assert open_sealed(OAKLEY_768.agree(b_secret, a_public), 1, 2, sealed, OAKLEY_768) == message
    for args in ((shared, 2, 1), (shared + 1, 1, 2)):
        with pytest.raises(ValueError, match="authentication"):
            open_sealed(*args, sealed, OAKLEY_768)
