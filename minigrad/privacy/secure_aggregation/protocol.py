"""Secure aggregation by pairwise masking (Bonawitz et al., CCS 2017), simulated round by round.

    result = run(vectors, t=3, rng=np.random.default_rng(0), dropout={2})
    result.sum                           # float64 (dim,): the survivors' clipped vectors, summed
    result.transcript.bytes_by_round()   # {round: {"up": bytes, "down": bytes}} over ROUNDS

The server learns the sum and nothing else about any one client, even when clients drop
out; each transmission is a ``Message`` whose bytes are counted. The rounds: docs/privacy.md.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from ...rng import check_generator
from ..randomness import random_bits
from .primitives import (
    COMMITMENT_BYTES,
    FIELD_PRIME,
    ID_BYTES,
    MODP_2048,
    SHARE_BYTES,
    Quantizer,
    ThresholdError,
    check_group,
    commit_seed,
    expand_mask,
    id_pair,
    lagrange_coefficients,
    open_sealed,
    pair_mask_key,
    pairwise_mask,
    seal,
    self_mask_key,
    share_secret,
)

__all__ = [
    "Message",
    "Transcript",
    "Client",
    "Server",
    "Result",
    "ROUNDS",
    "SERVER",
    "run",
]

ROUNDS = ("advertise_keys", "share_keys", "masked_input", "unmasking")
SERVER = "server"


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


def _check_majority(t, n, insecure_demo, who):
    """ValueError unless t > n / 2 (or ``insecure_demo``): see docs/privacy.md.

    Each client answers one unmasking request. With 2t <= n a server could ask one half
    for shares of client u's b (as if u survived) and the other half for shares of its
    key (as if u dropped), and unmask u's input; with t > n / 2 the two halves overlap.
    """
    if 2 * t <= n and not insecure_demo:
        raise ValueError(f"{who}: threshold t={t} for {n} clients; t must exceed n / 2 "
                         f"(here t >= {n // 2 + 1}) so two disjoint groups of t clients cannot "
                         f"both answer the unmasking round (pass insecure_demo=True to allow it)")


def _is_id(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)) \
        and value >= 0


def _check_messages(messages, round_name, receiver, fields):
    """The senders of a round's messages, each checked: type, round, receiver, id, fields."""
    senders = set()
    for m in messages:
        if not isinstance(m, Message):
            raise TypeError(f"round {round_name!r}: expected Messages, got {type(m).__name__}")
        if m.round != round_name or m.receiver != receiver:
            raise ValueError(f"expected {round_name!r} messages to {receiver}, got "
                             f"{m.round!r} from {m.sender} to {m.receiver}")
        if not _is_id(m.sender):
            raise ValueError(f"round {round_name!r}: sender {m.sender!r} is not a client id")
        if m.sender in senders:
            raise ValueError(f"round {round_name!r}: client {m.sender} sent twice")
        if not isinstance(m.payload, Mapping) or set(m.payload) != set(fields):
            raise ValueError(f"round {round_name!r}: client {m.sender}'s message has fields "
                             f"{sorted(m.payload) if isinstance(m.payload, Mapping) else None}, "
                             f"expected {sorted(fields)}")
        senders.add(m.sender)
    return senders


def _check_from_server(message, round_name, receiver, fields):
    """Raise unless ``message`` is the server's ``round_name`` message to ``receiver``."""
    if not isinstance(message, Message) or message.round != round_name \
            or message.sender != SERVER or message.receiver != receiver:
        raise ValueError(f"client {receiver}: expected the server's {round_name!r} message, "
                         f"got {message!r}"[:300])
    if not isinstance(message.payload, Mapping) or set(message.payload) != set(fields):
        raise ValueError(f"client {receiver}: the server's {round_name!r} message must have "
                         f"exactly the fields {sorted(fields)}")


def _check_bytes_by_id(mapping, length, who, what):
    """Raise unless ``mapping`` is {client id: bytes of ``length``}."""
    if not isinstance(mapping, Mapping):
        raise ValueError(f"{who}: {what} must be a mapping of client ids to bytes")
    for k, v in mapping.items():
        if not _is_id(k) or not isinstance(v, bytes) or len(v) != length:
            raise ValueError(f"{who}: {what}[{k!r}] must be {length} bytes keyed by a client "
                             f"id")


def _check_public_key(group, data, who):
    value = group.decode(data)
    if not 1 < value < group.p - 1:
        raise ValueError(f"{who}: a public key must lie in (1, p - 1)")
    return value


SEALED_BYTES = 2 * ID_BYTES + 2 * SHARE_BYTES + 32  # ids, two shares, HMAC tag


# ---------------------------------------------------------------------------
# the parties
# ---------------------------------------------------------------------------
class Client:
    """Client ``index`` (0-based; its Shamir point is index + 1) holding vector ``x``.

    x never leaves: the constructor quantizes it, and only the masked y is ever sent.
    Each method takes the server's message of the previous round and returns this
    client's message for the next; it checks that message (round, sender, fields,
    ids, sizes, thresholds) before it changes any state, and answers each round once.
    ``insecure_demo=True`` allows a DH group below 2048 bits and t <= n / 2.
    """

    def __init__(self, index, x, quantizer, t, rng, group=MODP_2048, *, insecure_demo=False):
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 1:
            raise ValueError(f"Client {index}: x must be a 1-D vector, got shape {x.shape}")
        check_group(group, insecure_demo, f"Client {index}")
        self.index, self.t, self.group = int(index), int(t), group
        self.insecure_demo = bool(insecure_demo)
        self.dim = x.size
        self.num_clipped = int((np.abs(x) > quantizer.clip).sum())
        self._x = quantizer.quantize(x)
        self._rng = rng
        self._public = None
        self._peers = None  # v -> (c_public, s_public)
        self._held = {}     # v -> (share of s_v^SK, share of b_v) that v gave this client
        self._channels = {}  # v -> DH secret agreed with v's c key (for the sealed shares)
        self._group2 = None
        self._answered = False

    def advertise_keys(self):
        """Round 0: two fresh DH key pairs; send the public halves."""
        if self._public is not None:
            raise RuntimeError(f"client {self.index}: keys already advertised")
        self._c_secret, c_public = self.group.keypair(self._rng)
        self._s_secret, s_public = self.group.keypair(self._rng)
        self._public = (c_public, s_public)
        return Message("advertise_keys", self.index, SERVER,
                       {"c_public": self.group.encode(c_public),
                        "s_public": self.group.encode(s_public)})

    def share_keys(self, message):
        """Round 1: Shamir-share s^SK and a fresh self-mask seed b; encrypt a share pair to
        each peer under the channel key agreed with its c key; commit to b."""
        who = f"client {self.index}"
        if self._public is None or self._peers is not None:
            raise RuntimeError(f"{who}: share_keys runs once, after advertise_keys")
        _check_from_server(message, "advertise_keys", self.index, {"public_keys"})
        keys = message.payload["public_keys"]
        L = self.group.byte_length
        _check_bytes_by_id(keys, 2 * L, who, "the server's public_keys")
        _check_threshold(len(keys), self.t, "share_keys", "advertised keys")
        _check_majority(self.t, len(keys), self.insecure_demo, who)
        peers = {v: (_check_public_key(self.group, k[:L], who),
                     _check_public_key(self.group, k[L:], who)) for v, k in keys.items()}
        if peers.get(self.index) != self._public:
            raise ValueError(f"client {self.index}: the server's key list misstates this "
                             f"client's own public keys")
        self._peers = peers
        self._b = random_bits(self._rng, 256)
        order = sorted(self._peers)
        xs = [v + 1 for v in order]
        s_shares = share_secret(self._s_secret, self.t, xs, self._rng)
        b_shares = share_secret(self._b, self.t, xs, self._rng)
        ciphertexts = {}
        for v, (_, s_y), (_, b_y) in zip(order, s_shares, b_shares, strict=True):
            if v == self.index:
                self._held[v] = (s_y, b_y)
                continue
            plaintext = (id_pair(self.index, v) + s_y.to_bytes(SHARE_BYTES, "big")
                         + b_y.to_bytes(SHARE_BYTES, "big"))
            self._channels[v] = self.group.agree(self._c_secret, self._peers[v][0])
            ciphertexts[v] = seal(self._channels[v], self.index, v, plaintext, self.group)
        return Message("share_keys", self.index, SERVER,
                       {"ciphertexts": ciphertexts,
                        "b_commitment": commit_seed(self.index, self._b)})

    def masked_input(self, message):
        """Round 2: keep the peers' shares; send y = x + PRG(b) + sum_v +-PRG(s_uv) mod 2^32
        over the peers v that shared keys (this client's round-1 peers that the server
        forwarded). Every sealed share is opened and checked before any is kept."""
        if self._peers is None or self._group2 is not None:
            raise RuntimeError(f"client {self.index}: masked_input runs once, after share_keys")
        _check_from_server(message, "share_keys", self.index, {"ciphertexts"})
        ciphertexts = message.payload["ciphertexts"]
        _check_bytes_by_id(ciphertexts, SEALED_BYTES, f"client {self.index}", "ciphertexts")
        group2 = set(ciphertexts) | {self.index}
        _check_threshold(len(group2), self.t, "masked_input", "shared their keys")
        if not group2 <= set(self._channels) | {self.index} or self.index in ciphertexts:
            raise ValueError(f"client {self.index}: shares arrived from clients that never "
                             f"advertised keys")
        held = {}
        for v, sealed in ciphertexts.items():
            plain = open_sealed(self._channels[v], v, self.index, sealed, self.group)
            if plain[:2 * ID_BYTES] != id_pair(v, self.index):
                raise ValueError(f"client {self.index}: the shares from {v} name another pair")
            body = plain[2 * ID_BYTES:]
            held[v] = (int.from_bytes(body[:SHARE_BYTES], "big"),
                       int.from_bytes(body[SHARE_BYTES:], "big"))
        self._held.update(held)
        self._group2 = group2
        y = self._x + expand_mask(self_mask_key(self._b), self.dim)
        for v in sorted(group2 - {self.index}):
            shared = self.group.agree(self._s_secret, self._peers[v][1])
            y += pairwise_mask(self.index, v, pair_mask_key(shared, self.index, v, self.group),
                               self.dim)
        return Message("masked_input", self.index, SERVER, {"y": y})

    def unmask(self, message):
        """Round 3: shares of b_v for survivors v, of s_v^SK for dropped v; never both,
        and only once: a second request could ask for the other share of someone."""
        if self._group2 is None:
            raise RuntimeError(f"client {self.index}: unmask runs after masked_input")
        if self._answered:
            raise ValueError(f"client {self.index}: already answered an unmasking request; a "
                             f"second one could ask for the other share of a client")
        _check_from_server(message, "masked_input", self.index, {"survivors", "dropped"})
        lists = []
        for name in ("survivors", "dropped"):
            ids = message.payload[name]
            if not isinstance(ids, np.ndarray) or ids.ndim != 1 \
                    or not np.issubdtype(ids.dtype, np.integer) \
                    or len(set(ids.tolist())) != ids.size:
                raise ValueError(f"client {self.index}: '{name}' must be a 1-D array of "
                                 f"distinct client ids")
            lists.append(set(ids.tolist()))
        survivors, dropped = lists
        if survivors & dropped:
            raise ValueError(f"client {self.index}: the server asks for both shares of clients "
                             f"{sorted(survivors & dropped)}, which would unmask their inputs")
        if survivors | dropped != self._group2 or self.index not in survivors:
            raise ValueError(f"client {self.index}: the unmasking request does not split the "
                             f"clients that shared keys into survivors and dropped")
        _check_threshold(len(survivors), self.t, "unmasking", "sent a masked input")
        self._answered = True
        return Message("unmasking", self.index, SERVER, {
            "b_shares": {v: self._held[v][1].to_bytes(SHARE_BYTES, "big")
                         for v in sorted(survivors)},
            "s_shares": {v: self._held[v][0].to_bytes(SHARE_BYTES, "big")
                         for v in sorted(dropped)},
        })


class Server:
    """Routes messages, sums masked inputs, and removes the masks it can recover.

    It sees only Messages: public keys, sealed shares it cannot open, commitments to
    the self-mask seeds, masked vectors, and at the end t shares of exactly the secrets
    that unmask the sum. Each round's messages are checked (type, round, sender ids,
    fields, sizes) before any state changes; each round runs once, in order.
    ``insecure_demo=True`` allows a DH group below 2048 bits and t <= n / 2.
    """

    def __init__(self, t, dim, group=MODP_2048, *, insecure_demo=False):
        check_group(group, insecure_demo, "Server")
        self.t, self.dim, self.group = int(t), int(dim), group
        self.insecure_demo = bool(insecure_demo)
        self.survivors = ()  # the clients whose inputs are in the sum (U3)
        self.dropped = ()    # shared keys but sent no input (U2 minus U3)
        self._keys = self._group2 = self._total = None

    def collect_keys(self, messages):
        """Round 0 -> {client: Message}: every advertised key pair, to every advertiser."""
        if self._keys is not None:
            raise RuntimeError("collect_keys: round 0 has already run")
        senders = _check_messages(messages, "advertise_keys", SERVER, {"c_public", "s_public"})
        L = self.group.byte_length
        for m in messages:
            _check_bytes_by_id({m.sender: m.payload["c_public"]}, L, "collect_keys", "c_public")
            _check_bytes_by_id({m.sender: m.payload["s_public"]}, L, "collect_keys", "s_public")
            for name in ("c_public", "s_public"):
                _check_public_key(self.group, m.payload[name], f"collect_keys: client "
                                  f"{m.sender}'s {name}")
        _check_threshold(len(senders), self.t, "advertise_keys", "advertised keys")
        _check_majority(self.t, len(senders), self.insecure_demo, "collect_keys")
        self._keys = {m.sender: m.payload["c_public"] + m.payload["s_public"]
                      for m in sorted(messages, key=lambda m: m.sender)}
        self._s_public = {u: self.group.decode(k[L:]) for u, k in self._keys.items()}
        return {u: Message("advertise_keys", SERVER, u, {"public_keys": dict(self._keys)})
                for u in self._keys}

    def route_shares(self, messages):
        """Round 1 -> {client: Message}: each client's sealed shares from the others who sent.
        The commitments to b stay with the server (``unmask`` checks them)."""
        if self._keys is None or self._group2 is not None:
            raise RuntimeError("route_shares: runs once, after collect_keys")
        senders = _check_messages(messages, "share_keys", SERVER,
                                  {"ciphertexts", "b_commitment"})
        if not senders <= set(self._keys):
            raise ValueError("route_shares: shares from clients that advertised no keys")
        for m in messages:
            who = f"route_shares: client {m.sender}"
            _check_bytes_by_id(m.payload["ciphertexts"], SEALED_BYTES, who, "ciphertexts")
            if not set(m.payload["ciphertexts"]) <= set(self._keys) - {m.sender}:
                raise ValueError(f"{who}: shares for clients that advertised no keys (or "
                                 f"for itself)")
            _check_bytes_by_id({m.sender: m.payload["b_commitment"]}, COMMITMENT_BYTES, who,
                               "b_commitment")
        _check_threshold(len(senders), self.t, "share_keys", "shared their keys")
        self._group2 = sorted(senders)
        self._b_commitments = {m.sender: m.payload["b_commitment"] for m in messages}
        inbox = {v: {} for v in self._group2}
        for m in sorted(messages, key=lambda m: m.sender):
            for v, sealed in m.payload["ciphertexts"].items():
                if v in inbox:
                    inbox[v][m.sender] = sealed
        return {v: Message("share_keys", SERVER, v, {"ciphertexts": inbox[v]})
                for v in self._group2}

    def collect_masked_inputs(self, messages):
        """Round 2 -> {client: Message}: the survivor and dropped lists, to every survivor."""
        if self._group2 is None or self._total is not None:
            raise RuntimeError("collect_masked_inputs: runs once, after route_shares")
        senders = _check_messages(messages, "masked_input", SERVER, {"y"})
        if not senders <= set(self._group2):
            raise ValueError("collect_masked_inputs: input from clients that shared no keys")
        _check_threshold(len(senders), self.t, "masked_input", "sent a masked input")
        total = np.zeros(self.dim, dtype=np.uint32)
        for m in messages:
            y = m.payload["y"]
            if not isinstance(y, np.ndarray) or y.dtype != np.uint32 or y.shape != (self.dim,):
                raise ValueError(f"client {m.sender} sent y of shape {np.shape(y)} and dtype "
                                 f"{getattr(y, 'dtype', type(y).__name__)}; expected "
                                 f"({self.dim},) uint32")
            total += y  # wraps mod 2^32
        self._total = total
        self.survivors = tuple(sorted(senders))
        self.dropped = tuple(v for v in self._group2 if v not in senders)
        payload = {"survivors": np.array(self.survivors, dtype=np.int32),
                   "dropped": np.array(self.dropped, dtype=np.int32)}
        return {u: Message("masked_input", SERVER, u, payload) for u in self.survivors}

    def unmask(self, messages):
        """Round 3 -> uint32 sum of the survivors' quantized inputs (exact mod 2^32).

        Every recovered secret is verified before it is used: a dropped client's key
        against its advertised public key, a survivor's b against its commitment.
        """
        if self._total is None:
            raise RuntimeError("unmask: runs after collect_masked_inputs")
        senders = _check_messages(messages, "unmasking", SERVER, {"b_shares", "s_shares"})
        if not senders <= set(self.survivors):
            raise ValueError("unmask: shares from clients whose input is not in the sum")
        for m in messages:
            who = f"unmask: client {m.sender}"
            for name, expected in (("b_shares", self.survivors), ("s_shares", self.dropped)):
                shares = m.payload[name]
                _check_bytes_by_id(shares, SHARE_BYTES, who, name)
                if set(shares) != set(expected):
                    raise ValueError(f"{who}: {name} for clients {sorted(shares)}, expected "
                                     f"{sorted(expected)}")
                if any(int.from_bytes(v, "big") >= FIELD_PRIME for v in shares.values()):
                    raise ValueError(f"{who}: a share in {name} is not below the field prime")
        _check_threshold(len(senders), self.t, "unmasking", "answered the unmasking round")
        responders = sorted(messages, key=lambda m: m.sender)[:self.t]
        weights = lagrange_coefficients([m.sender + 1 for m in responders])

        def recover(field_name, v):
            shares = [int.from_bytes(m.payload[field_name][v], "big") for m in responders]
            return sum(w * y for w, y in zip(weights, shares, strict=True)) % FIELD_PRIME

        total = self._total.copy()
        group = self.group
        used = [m.sender for m in responders]
        for v in self.dropped:
            secret = recover("s_shares", v)
            if pow(group.g, secret, group.p) != self._s_public[v]:
                raise ValueError(f"unmask: the key recovered for dropped client {v} does not "
                                 f"match its advertised public key (a share is wrong)")
            for u in self.survivors:  # remove the mask u added for v
                shared = group.agree(secret, self._s_public[u])
                total -= pairwise_mask(u, v, pair_mask_key(shared, u, v, group), self.dim)
        for u in self.survivors:
            seed = recover("b_shares", u)
            if commit_seed(u, seed) != self._b_commitments[u]:
                raise ValueError(f"unmask: the self-mask seed b recovered for client {u} does "
                                 f"not match its commitment (a b-share from one of clients "
                                 f"{used} is wrong, or client {u} committed to another b)")
            total -= expand_mask(self_mask_key(seed), self.dim)
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


def run(vectors, t, rng, *, dropout=(), clip=1.0, group=MODP_2048, keep_messages=False,
        insecure_demo=False):
    """Simulate one secure aggregation of ``vectors`` (num_clients, dim) with threshold t.

    dropout: client indices that drop after sharing keys, before sending their masked
    input (their inputs are left out of the sum); or {round name: indices} to drop
    clients in any round of ``ROUNDS`` (a client that drops in "unmasking" has its input
    in the sum but sends no shares). rng: np.random.Generator; each client draws its
    keys, seeds and polynomials from its own child generator. ThresholdError when fewer
    than t clients remain at any round. t must exceed num_clients / 2 and the group have
    2048 bits or more, unless ``insecure_demo=True`` (see ``Client``).
    """
    check_generator(rng, "run")
    X = np.asarray(vectors, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] < 2:
        raise ValueError(f"run: vectors must be (num_clients >= 2, dim), got shape {X.shape}")
    num_clients, dim = X.shape
    if not 2 <= t <= num_clients:
        raise ValueError(f"run: threshold t must be in [2, num_clients={num_clients}], got {t}")
    _check_majority(t, num_clients, insecure_demo, "run")
    check_group(group, insecure_demo, "run")
    drops = _dropout_by_round(dropout, num_clients)
    quantizer = Quantizer(clip, num_clients)
    seeds = rng.integers(0, 2 ** 63, size=num_clients)
    clients = [Client(u, X[u], quantizer, t, np.random.default_rng(int(seeds[u])), group,
                      insecure_demo=insecure_demo) for u in range(num_clients)]
    server = Server(t, dim, group, insecure_demo=insecure_demo)
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
