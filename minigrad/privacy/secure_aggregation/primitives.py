"""Secure-aggregation primitives: DH key agreement, Shamir sharing, fixed point, masks, sealing.

Integers are Python ints; masks and quantized vectors are uint32 arrays (arithmetic mod
2^32). Secrets come from the ``np.random.Generator`` you pass. The choice of each
primitive and what it stands in for: docs/privacy.md.
"""

import hashlib
import hmac
from dataclasses import dataclass

import numpy as np

from ..randomness import random_below, random_bits

__all__ = [
    "MODP_2048",
    "FIELD_PRIME",
    "SHARE_BYTES",
    "ID_BYTES",
    "DHGroup",
    "ThresholdError",
    "share_secret",
    "lagrange_coefficients",
    "reconstruct_secret",
    "Quantizer",
    "expand_mask",
    "pairwise_mask",
    "id_pair",
    "pair_mask_key",
    "self_mask_key",
    "COMMITMENT_BYTES",
    "commit_seed",
    "SECURE_GROUP_BITS",
    "check_group",
    "seal",
    "open_sealed",
]

ID_BYTES = 4  # a client id on the wire


# ---------------------------------------------------------------------------
# Diffie-Hellman over a standard group
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class DHGroup:
    """A safe-prime MODP group: prime p, generator g, secret exponents of ``exponent_bits``."""

    name: str
    p: int
    g: int
    exponent_bits: int

    @property
    def byte_length(self):
        return (self.p.bit_length() + 7) // 8

    def keypair(self, rng):
        """(secret exponent, public key g^secret mod p), the secret from ``rng``."""
        secret = 2 + random_bits(rng, self.exponent_bits)
        return secret, pow(self.g, secret, self.p)

    def agree(self, secret, peer_public):
        """The shared secret peer_public^secret mod p (the peer key checked to be in range)."""
        if not 1 < peer_public < self.p - 1:
            raise ValueError(f"{self.name}: a peer's public key must lie in (1, p - 1); "
                             f"0, 1 and p - 1 would make the shared secret guessable")
        return pow(peer_public, secret, self.p)

    def encode(self, value):
        return value.to_bytes(self.byte_length, "big")

    def decode(self, data):
        return int.from_bytes(data, "big")


# RFC 3526, section 3: the 2048-bit MODP group (id 14), generator 2. Its prime is
# 2^2048 - 2^1984 - 1 + 2^64 * ([2^1918 pi] + 124476), a safe prime; RFC 3526 estimates
# its strength at 110-160 bits and suggests secret exponents of 220-320 bits.
_MODP_2048_HEX = """
    FFFFFFFF FFFFFFFF C90FDAA2 2168C234 C4C6628B 80DC1CD1
    29024E08 8A67CC74 020BBEA6 3B139B22 514A0879 8E3404DD
    EF9519B3 CD3A431B 302B0A6D F25F1437 4FE1356D 6D51C245
    E485B576 625E7EC6 F44C42E9 A637ED6B 0BFF5CB6 F406B7ED
    EE386BFB 5A899FA5 AE9F2411 7C4B1FE6 49286651 ECE45B3D
    C2007CB8 A163BF05 98DA4836 1C55D39A 69163FA8 FD24CF5F
    83655D23 DCA3AD96 1C62F356 208552BB 9ED52907 7096966D
    670C354E 4ABC9804 F1746C08 CA18217C 32905E46 2E36CE3B
    E39E772C 180E8603 9B2783A2 EC07A28F B5C55DF0 6F4C52C9
    DE2BCBF6 95581718 3995497C EA956AE5 15D22618 98FA0510
    15728E5A 8AACAA68 FFFFFFFF FFFFFFFF
"""
MODP_2048 = DHGroup("RFC 3526 2048-bit MODP group 14", int("".join(_MODP_2048_HEX.split()), 16),
                    2, 256)


# ---------------------------------------------------------------------------
# Shamir secret sharing over a prime field
# ---------------------------------------------------------------------------
FIELD_PRIME = 2 ** 521 - 1  # a Mersenne prime; holds a 256-bit DH exponent or seed
SHARE_BYTES = (FIELD_PRIME.bit_length() + 7) // 8  # 66


class ThresholdError(ValueError):
    """Fewer than t clients (or shares) where the protocol needs t."""


def share_secret(secret, t, xs, rng, prime=FIELD_PRIME):
    """Shamir t-of-n: [(x, f(x)) for x in xs], f a random polynomial of degree t - 1, f(0) = secret.

    xs: distinct points in [1, prime) (client u holds x = u + 1); any t of the shares
    determine the secret, any t - 1 are consistent with every secret equally often.
    """
    xs = [int(x) for x in xs]
    if not 0 <= secret < prime:
        raise ValueError(f"share_secret: the secret must lie in [0, prime), got {secret}")
    if not 1 <= t <= len(xs):
        raise ValueError(f"share_secret: need 1 <= t <= number of points, got t={t} "
                         f"for {len(xs)} points")
    if len(set(xs)) != len(xs) or not all(0 < x < prime for x in xs):
        raise ValueError("share_secret: the points must be distinct and in [1, prime); "
                         "x = 0 would hand out the secret itself")
    coefficients = [secret] + [random_below(rng, prime) for _ in range(t - 1)]
    shares = []
    for x in xs:
        y = 0
        for a in reversed(coefficients):  # Horner
            y = (y * x + a) % prime
        shares.append((x, y))
    return shares


def lagrange_coefficients(xs, prime=FIELD_PRIME):
    """The weights lam_i with f(0) = sum_i lam_i f(x_i) for any f of degree < len(xs)."""
    xs = [int(x) for x in xs]
    if len(set(x % prime for x in xs)) != len(xs):
        raise ValueError("lagrange_coefficients: the points must be distinct mod prime")
    out = []
    for i, xi in enumerate(xs):
        num, den = 1, 1
        for j, xj in enumerate(xs):
            if j != i:
                num = num * xj % prime
                den = den * (xj - xi) % prime
        out.append(num * pow(den, -1, prime) % prime)
    return out


def reconstruct_secret(shares, t, prime=FIELD_PRIME):
    """The secret from >= t shares [(x, y), ...] (uses the first t); ThresholdError if fewer."""
    shares = list(shares)
    if len(shares) < t:
        raise ThresholdError(f"reconstruct_secret: {len(shares)} share(s) given, t={t} needed; "
                             f"fewer than t shares say nothing about the secret")
    shares = shares[:t]
    weights = lagrange_coefficients([x for x, _ in shares], prime)
    return sum(w * y for w, (_, y) in zip(weights, shares, strict=True)) % prime


# ---------------------------------------------------------------------------
# fixed point in Z_{2^32}
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Quantizer:
    """Floats <-> integers mod 2^32 such that a sum of up to ``num_clients`` never wraps.

    quantize: clip to [-clip, clip], round to an integer in [-L, L], store mod 2^32
    (two's complement), L = floor((2^31 - 1) / num_clients), scale = L / clip.
    dequantize_sum: read the uint32 sum as int32, divide by scale. Error of a sum of
    m entries against the sum of the clipped values: at most m / (2 scale).
    """

    clip: float
    num_clients: int

    def __post_init__(self):
        if not (np.isfinite(self.clip) and self.clip > 0):
            raise ValueError(f"Quantizer: clip must be a finite number > 0, got {self.clip}")
        if not 1 <= self.num_clients <= 2 ** 31 - 1:
            raise ValueError(f"Quantizer: num_clients must be in [1, 2^31 - 1], "
                             f"got {self.num_clients}")

    @property
    def level(self):
        """L: the largest |integer| one client's entry can become."""
        return (2 ** 31 - 1) // self.num_clients

    @property
    def scale(self):
        return self.level / self.clip

    def quantize(self, x):
        """float array -> uint32 array of the same shape."""
        x = np.asarray(x, dtype=np.float64)
        if x.size and not np.isfinite(x).all():
            raise ValueError("Quantizer: values must be finite; the vector holds inf or nan")
        q = np.rint(np.clip(x, -self.clip, self.clip) * self.scale).astype(np.int64)
        q = np.clip(q, -self.level, self.level)  # float rounding can never push past L
        return (q & 0xFFFFFFFF).astype(np.uint32)

    def dequantize_sum(self, total):
        """uint32 sum -> float64 (the int32 reading divided by scale)."""
        total = np.ascontiguousarray(total, dtype=np.uint32)
        return total.view(np.int32).astype(np.float64) / self.scale

    def error_bound(self, num_summed):
        """Max |dequantized sum - sum of clipped inputs| for ``num_summed`` clients (exact in
        integers; computing either side in float64 adds rounding of order 1e-16 |sum|)."""
        return num_summed * 0.5 / self.scale


# ---------------------------------------------------------------------------
# masks
# ---------------------------------------------------------------------------
def expand_mask(key, dim):
    """PRG: a 32-byte key -> ``dim`` uniform uint32 (SHAKE-256 output, little-endian words)."""
    return np.frombuffer(hashlib.shake_256(key).digest(4 * dim), dtype="<u4").astype(np.uint32)


def pairwise_mask(u, v, key, dim):
    """The mask client u adds for peer v: +PRG(key) if u < v, -PRG(key) mod 2^32 if u > v.

    masks[u][v] + masks[v][u] = 0 mod 2^32, so all pairwise masks cancel in the sum.
    """
    mask = expand_mask(key, dim)
    return mask if u < v else np.negative(mask)  # unsigned negation wraps mod 2^32


def id_pair(a, b):
    """Client ids a, b as 2 * ID_BYTES big-endian bytes: binds a key or a message to its pair."""
    return a.to_bytes(ID_BYTES, "big") + b.to_bytes(ID_BYTES, "big")


def pair_mask_key(shared, u, v, group):
    """Seed of the pairwise mask of {u, v}, from their agreed DH secret."""
    lo, hi = min(u, v), max(u, v)
    return hashlib.sha256(b"minigrad secagg pairwise mask" + id_pair(lo, hi)
                          + group.encode(shared)).digest()


def self_mask_key(seed):
    """Seed of a client's self-mask, from its secret b (an int below FIELD_PRIME)."""
    return hashlib.sha256(b"minigrad secagg self mask" + seed.to_bytes(SHARE_BYTES, "big")).digest()


COMMITMENT_BYTES = 32


def commit_seed(u, seed):
    """Client u's commitment to its self-mask seed b: SHA-256 over its id and b (32 bytes).

    b is 256 uniform bits, so the hash hides it; SHA-256 binds it: the server checks the b
    it rebuilds from the survivors' shares against this, so a wrong share cannot slip in.
    """
    return hashlib.sha256(b"minigrad secagg self mask commitment" + u.to_bytes(ID_BYTES, "big")
                          + seed.to_bytes(SHARE_BYTES, "big")).digest()


SECURE_GROUP_BITS = 2048  # RFC 3526 / NIST SP 800-57: 2048-bit MODP for 112-bit strength


def check_group(group, insecure_demo, who):
    """ValueError for a DH group below 2048 bits unless ``insecure_demo``."""
    if not isinstance(group, DHGroup):
        raise TypeError(f"{who}: group must be a DHGroup, got {type(group).__name__}")
    if group.p.bit_length() < SECURE_GROUP_BITS and not insecure_demo:
        raise ValueError(f"{who}: the {group.p.bit_length()}-bit group {group.name!r} is "
                         f"too small to keep the masks' keys secret; use MODP_2048, or pass "
                         f"insecure_demo=True to say this run is a demonstration only")


# ---------------------------------------------------------------------------
# sealing: the shares travel through the server, which must not read them
# ---------------------------------------------------------------------------
def _channel_keys(shared, sender, receiver, group):
    base = hashlib.sha256(b"minigrad secagg channel" + group.encode(shared)).digest()
    header = id_pair(sender, receiver)  # one key per direction: u -> v differs from v -> u
    return (hashlib.sha256(base + b"encrypt" + header).digest(),
            hashlib.sha256(base + b"mac" + header).digest())


def seal(shared, sender, receiver, plaintext, group):
    """Encrypt-then-MAC with a SHAKE-256 keystream and an HMAC-SHA256 tag (32 bytes)."""
    enc_key, mac_key = _channel_keys(shared, sender, receiver, group)
    stream = hashlib.shake_256(enc_key).digest(len(plaintext))
    body = (int.from_bytes(plaintext, "big") ^ int.from_bytes(stream, "big")).to_bytes(
        len(plaintext), "big")
    return body + hmac.new(mac_key, id_pair(sender, receiver) + body, "sha256").digest()


def open_sealed(shared, sender, receiver, sealed, group):
    """The plaintext of ``seal``'s output; ValueError if the tag does not verify."""
    enc_key, mac_key = _channel_keys(shared, sender, receiver, group)
    body, tag = sealed[:-32], sealed[-32:]
    expected = hmac.new(mac_key, id_pair(sender, receiver) + body, "sha256").digest()
    if not hmac.compare_digest(tag, expected):
        raise ValueError(f"secure aggregation: the shares from client {sender} to client "
                         f"{receiver} fail their authentication tag (altered in transit)")
    stream = hashlib.shake_256(enc_key).digest(len(body))
    return (int.from_bytes(body, "big") ^ int.from_bytes(stream, "big")).to_bytes(len(body), "big")
