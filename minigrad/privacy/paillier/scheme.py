"""The Paillier scheme: primes, key generation, and encrypt / decrypt / add / scale one ciphertext.

Ciphertexts are Python ints in [0, n^2); plaintexts are ints mod n. Keys come from the
random source you pass (never an implicit one). A teaching implementation, not for
production: see docs/privacy.md for the scheme's formulas and what it does not defend.
"""

import math
import operator
import random

import numpy as np

from ..randomness import random_below, random_bits, random_source

__all__ = [
    "SECURE_BITS",
    "SMALL_PRIMES",
    "is_probable_prime",
    "random_prime",
    "generate_keypair",
    "PublicKey",
    "PrivateKey",
    "NoisePool",
]


# The smallest modulus refused no one: NIST SP 800-57 puts 2048-bit factoring-based keys at
# 112-bit strength. Smaller keys need ``insecure_demo=True``, said where the key is made.
SECURE_BITS = 2048


def _check_key_bits(bits, insecure_demo, who):
    if bits < SECURE_BITS and not insecure_demo:
        raise ValueError(f"{who}: a {bits}-bit modulus can be factored, which decrypts "
                         f"everything; use {SECURE_BITS} bits or more, or pass "
                         f"insecure_demo=True to say this key is for a demonstration only")


# ---------------------------------------------------------------------------
# primes
# ---------------------------------------------------------------------------
def _primes_below(limit):
    sieve = np.ones(limit, dtype=bool)
    sieve[:2] = False
    for i in range(2, math.isqrt(limit - 1) + 1):
        if sieve[i]:
            sieve[i * i::i] = False
    return tuple(int(p) for p in np.flatnonzero(sieve))


SMALL_PRIMES = _primes_below(2000)
_SMALL_PRODUCT = math.prod(SMALL_PRIMES)
# Below this bound the 13 bases 2, 3, ..., 41 make Miller-Rabin exact (Sorenson & Webster 2015).
_DETERMINISTIC_LIMIT = 3_317_044_064_679_887_385_961_981
_DETERMINISTIC_BASES = SMALL_PRIMES[:13]


def _strong_probable_prime(n, a, d, s):
    """Miller-Rabin with base a: n - 1 = d 2^s, d odd. False means n is certainly composite."""
    x = pow(a, d, n)
    if x == 1 or x == n - 1:
        return True
    for _ in range(s - 1):
        x = x * x % n
        if x == n - 1:
            return True
    return False


def _miller_rabin(n, rounds, rng):
    s = ((n - 1) & -(n - 1)).bit_length() - 1
    d = (n - 1) >> s
    if n < _DETERMINISTIC_LIMIT:
        return all(_strong_probable_prime(n, a, d, s) for a in _DETERMINISTIC_BASES)
    if not _strong_probable_prime(n, 2, d, s):  # cheap first filter
        return False
    return all(_strong_probable_prime(n, 2 + random_below(rng, n - 3), d, s) for _ in range(rounds))


def is_probable_prime(n, rounds=40, rng=None):
    """Miller-Rabin: False means composite; True means prime, or a composite with probability
    at most 4**-rounds.

    Trial division by the primes below 2000 first. Below 3.3e24 the answer is exact
    (13 fixed bases); above, base 2 plus ``rounds`` bases drawn from ``rng`` (default
    ``random.SystemRandom()``: random bases, so no fixed composite fools every call).
    Carmichael numbers (561, 1105, ...) fool the Fermat test but not this one.
    """
    n = operator.index(n)
    if n < 2:
        return False
    for p in SMALL_PRIMES:
        if n % p == 0:
            return n == p
    if n < SMALL_PRIMES[-1] ** 2:
        return True  # no prime factor below sqrt(n)
    if rounds < 1:
        raise ValueError(f"is_probable_prime: rounds must be >= 1, got {rounds}")
    rng = random.SystemRandom() if rng is None else random_source(rng, "is_probable_prime")
    return _miller_rabin(n, rounds, rng)


def random_prime(bits, rng, rounds=40):
    """A random prime of exactly ``bits`` bits with its top two bits set, drawn from ``rng``.

    Top two bits set: the product of two such primes has exactly 2 * bits bits.
    """
    if bits < 16:
        raise ValueError(f"random_prime: bits must be >= 16, got {bits}")
    rng = random_source(rng, "random_prime")
    top = 3 << (bits - 2)
    while True:
        candidate = random_bits(rng, bits) | top | 1
        if math.gcd(candidate, _SMALL_PRODUCT) != 1:  # trial division in one gcd
            continue
        if _miller_rabin(candidate, rounds, rng):
            return candidate


# ---------------------------------------------------------------------------
# keys
# ---------------------------------------------------------------------------
class PublicKey:
    """The modulus n; encrypts, adds and scales ciphertexts (Python ints in [0, n^2)).

    n must be at least ``SECURE_BITS`` (2048) bits, or ``insecure_demo=True``; in any case
    at least 64 bits, with no prime factor below 2000, not prime and not a square (what
    can be checked of "a product of two large distinct primes" without factoring n).
    """

    __slots__ = ("n", "n_square", "bits", "ciphertext_bytes")

    def __init__(self, n, *, insecure_demo=False):
        n = operator.index(n)
        if n.bit_length() < 64 or math.gcd(n, _SMALL_PRODUCT) != 1 \
                or math.isqrt(n) ** 2 == n or is_probable_prime(n):
            raise ValueError(f"PublicKey: n must be a product of two distinct large primes "
                             f"(>= 64 bits, no factor below 2000, not prime, not a square), "
                             f"got a {n.bit_length()}-bit n that is not")
        _check_key_bits(n.bit_length(), insecure_demo, "PublicKey")
        self.n = n
        self.n_square = n * n
        self.bits = n.bit_length()
        self.ciphertext_bytes = (self.n_square.bit_length() + 7) // 8

    @property
    def g(self):
        """The generator n + 1: g^m = 1 + m n mod n^2, so no exponentiation is needed."""
        return self.n + 1

    def random_factors(self, count, rng):
        """``count`` fresh noise factors r^n mod n^2, r uniform in Z_n^*: the costly half."""
        rng = random_source(rng, "random_factors")
        n, n_square = self.n, self.n_square
        return [pow(r, n, n_square) for r in _units_below(n, count, rng)]

    def encrypt(self, m, rng=None, *, noise_factor=None):
        """E(m) for an integer m (negative m is taken mod n); fresh randomness from ``rng``."""
        if noise_factor is None:
            if rng is None:
                raise TypeError("encrypt: pass rng (fresh randomness) or a noise_factor")
            noise_factor = self.random_factors(1, rng)[0]
        return (1 + (operator.index(m) % self.n) * self.n) * noise_factor % self.n_square

    def add(self, c1, c2):
        """E(a), E(b) -> E(a + b)."""
        return c1 * c2 % self.n_square

    def mul(self, c, k):
        """E(a), integer k -> E(k a); negative k uses the inverse of c mod n^2."""
        return pow(c, operator.index(k), self.n_square)

    def __eq__(self, other):
        return isinstance(other, PublicKey) and other.n == self.n

    def __hash__(self):
        return hash(self.n)

    def __repr__(self):
        return f"PublicKey({self.bits}-bit n, {self.ciphertext_bytes}-byte ciphertexts)"


def _units_below(n, count, rng):
    """``count`` uniform integers in [1, n) coprime to n, drawn in one batch from ``rng``."""
    bits = n.bit_length() + 64  # reduce 64 extra bits mod n - 1: bias below 2**-64
    num_bytes = (bits + 7) // 8
    if isinstance(rng, random.Random):
        raw = [rng.getrandbits(bits) for _ in range(count)]
    else:
        buf = rng.bytes(num_bytes * count)
        raw = [int.from_bytes(buf[i:i + num_bytes], "big") for i in range(0, len(buf), num_bytes)]
    units = [1 + x % (n - 1) for x in raw]
    for i, r in enumerate(units):
        while math.gcd(r, n) != 1:  # a factor of n: astronomically unlikely, never accepted
            r = 1 + random_bits(rng, bits) % (n - 1)
        units[i] = r
    return units


class PrivateKey:
    """The primes p, q; decrypts with the Chinese remainder theorem (about 3x faster).

    ``decrypt(c, crt=False)`` is the textbook formula m = L(c^lam mod n^2) mu mod n,
    kept as the reference the CRT path is tested against.
    """

    __slots__ = ("public_key", "_p", "_q", "_p_square", "_q_square", "_hp", "_hq", "_q_inv",
                 "_lam", "_mu")

    def __init__(self, public_key, p, q):
        p, q = operator.index(p), operator.index(q)
        if p * q != public_key.n or p == q:
            raise ValueError("PrivateKey: p and q must be distinct and multiply to the "
                             "public key's n")
        self.public_key = public_key
        self._p, self._q = p, q
        self._p_square, self._q_square = p * p, q * q
        self._hp = self._h(p, self._p_square)
        self._hq = self._h(q, self._q_square)
        self._q_inv = pow(q, -1, p)
        self._lam = math.lcm(p - 1, q - 1)
        n = public_key.n
        self._mu = pow((pow(public_key.g, self._lam, public_key.n_square) - 1) // n, -1, n)

    def _h(self, prime, prime_square):
        # h = L_p(g^(p-1) mod p^2)^-1 mod p, with L_p(x) = (x - 1) / p
        g_part = pow(self.public_key.g, prime - 1, prime_square)
        return pow((g_part - 1) // prime, -1, prime)

    def decrypt(self, c, crt=True):
        """The plaintext of ciphertext c, an integer in [0, n)."""
        if not crt:
            pk = self.public_key
            return (pow(c, self._lam, pk.n_square) - 1) // pk.n * self._mu % pk.n
        p, q = self._p, self._q
        mp = (pow(c % self._p_square, p - 1, self._p_square) - 1) // p * self._hp % p
        mq = (pow(c % self._q_square, q - 1, self._q_square) - 1) // q * self._hq % q
        return mq + (mp - mq) * self._q_inv % p * q

    def decrypt_array(self, encrypted, min_contributors=1, dtype=None):
        """An ``EncryptedArray`` -> ndarray of its shape, in ``dtype`` (default: the dtype
        that was encrypted; float64 for integer input).

        Refuses (ValueError) an array summed from fewer than ``min_contributors``
        encryptions; raises OverflowError if a plaintext lies outside the bound the
        array carried (only possible if its ciphertexts were changed behind its back).
        """
        if encrypted.public_key != self.public_key:
            raise ValueError("decrypt_array: the array was encrypted under another public key")
        if encrypted.contributors < min_contributors:
            raise ValueError(
                f"decrypt_array: this array sums {encrypted.contributors} encryption(s), fewer "
                f"than min_contributors={min_contributors}; decrypting it would show the key "
                f"holder one client's values")
        return encrypted.decode([self.decrypt(c) for c in encrypted.ciphertexts], dtype)

    def __repr__(self):
        return f"PrivateKey(for {self.public_key!r})"  # never print the primes


def generate_keypair(bits=2048, rng=None, rounds=40, *, insecure_demo=False):
    """(PublicKey, PrivateKey) with an n of exactly ``bits`` bits, from ``rng``.

    ``bits`` below 2048 (``SECURE_BITS``) needs ``insecure_demo=True``: such a key is
    fast enough for a classroom and can be factored.
    ``rng``: np.random.default_rng(seed) or random.Random(seed) for reproducible keys
    (teaching), random.SystemRandom() for OS entropy (still not production code).
    Cost: two random primes of bits/2 bits, each a few hundred Miller-Rabin trials.
    """
    bits = operator.index(bits)
    if bits < 64 or bits % 2:
        raise ValueError(f"generate_keypair: bits must be an even number >= 64, got {bits} "
                         f"(2048 or more for real secrecy; 512 is a classroom size)")
    _check_key_bits(bits, insecure_demo, "generate_keypair")
    rng = random_source(rng, "generate_keypair")
    while True:
        p = random_prime(bits // 2, rng, rounds)
        q = random_prime(bits // 2, rng, rounds)
        n = p * q
        if p != q and n.bit_length() == bits and math.gcd(n, (p - 1) * (q - 1)) == 1:
            public_key = PublicKey(n, insecure_demo=insecure_demo)
            return public_key, PrivateKey(public_key, p, q)


class NoisePool:
    """Noise factors r^n mod n^2 computed ahead of time: encryption then costs one multiply.

    The exponentiation r^n does not depend on the message, so a client can do it while
    idle (offline) and encrypt its update the moment it is ready (online). Each factor is
    used once and then discarded: two ciphertexts sharing r leak the difference of their
    plaintexts, since c1 / c2 = (1 + n)^(m1 - m2) mod n^2.
    """

    def __init__(self, public_key, count, rng):
        self.public_key = public_key
        self._factors = public_key.random_factors(int(count), rng)

    def __len__(self):
        return len(self._factors)

    def take(self, count):
        """Remove and return ``count`` factors; ValueError if fewer are left."""
        if count > len(self._factors):
            raise ValueError(f"NoisePool: {count} noise factors needed but {len(self._factors)} "
                             f"left; each may be used only once, so make a bigger pool")
        taken, self._factors = self._factors[:count], self._factors[count:]
        return taken
