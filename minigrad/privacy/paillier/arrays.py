"""Encrypted arrays: fixed-point encoding, packing, ``EncryptedArray`` and encrypted FedAvg.

Floats travel as fixed-point integers (``Encoding``), optionally many to a plaintext;
every ``EncryptedArray`` carries a proven bound on its plaintexts, so an operation that
could overflow raises OverflowError before it happens. Parameters travel as
{name: ndarray} -> {name: EncryptedArray}; the server only sums (docs/privacy.md).
"""

import math
from dataclasses import dataclass

import numpy as np

from ..randomness import random_source

__all__ = [
    "Encoding",
    "EncryptedArray",
    "encrypt_array",
    "encrypt_params",
    "sum_params",
    "decrypt_params",
    "EncryptedAggregate",
    "check_encrypted_params",
    "encrypted_fedavg",
    "decrypt_average",
    "params_nbytes",
]


# ---------------------------------------------------------------------------
# fixed-point encoding and packing
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Encoding:
    """Floats as integers: m = round(x * 2**frac_bits), |x| <= max_abs.

    Scale 2**frac_bits, so one value's rounding error is at most 2**-(frac_bits + 1).
    That is an absolute bound: a nonzero |x| below it (2**-33 at the default 32 bits)
    encodes, and decrypts, as 0, by design and without an error. A client's update of
    1e-12 is then rounded like every other value; raising would refuse honest updates
    (small deltas are common) and a per-array underflow count sent alongside would tell
    the server about a client's values. ``resolution``: that bound.
    ``max_abs`` is the public range promise every client keeps: encrypting a larger |x|
    raises OverflowError. ``slot_bits`` None puts one value in each ciphertext;
    a multiple of 8 up to 64 packs ``(key bits - 2) // slot_bits`` values into one
    plaintext, each slot a signed integer of magnitude < 2**(slot_bits - 1). Adding
    ciphertexts adds slot by slot; ``headroom(public_key)`` says how large the total
    integer weight of a sum may grow (e.g. the examples summed in FedAvg) before a slot
    could overflow, and operations past it raise OverflowError.
    """

    frac_bits: int = 32
    max_abs: float = 2.0 ** 20
    slot_bits: int | None = None

    def __post_init__(self):
        if not 0 <= self.frac_bits <= 512:
            raise ValueError(f"Encoding: frac_bits must be in [0, 512], got {self.frac_bits}")
        if not (math.isfinite(self.max_abs) and self.max_abs > 0):
            raise ValueError(f"Encoding: max_abs must be a finite number > 0, got {self.max_abs}")
        if math.log2(self.max_abs) + self.frac_bits > 1000:
            raise ValueError("Encoding: max_abs * 2**frac_bits must stay below 2**1000")
        if self.slot_bits is not None and (self.slot_bits % 8 or not 16 <= self.slot_bits <= 64):
            raise ValueError(f"Encoding: slot_bits must be None or a multiple of 8 in [16, 64], "
                             f"got {self.slot_bits}")

    @property
    def resolution(self):
        """The largest rounding error of one encoded value: 2**-(frac_bits + 1)."""
        return 2.0 ** -(self.frac_bits + 1)

    @property
    def level(self):
        """The largest |m| an encoded value can have: ceil(max_abs * 2**frac_bits)."""
        return math.ceil(self.max_abs * 2.0 ** self.frac_bits)

    def slots(self, public_key):
        """Values per ciphertext under ``public_key``."""
        if self.slot_bits is None:
            return 1
        return (public_key.bits - 2) // self.slot_bits

    def capacity(self, public_key):
        """The largest |slot integer| that decodes correctly."""
        width = public_key.bits - 1 if self.slot_bits is None else self.slot_bits
        return 2 ** (width - 1) - 1

    def headroom(self, public_key):
        """The largest total integer weight of a sum of encrypted arrays: capacity // level."""
        return self.capacity(public_key) // self.level

    def check(self, public_key):
        """ValueError unless at least one encoded value fits this key's plaintexts."""
        if self.slots(public_key) < 1:
            raise ValueError(f"Encoding: slot_bits={self.slot_bits} is wider than a "
                             f"{public_key.bits}-bit key's plaintext")
        if self.headroom(public_key) < 1:
            raise ValueError(f"Encoding: values up to {self.max_abs} at 2**{self.frac_bits} "
                             f"need {self.level.bit_length() + 1} bits, more than a slot of this "
                             f"{public_key.bits}-bit key holds; lower frac_bits or max_abs")


def _encode(x, encoding):
    """float array -> int64 array (or list of Python ints when they may exceed int64)."""
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    if x.size and not np.isfinite(x).all():
        raise ValueError("encrypt: values must be finite; the array holds inf or nan")
    too_big = np.abs(x) > encoding.max_abs
    if too_big.any():
        worst = float(x[np.argmax(np.abs(x))])
        raise OverflowError(
            f"encrypt: {int(too_big.sum())} value(s) exceed the encoding's range "
            f"|x| <= max_abs={encoding.max_abs} (largest {worst!r}); clip them or choose an "
            f"Encoding with a larger max_abs")
    scaled = np.rint(x * 2.0 ** encoding.frac_bits)  # exact: scaling by a power of two
    if encoding.level < 2 ** 63:
        return scaled.astype(np.int64)
    return [int(v) for v in scaled]


def _pack(ints, public_key, encoding):
    """Integers -> one plaintext integer (in [0, n)) per group of ``slots`` values.

    P = sum_i v_i 2^(w i) with signed slots v_i; built from little-endian bytes of the
    offset digits v_i + 2^(w-1) in [0, 2^w), minus the constant sum of the offsets.
    """
    n = public_key.n
    if encoding.slot_bits is None:
        return [int(v) % n for v in ints]
    w, k = encoding.slot_bits, encoding.slots(public_key)
    ints = np.asarray(ints, dtype=np.int64)
    padded = np.zeros(-(-ints.size // k) * k, dtype=np.int64)
    padded[:ints.size] = ints
    digits = padded.astype(np.uint64) + np.uint64(1 << (w - 1))  # wraps mod 2^64: exact digits
    raw = digits.astype("<u8").view(np.uint8).reshape(-1, 8)[:, :w // 8]
    rows = np.ascontiguousarray(raw).reshape(-1, k * w // 8)
    offset = _slot_offset(w, k)
    return [(int.from_bytes(row.tobytes(), "little") - offset) % n for row in rows]


def _slot_offset(w, k):
    return sum(1 << (w * i + w - 1) for i in range(k))


def _unpack(plain, public_key, encrypted):
    """Plaintexts in [0, n) -> the signed slot integers (int64 array or list), checked."""
    n, bound = public_key.n, encrypted.bound
    signed = [m - n if m > n // 2 else m for m in plain]
    encoding = encrypted.encoding
    if encoding.slot_bits is None:
        worst = max((abs(m) for m in signed), default=0)
        if worst > bound:
            raise OverflowError(f"decrypt: a plaintext of {worst.bit_length()} bits exceeds the "
                                f"array's bound of {bound.bit_length()} bits; the ciphertexts "
                                f"were altered or combined outside EncryptedArray")
        return signed
    w, k = encoding.slot_bits, encoding.slots(public_key)
    offset, width = _slot_offset(w, k), k * w // 8
    buf = b"".join((m + offset).to_bytes(width, "little") for m in signed)
    chunks = np.frombuffer(buf, dtype=np.uint8).reshape(-1, w // 8)
    full = np.zeros((len(chunks), 8), dtype=np.uint8)
    full[:, :w // 8] = chunks
    digits = full.view("<u8").reshape(-1)
    ints = (digits - np.uint64(1 << (w - 1))).view(np.int64)  # wraps back to the signed slot
    values, padding = ints[:encrypted.size], ints[encrypted.size:]
    if (values.size and int(np.abs(values).max()) > bound) or padding.any():
        raise OverflowError("decrypt: a packed slot exceeds the array's bound (or a padding slot "
                            "is not zero); the ciphertexts were altered outside EncryptedArray")
    return ints


def _to_float(ints, frac_bits, size):
    if isinstance(ints, np.ndarray):
        return ints[:size].astype(np.float64) * 2.0 ** -frac_bits
    scale = 1 << frac_bits  # int / int is correctly rounded even past 2**1023
    return np.array([v / scale for v in ints[:size]], dtype=np.float64)


# ---------------------------------------------------------------------------
# encrypted arrays
# ---------------------------------------------------------------------------
class EncryptedArray:
    """Paillier ciphertexts of a fixed-point array, with what the server may know about it.

    ciphertexts: list of Python ints (one per ``encoding.slots(public_key)`` values);
    shape, dtype: the plaintext array's; frac_bits: the current scale 2**frac_bits;
    bound: a proven bound on |every slot integer|; contributors: how many encryptions
    were summed into it. ``a + b``, ``a - b``, ``k * a`` (int: exact; float: fixed-point
    at the encoding's frac_bits, which adds to the scale). ``nbytes``: the wire size.
    """

    __slots__ = ("public_key", "ciphertexts", "shape", "dtype", "encoding", "frac_bits",
                 "bound", "contributors")
    __array_ufunc__ = None  # ndarray + EncryptedArray is a TypeError, not an object array

    def __init__(self, public_key, ciphertexts, shape, dtype, encoding, frac_bits, bound,
                 contributors=1):
        self.public_key = public_key
        self.ciphertexts = ciphertexts
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype)
        self.encoding = encoding
        self.frac_bits = frac_bits
        self.bound = bound
        self.contributors = contributors

    @property
    def size(self):
        return math.prod(self.shape)

    @property
    def num_ciphertexts(self):
        return len(self.ciphertexts)

    @property
    def nbytes(self):
        """Bytes on the wire: one fixed-width n^2 residue per ciphertext."""
        return self.num_ciphertexts * self.public_key.ciphertext_bytes

    def _like(self, ciphertexts, frac_bits, bound, contributors):
        capacity = self.encoding.capacity(self.public_key)
        if bound > capacity:
            raise OverflowError(
                f"EncryptedArray: this result could reach |slot| = 2**{math.log2(bound):.1f}, "
                f"past what a slot holds (< 2**{math.log2(capacity + 1):.0f}); the encoding's "
                f"headroom is a total integer weight of {self.encoding.headroom(self.public_key)}"
                f" (use integer weights, fewer frac_bits, a smaller max_abs, wider slots or a "
                f"bigger key)")
        return EncryptedArray(self.public_key, ciphertexts, self.shape, self.dtype,
                              self.encoding, frac_bits, bound, contributors)

    def _scaled(self, k, extra_frac_bits=0):
        pk = self.public_key
        cts = [pow(c, k, pk.n_square) for c in self.ciphertexts]
        # times 0, no encryption's value is left in it: it contributes nothing
        return self._like(cts, self.frac_bits + extra_frac_bits, self.bound * abs(k),
                          self.contributors if k else 0)

    def __add__(self, other):
        if isinstance(other, (int, np.integer)) and other == 0:
            return self  # so sum([...]) works
        if not isinstance(other, EncryptedArray):
            return NotImplemented
        if other.public_key != self.public_key:
            raise ValueError("EncryptedArray: cannot add arrays encrypted under different keys")
        if other.shape != self.shape or other.encoding != self.encoding:
            raise ValueError(f"EncryptedArray: cannot add shape {other.shape} with "
                             f"{other.encoding} to shape {self.shape} with {self.encoding}")
        a, b = self, other
        if a.frac_bits < b.frac_bits:
            a, b = b, a
        if b.frac_bits < a.frac_bits:  # align the scales: multiply by 2**difference
            b = b._scaled(1 << (a.frac_bits - b.frac_bits))
        n_square = self.public_key.n_square
        cts = [x * y % n_square for x, y in zip(a.ciphertexts, b.ciphertexts, strict=True)]
        out = self._like(cts, a.frac_bits, a.bound + b.bound, a.contributors + b.contributors)
        out.dtype = np.result_type(self.dtype, other.dtype)
        return out

    __radd__ = __add__

    def __neg__(self):
        return self._scaled(-1)

    def __sub__(self, other):
        if not isinstance(other, EncryptedArray):
            return NotImplemented
        return self + (-other)

    def __mul__(self, k):
        if isinstance(k, (bool, np.bool_)):
            return NotImplemented
        if isinstance(k, (int, np.integer)):
            return self._scaled(int(k))
        if isinstance(k, (float, np.floating)):
            if not math.isfinite(k):
                raise ValueError(f"EncryptedArray: cannot multiply by {k}")
            g = self.encoding.frac_bits
            return self._scaled(round(k * 2.0 ** g), extra_frac_bits=g)
        return NotImplemented

    __rmul__ = __mul__

    def decode(self, plaintexts, dtype=None):
        """Plaintexts in [0, n), one per ciphertext (what the key holder decrypted) -> ndarray
        of this array's shape, in ``dtype`` (default: its own); OverflowError if a slot
        lies outside the array's bound."""
        ints = _unpack(plaintexts, self.public_key, self)
        values = _to_float(ints, self.frac_bits, self.size)
        dtype = self.dtype if dtype is None else dtype
        return values.reshape(self.shape).astype(dtype, copy=False)

    def __repr__(self):
        return (f"EncryptedArray(shape={self.shape}, {self.num_ciphertexts} ciphertexts, "
                f"{self.nbytes} bytes, contributors={self.contributors}, "
                f"scale=2**{self.frac_bits})")


def encrypt_array(public_key, x, rng=None, *, encoding=None, noise=None):
    """Encrypt an array: ndarray x -> EncryptedArray (fresh randomness from ``rng``, or
    precomputed factors from ``noise``, a NoisePool)."""
    encoding = Encoding() if encoding is None else encoding
    encoding.check(public_key)
    x = np.asarray(x)
    if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
        raise TypeError(f"encrypt_array: expected a real-valued array, got dtype {x.dtype}")
    plain = _pack(_encode(x, encoding), public_key, encoding)
    if noise is not None:
        if noise.public_key != public_key:
            raise ValueError("encrypt_array: the NoisePool belongs to another public key")
        factors = noise.take(len(plain))
    elif rng is not None:
        factors = public_key.random_factors(len(plain), random_source(rng, "encrypt_array"))
    else:
        raise TypeError("encrypt_array: pass rng (fresh randomness) or noise (a NoisePool)")
    n, n_square = public_key.n, public_key.n_square
    ciphertexts = [(1 + m * n) * f % n_square for m, f in zip(plain, factors, strict=True)]
    dtype = x.dtype if np.issubdtype(x.dtype, np.floating) else np.float64
    return EncryptedArray(public_key, ciphertexts, x.shape, dtype, encoding,
                          encoding.frac_bits, encoding.level)


# ---------------------------------------------------------------------------
# parameter mappings: encrypted FedAvg
# ---------------------------------------------------------------------------
def encrypt_params(public_key, params, rng=None, *, encoding=None, noise=None):
    """{name: ndarray} -> {name: EncryptedArray}, in the mapping's order."""
    return {name: encrypt_array(public_key, value, rng, encoding=encoding, noise=noise)
            for name, value in params.items()}


def _check_same_names(first, other, who):
    if set(first) != set(other):
        raise ValueError(f"{who}: parameter names differ ({sorted(first)} vs {sorted(other)})")


def sum_params(mappings):
    """[{name: EncryptedArray}, ...] -> {name: their sum}: what the server computes."""
    mappings = list(mappings)
    if not mappings:
        raise ValueError("sum_params: nothing to sum")
    for i, m in enumerate(mappings[1:], start=1):
        _check_same_names(mappings[0], m, f"sum_params: mapping {i}")
    return {name: sum((m[name] for m in mappings[1:]), mappings[0][name])
            for name in mappings[0]}


def decrypt_params(private_key, encrypted, min_contributors=2):
    """{name: EncryptedArray} -> {name: ndarray}, only for sums of >= ``min_contributors``.

    The default refuses to decrypt one client's encrypted model: that is what Grokking
    ch. 15 does, and it hands the key holder exactly what encryption was meant to hide.
    ``contributors`` is metadata, not cryptography: it guards against the mistake, not
    against a server that lies. Pass ``min_contributors=1`` when you mean it.
    """
    return {name: private_key.decrypt_array(value, min_contributors)
            for name, value in encrypted.items()}


def params_nbytes(encrypted):
    """Bytes of an encrypted parameter mapping on the wire."""
    return int(sum(value.nbytes for value in encrypted.values()))


@dataclass
class EncryptedAggregate:
    """The server's result of encrypted FedAvg: sum_k n_k E(w_k) and sum_k n_k.

    params: {name: EncryptedArray}; total_weight: the sum of the integer weights;
    num_clients: how many clients with weight > 0 were summed.
    """

    params: dict
    total_weight: int
    num_clients: int

    @property
    def nbytes(self):
        return params_nbytes(self.params)


def check_encrypted_params(reference, params, who):
    """Raise unless ``params`` is a well-formed client message like ``reference``.

    Same names; each value an ``EncryptedArray`` under the reference's key, with its
    shape, encoding and scale, one fresh encryption (contributors 1, bound the
    encoding's level), as many ciphertexts as its size needs, each an int in (0, n^2).
    What the server can check without the private key; it cannot see the plaintexts.
    """
    if not isinstance(params, dict):
        raise TypeError(f"{who}: expected {{name: EncryptedArray}}, got {type(params).__name__}")
    _check_same_names(reference, params, who)
    for name, value in params.items():
        first = reference[name]
        if not isinstance(value, EncryptedArray):
            raise TypeError(f"{who}: '{name}' is a {type(value).__name__}, not an EncryptedArray")
        if value.public_key != first.public_key:
            raise ValueError(f"{who}: '{name}' is encrypted under another public key")
        if (value.shape, value.encoding, value.frac_bits) != \
                (first.shape, first.encoding, first.frac_bits):
            raise ValueError(f"{who}: '{name}' has shape {value.shape}, {value.encoding} at "
                             f"scale 2**{value.frac_bits}; expected {first.shape}, "
                             f"{first.encoding} at 2**{first.frac_bits}")
        pk, slots = value.public_key, value.encoding.slots(value.public_key)
        if value.contributors != 1 or value.bound != value.encoding.level:
            raise ValueError(f"{who}: '{name}' claims {value.contributors} contributors and "
                             f"bound {value.bound}; a client sends one fresh encryption")
        cts = value.ciphertexts
        if not isinstance(cts, list) or len(cts) != -(-value.size // slots):
            raise ValueError(f"{who}: '{name}' has the wrong number of ciphertexts for shape "
                             f"{value.shape}")
        if not all(type(c) is int and 0 < c < pk.n_square for c in cts):
            raise ValueError(f"{who}: '{name}' holds a ciphertext that is not an int in "
                             f"(0, n^2)")


def encrypted_fedavg(results):
    """[(encrypted params, num_examples), ...] -> EncryptedAggregate (weighted sum, total).

    Weights are integer example counts (McMahan et al. 2017), applied as E(w)^n_k: exact,
    and cheaper than a float weight, which would add frac_bits to the scale. The server
    never divides; the key holder does, after decrypting the sum (``decrypt_average``).
    Every message is checked first (``check_encrypted_params``, counts); only clients of
    weight > 0 count in ``num_clients``: a weight-0 client adds nothing to the average.
    """
    results = list(results)
    if not results:
        raise ValueError("encrypted_fedavg: no client results to aggregate")
    for i, result in enumerate(results):
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            raise TypeError(f"encrypted_fedavg: result {i} must be an (encrypted params, "
                            f"num_examples) pair")
        params, weight = result
        check_encrypted_params(results[0][0], params, f"encrypted_fedavg: client {i}")
        if not isinstance(weight, (int, np.integer)) or isinstance(weight, bool) or weight < 0:
            raise ValueError(f"encrypted_fedavg: client {i} reported {weight!r} examples; "
                             f"expected an integer count >= 0")
    weighted, total = [], 0
    for params, weight in results:
        weighted.append({name: value * int(weight) for name, value in params.items()})
        total += int(weight)
    if total == 0:
        raise ValueError("encrypted_fedavg: the clients reported 0 examples in total")
    return EncryptedAggregate(sum_params(weighted), total,
                              sum(1 for _, weight in results if weight > 0))


def decrypt_average(private_key, aggregate, dtype=None, min_clients=2):
    """EncryptedAggregate -> {name: weighted mean ndarray} (in ``dtype``, default the clients').

    Refuses an aggregate of fewer than ``min_clients`` clients (its "average" is one
    client's model).
    """
    if aggregate.num_clients < min_clients:
        raise ValueError(f"decrypt_average: the aggregate holds {aggregate.num_clients} "
                         f"client(s), fewer than min_clients={min_clients}; its average is "
                         f"one client's model")
    out = {}
    for name, value in aggregate.params.items():
        mean = private_key.decrypt_array(value, dtype=np.float64) / aggregate.total_weight
        out[name] = mean.astype(value.dtype if dtype is None else dtype, copy=False)
    return out
