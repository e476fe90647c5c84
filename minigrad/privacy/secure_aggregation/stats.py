"""A statistic for notebook 05: does a masked input look like uniform noise?"""

import numpy as np

__all__ = ["uniformity_chi_square"]


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
