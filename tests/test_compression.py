"""Cut-tensor codecs: round-trip errors within their stated bounds, byte counts, errors."""

import numpy as np
import pytest

from minigrad.federated.compression import (
    FLOAT16_MAX,
    Float16,
    Identity,
    Quantize8Bit,
    TopK,
    get_codec,
)
from minigrad.federated.params import num_bytes


def spread(rng, n=4000):
    """Signed values from 1e-9 to 6e4: subnormal, normal and near float16's maximum."""
    return (10.0 ** rng.uniform(-9, np.log10(6e4), n) * rng.choice([-1, 1], n)).astype(
        np.float32)


def test_identity_is_exact_and_4_bytes_a_value(rng):
    x = rng.standard_normal((8, 5)).astype(np.float32)
    back, size = Identity().round_trip(x)
    assert np.array_equal(back, x) and size == x.size * 4


def test_float16_relative_error_is_at_most_2_to_the_minus_11(rng):
    # Arrange
    x = spread(rng)
    # Act
    back, size = Float16().round_trip(x)
    # Assert: relative bound in the normal range, absolute bound below it
    err = np.abs(back.astype(np.float64) - x.astype(np.float64))
    normal = np.abs(x) >= 2.0 ** -14
    assert np.all(err[normal] <= 2.0 ** -11 * np.abs(x[normal]))
    assert np.all(err[~normal] <= 2.0 ** -25)
    assert size == 2 * x.size and back.dtype == np.float32


def test_float16_saturates_instead_of_overflowing():
    back, _ = Float16().round_trip(np.array([1e6, -1e6, 65504.0], dtype=np.float32))
    assert back.tolist() == [FLOAT16_MAX, -FLOAT16_MAX, FLOAT16_MAX]


@pytest.mark.parametrize("kind", ["mixed", "relu", "negative", "tiny_range"])
def test_8bit_error_is_at_most_half_a_step(rng, kind):
    # Arrange
    x = rng.standard_normal((64, 49)).astype(np.float32)
    if kind == "relu":
        x = np.maximum(x, 0)
    elif kind == "negative":
        x = -np.abs(x) - 3.0
    elif kind == "tiny_range":
        x = x * 1e-6
    codec = Quantize8Bit()
    # Act
    payload = codec.encode(x)
    back = codec.decode(payload)
    # Assert
    scale = float(payload["scale"][0])
    assert scale == pytest.approx((max(x.max(), 0) - min(x.min(), 0)) / 255, rel=1e-6)
    err = np.abs(back.astype(np.float64) - x)
    assert err.max() <= scale / 2 * (1 + 1e-5)
    assert np.all(back[x == 0] == 0)                       # zeros are exact
    assert num_bytes(payload) == x.size + 5
    assert payload["q"].dtype == np.uint8


def test_8bit_all_zeros_and_float64_round_trip():
    back, _ = Quantize8Bit().round_trip(np.zeros((3, 4)))
    assert np.all(back == 0) and back.dtype == np.float64


def test_topk_keeps_exactly_the_k_largest_magnitudes(rng):
    # Arrange: distinct magnitudes
    x = rng.standard_normal((16, 10)).astype(np.float32)
    codec = TopK(k=17)
    # Act
    payload = codec.encode(x)
    back = codec.decode(payload)
    # Assert
    largest = np.argsort(-np.abs(x).reshape(-1))[:17]
    kept = np.flatnonzero(back.reshape(-1))
    assert sorted(kept.tolist()) == sorted(largest.tolist())
    assert np.array_equal(back.reshape(-1)[kept], x.reshape(-1)[kept])   # kept exactly
    assert payload["indices"].dtype == np.uint8                          # 160 positions
    assert num_bytes(payload) == 17 * 4 + 17 * 1 + 2 * 4


def test_topk_with_ties_keeps_exactly_k_and_never_a_smaller_one():
    x = np.array([3.0, -1.0, 2.0, -2.0, 2.0, 0.5], dtype=np.float32)
    back = TopK(k=3).decode(TopK(k=3).encode(x))
    kept = np.abs(x[back != 0])
    dropped = np.abs(x[back == 0])
    assert np.count_nonzero(back) == 3 and kept.min() >= dropped.max()
    assert back.tolist() == [3.0, 0.0, 2.0, -2.0, 0.0, 0.0]   # ties: lower positions first


def test_topk_fraction_rounds_up_and_uses_small_index_types(rng):
    x = rng.standard_normal((128, 49)).astype(np.float32)
    payload = TopK(fraction=0.1).encode(x)
    assert payload["values"].shape == (int(np.ceil(0.1 * x.size)),)
    assert payload["indices"].dtype == np.uint16
    assert TopK(fraction=1.0).round_trip(x)[0].tolist() == x.tolist()


def test_get_codec_and_errors():
    assert isinstance(get_codec(None), Identity)
    assert isinstance(get_codec("float16"), Float16)
    assert isinstance(get_codec("int8"), Quantize8Bit)
    assert get_codec("topk:0.05").fraction == 0.05
    with pytest.raises(ValueError, match="unknown codec"):
        get_codec("zip")
    with pytest.raises(ValueError, match="exactly one"):
        TopK()
    with pytest.raises(ValueError, match="fraction"):
        TopK(fraction=1.5)
    with pytest.raises(ValueError, match="finite"):
        Float16().encode(np.array([np.inf], dtype=np.float32))
    with pytest.raises(TypeError, match="floating"):
        Quantize8Bit().encode(np.array([1, 2]))
