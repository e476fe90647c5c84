"""Secure aggregation by pairwise masking (Bonawitz et al., CCS 2017), simulated round by round.

The server learns the sum of the clients' vectors and nothing else about any one of
them, even when clients drop out mid-protocol. Every pair of clients u < v agrees
on a seed by Diffie-Hellman; u adds the mask PRG(s_uv), v subtracts it, so in the sum
every pairwise mask cancels. Each client also adds a self-mask PRG(b_u). Both the
DH secret key of the pairwise masks and the self-mask seed b_u are Shamir-shared
t-of-n among the clients, so after dropouts the server can ask the survivors for

    for a client that dropped before sending its input: shares of its DH key
        (the server rebuilds its pairwise masks and removes them from the others' inputs)
    for a client whose input arrived: shares of its self-mask seed b_u

and never both for one client (that would unmask its input). The rounds, each an
explicit ``Message`` whose bytes are counted:

    0 advertise_keys  client -> server: two DH public keys (c for channels, s for masks)
                      server -> clients: every advertised key pair
    1 share_keys      client -> server: for every peer v, Enc_{c_uv}(u, v, share of s_u^SK,
                      share of b_u), which the server only forwards
    2 masked_input    client -> server: y_u = x_u + PRG(b_u) + sum_v +-PRG(s_uv)  mod 2^32
                      server -> clients: who survived and who dropped
    3 unmasking       client -> server: shares of b_u (survivors) or of s_u^SK (dropped)

Inputs are fixed point in Z_{2^32} (``Quantizer``): each entry is clipped to
[-clip, clip] and rounded to an integer in [-L, L], L = floor((2^31 - 1) / num_clients),
so the sum of up to num_clients of them never wraps, reads back exactly as an int32,
and lies within num_summed / (2 scale) of the clipped inputs' sum (scale = L / clip).

Primitives: Diffie-Hellman over the 2048-bit MODP group of RFC 3526 (group 14) with
256-bit secret exponents; SHAKE-256 as the mask PRG (a cryptographic XOF, expanded in
C straight into uint32); Shamir sharing over the prime field of the Mersenne prime
2^521 - 1; shares travel under SHAKE-256-keystream encryption with an HMAC-SHA256 tag
(the paper uses authenticated encryption; this is the same idea from hashlib). This is
the honest-but-curious protocol; the paper's round for actively malicious servers
(signatures and a consistency check) is left out. A teaching implementation: not
constant-time, random numbers from NumPy's (non-cryptographic) generator.

    result = run(vectors, t=3, rng=np.random.default_rng(0), dropout={2})
    result.sum            # float64: sum of the surviving clients' clipped vectors
    result.transcript.bytes_by_round()
"""

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "MODP_2048",
    "FIELD_PRIME",
    "DHGroup",
    "ThresholdError",
    "share_secret",
    "lagrange_coefficients",
    "reconstruct_secret",
    "Quantizer",
    "expand_mask",
    "pairwise_mask",
    "Message",
    "Transcript",
    "Client",
    "Server",
    "Result",
    "ROUNDS",
    "SERVER",
    "run",
    "uniformity_chi_square",
]

ROUNDS = ("advertise_keys", "share_keys", "masked_input", "unmasking")
SERVER = "server"
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
        secret = 2 + _random_int(rng, self.exponent_bits)
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


def _random_int(rng, bits):
    """A uniform integer in [0, 2**bits) from a np.random.Generator."""
    num_bytes = (bits + 7) // 8
    return int.from_bytes(rng.bytes(num_bytes), "big") >> (8 * num_bytes - bits)


def _random_below(rng, upper):
    bits = upper.bit_length()
    while True:
        x = _random_int(rng, bits)
        if x < upper:
            return x


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
    coefficients = [secret] + [_random_below(rng, prime) for _ in range(t - 1)]
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


def _ids(a, b):
    return a.to_bytes(ID_BYTES, "big") + b.to_bytes(ID_BYTES, "big")


def _pair_key(shared, u, v, group):
    """Seed of the pairwise mask of {u, v}, from their agreed DH secret."""
    lo, hi = min(u, v), max(u, v)
    return hashlib.sha256(b"minigrad secagg pairwise mask" + _ids(lo, hi)
                          + group.encode(shared)).digest()


def _self_key(seed):
    return hashlib.sha256(b"minigrad secagg self mask" + seed.to_bytes(SHARE_BYTES, "big")).digest()


def _channel_keys(shared, sender, receiver, group):
    base = hashlib.sha256(b"minigrad secagg channel" + group.encode(shared)).digest()
    header = _ids(sender, receiver)  # one key per direction: u -> v differs from v -> u
    return (hashlib.sha256(base + b"encrypt" + header).digest(),
            hashlib.sha256(base + b"mac" + header).digest())


def _seal(shared, sender, receiver, plaintext, group):
    """Encrypt-then-MAC with a SHAKE-256 keystream and an HMAC-SHA256 tag (32 bytes)."""
    enc_key, mac_key = _channel_keys(shared, sender, receiver, group)
    stream = hashlib.shake_256(enc_key).digest(len(plaintext))
    body = (int.from_bytes(plaintext, "big") ^ int.from_bytes(stream, "big")).to_bytes(
        len(plaintext), "big")
    return body + hmac.new(mac_key, _ids(sender, receiver) + body, "sha256").digest()


def _open(shared, sender, receiver, sealed, group):
    enc_key, mac_key = _channel_keys(shared, sender, receiver, group)
    body, tag = sealed[:-32], sealed[-32:]
    expected = hmac.new(mac_key, _ids(sender, receiver) + body, "sha256").digest()
    if not hmac.compare_digest(tag, expected):
        raise ValueError(f"secure aggregation: the shares from client {sender} to client "
                         f"{receiver} fail their authentication tag (altered in transit)")
    stream = hashlib.shake_256(enc_key).digest(len(body))
    return (int.from_bytes(body, "big") ^ int.from_bytes(stream, "big")).to_bytes(len(body), "big")


# ---------------------------------------------------------------------------
# messages
# ---------------------------------------------------------------------------
def _nbytes(value):
    if isinstance(value, bytes):
        return len(value)
    if isinstance(value, np.ndarray):
        return value.nbytes
    if isinstance(value, Mapping):  # client id keys cost ID_BYTES; field names are the schema
        return sum((ID_BYTES if isinstance(k, int) else 0) + _nbytes(v) for k, v in value.items())
    raise TypeError(f"Message: payload values must be bytes, ndarrays or mappings of them, "
                    f"got {type(value).__name__}")


@dataclass(frozen=True)
class Message:
    """One transmission of round ``round``: ``sender`` -> ``receiver`` (a client index or
    ``SERVER``). payload: {field: bytes | ndarray | {client id: bytes}}.

    nbytes: what a compact binary encoding carries: the bytes and arrays, plus 4 bytes
    per client id; field names are fixed by the protocol and cost nothing.
    """

    round: str
    sender: object
    receiver: object
    payload: dict

    @property
    def nbytes(self):
        return _nbytes(self.payload)


@dataclass
class Transcript:
    """Bytes and message counts per (round, direction); ``keep=True`` keeps every Message."""

    keep: bool = False
    bytes: dict = field(default_factory=dict)     # (round, "up" | "down") -> bytes
    messages: dict = field(default_factory=dict)  # (round, "up" | "down") -> count
    log: list = field(default_factory=list)

    def record(self, messages):
        """Count ``messages`` (a list, or a dict of them by receiver); return them unchanged."""
        for message in (messages.values() if isinstance(messages, Mapping) else messages):
            key = (message.round, "up" if message.receiver == SERVER else "down")
            self.bytes[key] = self.bytes.get(key, 0) + message.nbytes
            self.messages[key] = self.messages.get(key, 0) + 1
            if self.keep:
                self.log.append(message)
        return messages

    def bytes_by_round(self):
        """{round: {"up": bytes client -> server, "down": bytes server -> clients}}."""
        return {r: {d: self.bytes.get((r, d), 0) for d in ("up", "down")} for r in ROUNDS}

    @property
    def total_bytes(self):
        return sum(self.bytes.values())


def _check_threshold(count, t, round_name, what):
    if count < t:
        why = ("t shares are needed to recover each secret" if round_name == "unmasking" else
               "t is the fewest clients whose sum the protocol may reveal, and the fewest "
               "whose shares can unmask it")
        raise ThresholdError(
            f"secure aggregation, round {round_name!r}: only {count} client(s) {what}, fewer "
            f"than the threshold t={t}; the protocol aborts ({why})")


def _check_messages(messages, round_name, receiver):
    senders = set()
    for m in messages:
        if m.round != round_name or m.receiver != receiver:
            raise ValueError(f"expected {round_name!r} messages to {receiver}, got "
                             f"{m.round!r} from {m.sender} to {m.receiver}")
        if m.sender in senders:
            raise ValueError(f"round {round_name!r}: client {m.sender} sent twice")
        senders.add(m.sender)
    return senders


# ---------------------------------------------------------------------------
# the parties
# ---------------------------------------------------------------------------
class Client:
    """Client ``index`` (0-based; its Shamir point is index + 1) holding vector ``x``.

    x never leaves: the constructor quantizes it, and only the masked y is ever sent.
    Each method takes the server's message of the previous round and returns this
    client's message for the next.
    """

    def __init__(self, index, x, quantizer, t, rng, group=MODP_2048):
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 1:
            raise ValueError(f"Client {index}: x must be a 1-D vector, got shape {x.shape}")
        self.index, self.t, self.group = int(index), int(t), group
        self.dim = x.size
        self.num_clipped = int((np.abs(x) > quantizer.clip).sum())
        self._x = quantizer.quantize(x)
        self._rng = rng
        self._peers = None  # v -> (c_public, s_public)
        self._held = {}     # v -> (share of s_v^SK, share of b_v) that v gave this client
        self._channels = {}  # v -> DH secret agreed with v's c key (for the sealed shares)
        self._group2 = None

    def advertise_keys(self):
        """Round 0: two fresh DH key pairs; send the public halves."""
        self._c_secret, c_public = self.group.keypair(self._rng)
        self._s_secret, s_public = self.group.keypair(self._rng)
        self._public = (c_public, s_public)
        return Message("advertise_keys", self.index, SERVER,
                       {"c_public": self.group.encode(c_public),
                        "s_public": self.group.encode(s_public)})

    def share_keys(self, message):
        """Round 1: Shamir-share s^SK and a fresh self-mask seed b; encrypt a share pair to
        each peer under the channel key agreed with its c key."""
        keys = message.payload["public_keys"]
        _check_threshold(len(keys), self.t, "share_keys", "advertised keys")
        L = self.group.byte_length
        self._peers = {v: (self.group.decode(k[:L]), self.group.decode(k[L:]))
                       for v, k in keys.items()}
        if self._peers.get(self.index) != self._public:
            raise ValueError(f"client {self.index}: the server's key list misstates this "
                             f"client's own public keys")
        self._b = _random_int(self._rng, 256)
        order = sorted(self._peers)
        xs = [v + 1 for v in order]
        s_shares = share_secret(self._s_secret, self.t, xs, self._rng)
        b_shares = share_secret(self._b, self.t, xs, self._rng)
        ciphertexts = {}
        for v, (_, s_y), (_, b_y) in zip(order, s_shares, b_shares, strict=True):
            if v == self.index:
                self._held[v] = (s_y, b_y)
                continue
            plaintext = (_ids(self.index, v) + s_y.to_bytes(SHARE_BYTES, "big")
                         + b_y.to_bytes(SHARE_BYTES, "big"))
            self._channels[v] = self.group.agree(self._c_secret, self._peers[v][0])
            ciphertexts[v] = _seal(self._channels[v], self.index, v, plaintext, self.group)
        return Message("share_keys", self.index, SERVER, {"ciphertexts": ciphertexts})

    def masked_input(self, message):
        """Round 2: keep the peers' shares; send y = x + PRG(b) + sum_v +-PRG(s_uv) mod 2^32
        over the peers v that shared keys (this client's round-1 peers that the server
        forwarded)."""
        ciphertexts = message.payload["ciphertexts"]
        group2 = set(ciphertexts) | {self.index}
        _check_threshold(len(group2), self.t, "masked_input", "shared their keys")
        if not group2 <= set(self._channels) | {self.index}:
            raise ValueError(f"client {self.index}: shares arrived from clients that never "
                             f"advertised keys")
        for v, sealed in ciphertexts.items():
            plain = _open(self._channels[v], v, self.index, sealed, self.group)
            if plain[:2 * ID_BYTES] != _ids(v, self.index):
                raise ValueError(f"client {self.index}: the shares from {v} name another pair")
            body = plain[2 * ID_BYTES:]
            self._held[v] = (int.from_bytes(body[:SHARE_BYTES], "big"),
                             int.from_bytes(body[SHARE_BYTES:], "big"))
        self._group2 = group2
        y = self._x + expand_mask(_self_key(self._b), self.dim)
        for v in sorted(group2 - {self.index}):
            shared = self.group.agree(self._s_secret, self._peers[v][1])
            y += pairwise_mask(self.index, v, _pair_key(shared, self.index, v, self.group),
                               self.dim)
        return Message("masked_input", self.index, SERVER, {"y": y})

    def unmask(self, message):
        """Round 3: shares of b_v for survivors v, of s_v^SK for dropped v; never both."""
        survivors = set(message.payload["survivors"].tolist())
        dropped = set(message.payload["dropped"].tolist())
        if survivors & dropped:
            raise ValueError(f"client {self.index}: the server asks for both shares of clients "
                             f"{sorted(survivors & dropped)}, which would unmask their inputs")
        if survivors | dropped != self._group2 or self.index not in survivors:
            raise ValueError(f"client {self.index}: the unmasking request does not split the "
                             f"clients that shared keys into survivors and dropped")
        _check_threshold(len(survivors), self.t, "unmasking", "sent a masked input")
        return Message("unmasking", self.index, SERVER, {
            "b_shares": {v: self._held[v][1].to_bytes(SHARE_BYTES, "big")
                         for v in sorted(survivors)},
            "s_shares": {v: self._held[v][0].to_bytes(SHARE_BYTES, "big")
                         for v in sorted(dropped)},
        })


class Server:
    """Routes messages, sums masked inputs, and removes the masks it can recover.

    It sees only Messages: public keys, sealed shares it cannot open, masked vectors,
    and at the end t shares of exactly the secrets that unmask the sum.
    """

    def __init__(self, t, dim, group=MODP_2048):
        self.t, self.dim, self.group = int(t), int(dim), group
        self.survivors = ()  # the clients whose inputs are in the sum (U3)
        self.dropped = ()    # shared keys but sent no input (U2 minus U3)

    def collect_keys(self, messages):
        """Round 0 -> {client: Message}: every advertised key pair, to every advertiser."""
        senders = _check_messages(messages, "advertise_keys", SERVER)
        _check_threshold(len(senders), self.t, "advertise_keys", "advertised keys")
        self._keys = {m.sender: m.payload["c_public"] + m.payload["s_public"]
                      for m in sorted(messages, key=lambda m: m.sender)}
        L = self.group.byte_length
        self._s_public = {u: self.group.decode(k[L:]) for u, k in self._keys.items()}
        return {u: Message("advertise_keys", SERVER, u, {"public_keys": dict(self._keys)})
                for u in self._keys}

    def route_shares(self, messages):
        """Round 1 -> {client: Message}: each client's sealed shares from the others who sent."""
        senders = _check_messages(messages, "share_keys", SERVER)
        if not senders <= set(self._keys):
            raise ValueError("route_shares: shares from clients that advertised no keys")
        _check_threshold(len(senders), self.t, "share_keys", "shared their keys")
        self._group2 = sorted(senders)
        inbox = {v: {} for v in self._group2}
        for m in sorted(messages, key=lambda m: m.sender):
            for v, sealed in m.payload["ciphertexts"].items():
                if v in inbox:
                    inbox[v][m.sender] = sealed
        return {v: Message("share_keys", SERVER, v, {"ciphertexts": inbox[v]})
                for v in self._group2}

    def collect_masked_inputs(self, messages):
        """Round 2 -> {client: Message}: the survivor and dropped lists, to every survivor."""
        senders = _check_messages(messages, "masked_input", SERVER)
        if not senders <= set(self._group2):
            raise ValueError("collect_masked_inputs: input from clients that shared no keys")
        _check_threshold(len(senders), self.t, "masked_input", "sent a masked input")
        total = np.zeros(self.dim, dtype=np.uint32)
        for m in messages:
            y = m.payload["y"]
            if y.dtype != np.uint32 or y.shape != (self.dim,):
                raise ValueError(f"client {m.sender} sent y of shape {y.shape} and dtype "
                                 f"{y.dtype}; expected ({self.dim},) uint32")
            total += y  # wraps mod 2^32
        self._total = total
        self.survivors = tuple(sorted(senders))
        self.dropped = tuple(v for v in self._group2 if v not in senders)
        payload = {"survivors": np.array(self.survivors, dtype=np.int32),
                   "dropped": np.array(self.dropped, dtype=np.int32)}
        return {u: Message("masked_input", SERVER, u, payload) for u in self.survivors}

    def unmask(self, messages):
        """Round 3 -> uint32 sum of the survivors' quantized inputs (exact mod 2^32)."""
        senders = _check_messages(messages, "unmasking", SERVER)
        if not senders <= set(self.survivors):
            raise ValueError("unmask: shares from clients whose input is not in the sum")
        _check_threshold(len(senders), self.t, "unmasking", "answered the unmasking round")
        responders = sorted(messages, key=lambda m: m.sender)[:self.t]
        weights = lagrange_coefficients([m.sender + 1 for m in responders])

        def recover(field_name, v):
            shares = [int.from_bytes(m.payload[field_name][v], "big") for m in responders]
            return sum(w * y for w, y in zip(weights, shares, strict=True)) % FIELD_PRIME

        total = self._total.copy()
        group = self.group
        for v in self.dropped:
            secret = recover("s_shares", v)
            if pow(group.g, secret, group.p) != self._s_public[v]:
                raise ValueError(f"unmask: the key recovered for dropped client {v} does not "
                                 f"match its advertised public key (a share is wrong)")
            for u in self.survivors:  # remove the mask u added for v
                shared = group.agree(secret, self._s_public[u])
                total -= pairwise_mask(u, v, _pair_key(shared, u, v, group), self.dim)
        for u in self.survivors:
            total -= expand_mask(_self_key(recover("b_shares", u)), self.dim)
        return total


# ---------------------------------------------------------------------------
# the simulation driver
# ---------------------------------------------------------------------------
@dataclass
class Result:
    """What ``run`` returns.

    sum: float64 (dim,), the dequantized sum of the survivors' clipped vectors;
    sum_quantized: uint32 (dim,), that sum exactly in Z_{2^32}; survivors: indices of the
    clients whose inputs are in it; dropped: {round: indices that dropped in it};
    error_bound: max |sum - sum of the survivors' clipped vectors|; num_clipped:
    entries the survivors clipped (a simulation diagnostic, never sent).
    """

    sum: np.ndarray
    sum_quantized: np.ndarray
    survivors: tuple
    dropped: dict
    quantizer: Quantizer
    error_bound: float
    num_clipped: int
    transcript: Transcript


def _dropout_by_round(dropout, num_clients):
    if isinstance(dropout, Mapping):
        unknown = set(dropout) - set(ROUNDS)
        if unknown:
            raise ValueError(f"run: unknown dropout round(s) {sorted(unknown)}; rounds are "
                             f"{ROUNDS}")
        by_round = {r: {int(u) for u in dropout.get(r, ())} for r in ROUNDS}
    else:  # the case the protocol exists for: keys shared, then gone before sending input
        by_round = {r: set() for r in ROUNDS}
        by_round["masked_input"] = {int(u) for u in dropout}
    seen = set()
    for r in ROUNDS:
        bad = [u for u in by_round[r] if not 0 <= u < num_clients]
        if bad:
            raise ValueError(f"run: dropout names clients {bad}, not in 0..{num_clients - 1}")
        if by_round[r] & seen:
            raise ValueError(f"run: clients {sorted(by_round[r] & seen)} drop out twice")
        seen |= by_round[r]
    return by_round


def run(vectors, t, rng, *, dropout=(), clip=1.0, group=MODP_2048, keep_messages=False):
    """Simulate one secure aggregation of ``vectors`` (num_clients, dim) with threshold t.

    dropout: client indices that drop after sharing keys, before sending their masked
    input (their inputs are left out of the sum); or {round name: indices} to drop
    clients in any round of ``ROUNDS`` (a client that drops in "unmasking" has its input
    in the sum but sends no shares). rng: np.random.Generator; each client draws its
    keys, seeds and polynomials from its own child generator. ThresholdError when fewer
    than t clients remain at any round.
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError("run: pass an explicit np.random.Generator (np.random.default_rng(seed))")
    X = np.asarray(vectors, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] < 2:
        raise ValueError(f"run: vectors must be (num_clients >= 2, dim), got shape {X.shape}")
    num_clients, dim = X.shape
    if not 2 <= t <= num_clients:
        raise ValueError(f"run: threshold t must be in [2, num_clients={num_clients}], got {t}")
    drops = _dropout_by_round(dropout, num_clients)
    quantizer = Quantizer(clip, num_clients)
    seeds = rng.integers(0, 2 ** 63, size=num_clients)
    clients = [Client(u, X[u], quantizer, t, np.random.default_rng(int(seeds[u])), group)
               for u in range(num_clients)]
    server = Server(t, dim, group)
    transcript = Transcript(keep=keep_messages)
    record = transcript.record

    def alive(inbox, round_name):
        return [u for u in sorted(inbox) if u not in drops[round_name]]

    everyone = {u: None for u in range(num_clients)}
    keys = record(server.collect_keys(record(
        [clients[u].advertise_keys() for u in alive(everyone, "advertise_keys")])))
    shares = record(server.route_shares(record(
        [clients[u].share_keys(keys[u]) for u in alive(keys, "share_keys")])))
    requests = record(server.collect_masked_inputs(record(
        [clients[u].masked_input(shares[u]) for u in alive(shares, "masked_input")])))
    total = server.unmask(record(
        [clients[u].unmask(requests[u]) for u in alive(requests, "unmasking")]))
    survivors = server.survivors
    return Result(
        sum=quantizer.dequantize_sum(total), sum_quantized=total, survivors=survivors,
        dropped={r: tuple(sorted(drops[r])) for r in ROUNDS},
        quantizer=quantizer, error_bound=quantizer.error_bound(len(survivors)),
        num_clipped=sum(clients[u].num_clipped for u in survivors), transcript=transcript)


def uniformity_chi_square(words, bins=16):
    """Pearson's chi-square of uint32 ``words`` against the uniform law on [0, 2^32).

    The range is cut into ``bins`` equal bins (a power of two, 2..2^16): each word's bin is
    its top log2(bins) bits. A masked input ``y = x + masks mod 2^32`` should look like
    uniform noise: its statistic should fall where those of truly uniform vectors of the
    same size fall (about ``bins - 1`` on average; chi-square with bins - 1 degrees of
    freedom). The input ``x`` itself, mostly zeros, scores enormous values.
    """
    words = np.asarray(words)
    if words.dtype != np.uint32:
        raise ValueError(f"uniformity_chi_square: words must be uint32 (masked inputs), "
                         f"got {words.dtype}")
    if bins < 2 or bins > 2 ** 16 or bins & (bins - 1):
        raise ValueError(f"uniformity_chi_square: bins must be a power of two in 2..65536, "
                         f"got {bins}")
    if words.size == 0:
        raise ValueError("uniformity_chi_square: no words")
    shift = np.uint32(32 - (bins.bit_length() - 1))
    counts = np.bincount((words.ravel() >> shift).astype(np.int64), minlength=bins)
    expected = words.size / bins
    return float(((counts - expected) ** 2 / expected).sum())
