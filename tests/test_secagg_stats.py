"""Notebook 05's uniformity statistic for masked inputs."""

import numpy as np
import pytest

from minigrad.privacy import secure_aggregation as sa


def test_uniformity_chi_square_equals_a_naive_bin_count(rng):
    words = rng.integers(0, 2 ** 32, 1000, dtype=np.uint32)
    words[:50] = 0  # a lump in the first bin
    for bins in (2, 16, 256):
        counts = [0] * bins
        for w in words.tolist():
            counts[w * bins // 2 ** 32] += 1
        expected = len(words) / bins
        naive = sum((c - expected) ** 2 / expected for c in counts)
        assert sa.uniformity_chi_square(words, bins) == pytest.approx(naive, rel=1e-12)


def test_uniformity_chi_square_tells_masked_from_plain(rng):
    plain = np.zeros(4096, dtype=np.uint32)
    plain[:100] = 7
    masked = plain + rng.integers(0, 2 ** 32, plain.size, dtype=np.uint32)  # wraps mod 2^32
    assert sa.uniformity_chi_square(plain) == pytest.approx(15 * 4096)
    assert sa.uniformity_chi_square(masked) < 50
    for bad, match in ((plain.astype(np.int64), "uint32"), (plain[:0], "no words")):
        with pytest.raises(ValueError, match=match):
            sa.uniformity_chi_square(bad)
    with pytest.raises(ValueError, match="power of two"):
        sa.uniformity_chi_square(plain, bins=10)
