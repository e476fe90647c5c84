"""Paillier scheme: primes, keys, and the homomorphism on single ciphertexts."""

import random

import numpy as np
import pytest

from minigrad.privacy import randomness
from minigrad.privacy.paillier import generate_keypair, is_probable_prime, random_prime
from minigrad.privacy.secure_aggregation import FIELD_PRIME, MODP_2048


@pytest.fixture(scope="module")
def keys():
    """A 256-bit classroom key: fast, and big enough for every unpacked test."""
    return generate_keypair(256, rng=np.random.default_rng(11), insecure_demo=True)


# ---------------------------------------------------------------------------
# Miller-Rabin
# ---------------------------------------------------------------------------
KNOWN_PRIMES = [2, 3, 5, 7, 1999, 2003, 7919, 104729, 2 ** 31 - 1, 2 ** 61 - 1, 2 ** 89 - 1,
                2 ** 107 - 1, 2 ** 127 - 1, 2 ** 521 - 1]
CARMICHAEL = [561, 1105, 1729, 2465, 2821, 6601, 8911, 41041, 825265, 321197185, 5394826801,
              232250619601, 9746347772161]
STRONG_PSEUDOPRIMES_BASE_2 = [2047, 3277, 4033, 4681, 8321]


@pytest.mark.parametrize("p", KNOWN_PRIMES)
def test_known_primes_are_probable_primes(p):
    assert is_probable_prime(p, rng=random.Random(0))


@pytest.mark.parametrize("n", CARMICHAEL)
def test_carmichael_numbers_fool_fermat_but_not_miller_rabin(n):
    # Arrange: a Carmichael number passes Fermat's test for every base coprime to it
    assert pow(2, n - 1, n) == 1

    # Act / Assert
    assert not is_probable_prime(n, rng=random.Random(0))


@pytest.mark.parametrize("n", STRONG_PSEUDOPRIMES_BASE_2)
def test_strong_pseudoprimes_to_base_2_are_caught_by_the_other_bases(n):
    d, s = n - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    x = pow(2, d, n)
    assert x in (1, n - 1) or any(pow(x, 2 ** r, n) == n - 1 for r in range(s))  # base 2 fooled
    assert not is_probable_prime(n)


def test_a_carmichael_number_past_the_deterministic_range_is_rejected():
    # Arrange: Chernick's (6k+1)(12k+1)(18k+1) is a Carmichael number when all three are
    # prime; past 3.3e24 is_probable_prime uses random bases rather than fixed ones
    k = 10 ** 9
    while not all(is_probable_prime(f) for f in (6 * k + 1, 12 * k + 1, 18 * k + 1)):
        k += 1
    n = (6 * k + 1) * (12 * k + 1) * (18 * k + 1)
    assert n > 3.4e24 and pow(2, n - 1, n) == 1 and pow(7, n - 1, n) == 1

    # Act / Assert
    assert not is_probable_prime(n, rng=np.random.default_rng(0))
    assert not is_probable_prime(n, rng=random.Random(5))


def test_standard_group_primes_and_products_of_primes():
    assert is_probable_prime(MODP_2048.p, rounds=8)  # a safe prime: (p - 1) / 2 is prime too
    assert is_probable_prime((MODP_2048.p - 1) // 2, rounds=8)
    assert is_probable_prime(FIELD_PRIME)
    assert not is_probable_prime((2 ** 89 - 1) * (2 ** 127 - 1))
    assert not is_probable_prime(2 ** 128 + 1)  # the Fermat number F7 is composite
    assert [is_probable_prime(n) for n in (-7, 0, 1, 4, 2001)] == [False] * 5
    with pytest.raises(ValueError, match="rounds"):
        is_probable_prime(2 ** 127 - 1, rounds=0)


def test_random_prime_has_exactly_the_bits_asked_and_is_reproducible():
    p = random_prime(128, np.random.default_rng(3))

    assert p.bit_length() == 128 and p >> 126 == 0b11 and is_probable_prime(p)
    assert random_prime(128, np.random.default_rng(3)) == p
    assert random_prime(128, random.Random(3)) == random_prime(128, random.Random(3))


# ---------------------------------------------------------------------------
# keys and the raw scheme
# ---------------------------------------------------------------------------
def test_keygen_is_reproducible_from_a_seeded_source_and_n_has_the_bits_asked():
    pk1, sk1 = generate_keypair(128, rng=np.random.default_rng(5), insecure_demo=True)
    pk2, _ = generate_keypair(128, rng=np.random.default_rng(5), insecure_demo=True)
    pk3, _ = generate_keypair(128, rng=np.random.default_rng(6), insecure_demo=True)
    pk4, _ = generate_keypair(128, rng=random.Random(5), insecure_demo=True)

    assert pk1 == pk2 and pk1 != pk3
    assert pk4 == generate_keypair(128, rng=random.Random(5), insecure_demo=True)[0]
    assert pk1.bits == 128 and pk1.ciphertext_bytes == 32
    assert "p=" not in repr(sk1) and str(sk1._p) not in repr(sk1)


@pytest.mark.parametrize("bits, rng", [(63, 0), (100.0, 0), (101, 0), (128, None), (128, "0")])
def test_keygen_rejects_bad_sizes_and_implicit_randomness(bits, rng):
    with pytest.raises((ValueError, TypeError)):
        generate_keypair(bits, rng=rng, insecure_demo=True)


def test_encrypt_decrypt_round_trip_and_crt_equals_the_textbook_formula(keys, rng):
    pk, sk = keys
    messages = [0, 1, 2, pk.n - 1, pk.n // 2, 123456789]
    messages += [int(v) for v in rng.integers(1, 2 ** 62, 5)]

    for m in messages:
        c = pk.encrypt(m, rng)
        assert 0 < c < pk.n_square
        assert sk.decrypt(c) == sk.decrypt(c, crt=False) == m


def test_encryption_is_randomized(keys, rng):
    pk, sk = keys
    c1, c2 = pk.encrypt(42, rng), pk.encrypt(42, rng)

    assert c1 != c2 and sk.decrypt(c1) == sk.decrypt(c2) == 42


def test_ciphertext_product_adds_and_power_scales_mod_n(keys, rng):
    pk, sk = keys
    a, b = pk.n - 5, 17  # a + b wraps past n

    ca, cb = pk.encrypt(a, rng), pk.encrypt(b, rng)

    assert sk.decrypt(pk.add(ca, cb)) == (a + b) % pk.n == 12
    assert sk.decrypt(pk.mul(cb, 1000)) == 17000
    assert sk.decrypt(pk.mul(cb, -3)) == pk.n - 51  # -51 mod n
    assert sk.decrypt(pk.encrypt(-7, rng)) == pk.n - 7


def test_encrypt_needs_fresh_randomness(keys):
    with pytest.raises(TypeError, match="rng"):
        keys[0].encrypt(1)


# ---------------------------------------------------------------------------
# the random source every protocol draws its secrets from
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("source", [np.random.default_rng(0), random.Random(0)])
def test_random_bits_and_random_below_stay_in_range_and_reach_both_ends(source):
    draws = [randomness.random_bits(source, 3) for _ in range(400)]
    below = [randomness.random_below(source, 5) for _ in range(400)]

    assert set(draws) == set(range(8))
    assert set(below) == set(range(5))
    assert randomness.random_bits(source, 521).bit_length() <= 521


def test_random_bits_from_a_generator_is_the_top_bits_of_its_bytes():
    # 12 bits from 2 bytes: the first 12 of the 16 bits, big-endian
    expected = int.from_bytes(np.random.default_rng(3).bytes(2), "big") >> 4

    assert randomness.random_bits(np.random.default_rng(3), 12) == expected


@pytest.mark.parametrize("bad", [None, "0", 1.5, True])
def test_random_source_refuses_anything_but_a_generator_a_random_or_an_int(bad):
    assert isinstance(randomness.random_source(7, "f"), np.random.Generator)
    with pytest.raises(TypeError, match="^f: pass an explicit random source"):
        randomness.random_source(bad, "f")
