"""Compressing the cut tensors of split learning: encode -> message payload -> decode.

A codec turns an array into a *payload*, a ``{name: ndarray}`` mapping that is
everything the receiver gets (its bytes are what the wire carries: ``params.num_bytes``),
and back. Which codec a message uses is agreed beforehand, like the model
architecture, so it costs nothing on the wire.

    Identity()        the float32 (or float64) values as they are
    Float16()         half precision: 2 bytes a value
    Quantize8Bit()    one byte a value, affine with a per-tensor scale and zero point
    TopK(fraction)    only the k largest |x|, as values and positions

Round-trip errors (x -> decode(encode(x))), which the tests check:
    Float16: |err| <= 2**-11 |x| for |x| in float16's normal range [2**-14, 65504],
             |err| <= 2**-25 below it; |x| > 65504 saturates to +-65504.
    Quantize8Bit: |err| <= scale / 2, scale = (max(x, 0) - min(x, 0)) / 255; zero
             (e.g. a ReLU output) is exact.
    TopK: the k kept entries exact, all others sent as 0.
"""

import math

import numpy as np

from .params import num_bytes

__all__ = ["Codec", "Identity", "Float16", "Quantize8Bit", "TopK", "get_codec"]

FLOAT16_MAX = float(np.finfo(np.float16).max)  # 65504


def _check(x):
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"codecs compress floating-point arrays, got dtype {x.dtype}")
    if x.size and not np.isfinite(x).all():
        raise ValueError("codecs need finite values; the array holds inf or nan")
    return x


class Codec:
    """encode(x) -> payload {name: ndarray}; decode(payload, dtype) -> array of x's shape."""

    name = "codec"

    def encode(self, x):  # pragma: no cover - abstract
        raise NotImplementedError

    def decode(self, payload, dtype=np.float32):  # pragma: no cover - abstract
        raise NotImplementedError

    def round_trip(self, x):
        """decode(encode(x)) in x's dtype, and the payload's bytes."""
        payload = self.encode(x)
        return self.decode(payload, np.asarray(x).dtype), num_bytes(payload)

    def __repr__(self):
        return f"{type(self).__name__}()"


class Identity(Codec):
    """No compression: the values as they are (4 bytes each in float32)."""

    name = "float32"

    def encode(self, x):
        return {"values": np.array(_check(x), copy=True)}

    def decode(self, payload, dtype=np.float32):
        return np.asarray(payload["values"]).astype(dtype, copy=False)


class Float16(Codec):
    """Half precision, rounded to nearest; 2 bytes a value. Saturates beyond +-65504."""

    name = "float16"

    def encode(self, x):
        x = _check(x)
        return {"values": np.clip(x, -FLOAT16_MAX, FLOAT16_MAX).astype(np.float16)}

    def decode(self, payload, dtype=np.float32):
        return payload["values"].astype(dtype)


class Quantize8Bit(Codec):
    """Affine 8-bit: x ~ (q - zero_point) * scale, q and zero_point uint8, scale float32.

    The range [min(x, 0), max(x, 0)] is cut into 255 steps of ``scale``; the zero
    point is the q that stands for 0, so zeros stay exact. Payload: q (x's shape,
    uint8), scale (1,) float32, zero_point (1,) uint8: size + 5 bytes.
    """

    name = "int8"

    def encode(self, x):
        x = _check(x)
        lo = min(float(x.min()), 0.0) if x.size else 0.0
        hi = max(float(x.max()), 0.0) if x.size else 0.0
        scale = np.float32((hi - lo) / 255.0)
        if not scale > 0:  # all zeros (or a range below float32's resolution)
            scale = np.float32(1.0)
        s = float(scale)  # quantize with exactly the scale the receiver will use
        zero_point = min(max(round(-lo / s), 0), 255)
        q = np.clip(np.rint(x.astype(np.float64) / s) + zero_point, 0, 255).astype(np.uint8)
        return {"q": q, "scale": np.array([scale], dtype=np.float32),
                "zero_point": np.array([zero_point], dtype=np.uint8)}

    def decode(self, payload, dtype=np.float32):
        out = payload["q"].astype(dtype)
        out -= payload["zero_point"][0]
        out *= payload["scale"][0]
        return out


class TopK(Codec):
    """Sparsification: the k entries of largest |x| (k = ceil(fraction * size), or ``k``).

    Payload: values (k,) in x's dtype, flat positions (k,) in the smallest unsigned
    integer type that holds them, ascending, and the shape (ndim,) int32. Ties at the
    k-th magnitude are broken by position (lower first), so exactly k are kept.
    """

    name = "topk"

    def __init__(self, fraction=None, k=None):
        if (fraction is None) == (k is None):
            raise ValueError("TopK: give exactly one of fraction (0 < f <= 1) or k (>= 1)")
        if fraction is not None and not 0 < fraction <= 1:
            raise ValueError(f"TopK: fraction must lie in (0, 1], got {fraction}")
        if k is not None and int(k) < 1:
            raise ValueError(f"TopK: k must be >= 1, got {k}")
        self.fraction = fraction
        self.k = None if k is None else int(k)
        self.name = f"top{fraction:g}" if fraction is not None else f"top{self.k}"

    def num_kept(self, size):
        """k for an array of ``size`` elements."""
        k = self.k if self.k is not None else math.ceil(self.fraction * size)
        return min(max(k, 1), size) if size else 0

    def encode(self, x):
        x = _check(x)
        flat = x.reshape(-1)
        k = self.num_kept(flat.size)
        if k < flat.size:
            # stable sort on -|x|: equal magnitudes keep their order, lower positions first
            keep = np.sort(np.argsort(-np.abs(flat), kind="stable")[:k])
        else:
            keep = np.arange(flat.size)
        index_dtype = np.min_scalar_type(max(flat.size - 1, 0))
        if not np.issubdtype(index_dtype, np.unsignedinteger):
            index_dtype = np.uint8
        return {"values": flat[keep].copy(), "indices": keep.astype(index_dtype),
                "shape": np.array(x.shape, dtype=np.int32)}

    def decode(self, payload, dtype=np.float32):
        shape = tuple(int(n) for n in payload["shape"])
        out = np.zeros(int(np.prod(shape, dtype=np.int64)), dtype=dtype)
        out[payload["indices"].astype(np.intp)] = payload["values"]
        return out.reshape(shape)

    def __repr__(self):
        return f"TopK(fraction={self.fraction})" if self.fraction is not None else \
            f"TopK(k={self.k})"


def get_codec(spec):
    """A codec from a short name: None/'float32', 'float16', 'int8', 'topk:0.1' (a fraction)."""
    if isinstance(spec, Codec):
        return spec
    if spec is None or spec in ("float32", "none", "identity"):
        return Identity()
    if spec == "float16":
        return Float16()
    if spec in ("int8", "uint8", "8bit"):
        return Quantize8Bit()
    if isinstance(spec, str) and spec.startswith("topk:"):
        return TopK(fraction=float(spec.split(":", 1)[1]))
    raise ValueError(f"unknown codec {spec!r}; expected None, 'float32', 'float16', 'int8' "
                     f"or 'topk:<fraction>'")
