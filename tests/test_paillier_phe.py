"""Interoperability with `phe` (python-paillier, the library Grokking Deep Learning uses):
the same keys decrypt each other's ciphertexts, sums mix, and minigrad's unpacked fixed
point at 28 fractional bits is phe's base-16 encoding at exponent -7. Test-only dependency.
"""

import numpy as np
import pytest

from minigrad.privacy import paillier
from minigrad.privacy.paillier.scheme import random_prime

phe = pytest.importorskip("phe", reason="phe is not installed (pip install phe)")


@pytest.fixture(scope="module")
def keys():
    rng = np.random.default_rng(7)
    p = random_prime(256, rng)
    q = random_prime(256, rng)
    while q == p:
        q = random_prime(256, rng)
    ours_public = paillier.PublicKey(p * q, insecure_demo=True)  # 512 bits: a test size
    ours_private = paillier.PrivateKey(ours_public, p, q)
    theirs_public = phe.PaillierPublicKey(p * q)
    theirs_private = phe.PaillierPrivateKey(theirs_public, p, q)
    return ours_public, ours_private, theirs_public, theirs_private


def test_same_scheme_same_generator(keys):
    ours_public, _, theirs_public, _ = keys
    assert theirs_public.n == ours_public.n and theirs_public.nsquare == ours_public.n_square
    assert theirs_public.g == ours_public.g == ours_public.n + 1


@pytest.mark.parametrize("m", [0, 1, 3, 123456789, -5, -(2 ** 100)])
def test_each_decrypts_the_others_ciphertexts(keys, m):
    ours_public, ours_private, theirs_public, theirs_private = keys
    rng = np.random.default_rng(abs(m) % 1000)
    c_ours = ours_public.encrypt(m, rng)
    # phe reads an integer above its max_int (n // 3) as negative, minigrad stores m mod n
    assert theirs_private.decrypt(phe.EncryptedNumber(theirs_public, c_ours, exponent=0)) == m
    c_theirs = theirs_public.encrypt(m).ciphertext(be_secure=True)
    assert ours_private.decrypt(c_theirs) == m % ours_public.n


def test_sums_mix_and_both_decrypt_the_same(keys):
    ours_public, ours_private, theirs_public, theirs_private = keys
    rng = np.random.default_rng(3)
    values = [17, -4, 2 ** 64, 999]
    mixed = ours_public.encrypt(values[0], rng)
    for i, v in enumerate(values[1:]):
        c = (ours_public.encrypt(v, rng) if i % 2
             else theirs_public.encrypt(v).ciphertext(be_secure=True))
        mixed = ours_public.add(mixed, c)
    mixed = ours_public.mul(mixed, 3)
    total = 3 * sum(values)
    assert ours_private.decrypt(mixed) == total % ours_public.n
    assert theirs_private.decrypt(phe.EncryptedNumber(theirs_public, mixed, exponent=0)) == total


def test_unpacked_fixed_point_is_phe_at_exponent_minus_7(keys):
    # 16^-7 = 2^-28: phe's encoding of a float at that exponent is round(x * 2^28), the
    # integer minigrad's Encoding(frac_bits=28, one value per ciphertext) encrypts
    ours_public, ours_private, theirs_public, theirs_private = keys
    x = np.array([0.5, -1.25, 3.0e-3, -7.0, 0.0, 2.0 ** -20])
    encoding = paillier.Encoding(frac_bits=28, max_abs=8.0)
    encrypted = paillier.encrypt_array(ours_public, x, np.random.default_rng(1), encoding=encoding)
    read = [theirs_private.decrypt(phe.EncryptedNumber(theirs_public, c, exponent=-7))
            for c in encrypted.ciphertexts]
    np.testing.assert_allclose(read, x, rtol=0, atol=2.0 ** -29)
    encoded = [phe.EncodedNumber.encode(theirs_public, float(v), precision=2.0 ** -28) for v in x]
    assert all(e.exponent == -7 for e in encoded)
    ciphertexts = [theirs_public.encrypt(e).ciphertext(be_secure=True) for e in encoded]
    back = ours_private.decrypt_array(paillier.EncryptedArray(
        ours_public, ciphertexts, x.shape, np.float64, encoding, encoding.frac_bits,
        encoding.level))
    np.testing.assert_allclose(back, x, rtol=0, atol=2.0 ** -29)
