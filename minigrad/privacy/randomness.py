"""Big random integers for the cryptographic protocols, drawn from an explicit source.

A source is an ``np.random.Generator`` or a ``random.Random`` (``SystemRandom`` for OS
entropy); nothing here is cryptographically strong unless the source is (docs/privacy.md).
"""

import random

import numpy as np

__all__ = ["random_source", "random_bits", "random_below"]


def random_source(rng, who):
    """An np.random.Generator or a random.Random (incl. SystemRandom); an int seeds NumPy.

    TypeError for anything else; ``who`` names the caller in the message.
    """
    if isinstance(rng, (np.random.Generator, random.Random)):
        return rng
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise TypeError(f"{who}: pass an explicit random source (np.random.default_rng(seed), "
                    f"random.Random(seed), or random.SystemRandom() for OS entropy), "
                    f"got {type(rng).__name__}")


def random_bits(rng, bits):
    """A uniform integer in [0, 2**bits) from ``rng`` (a Generator or a random.Random)."""
    if isinstance(rng, random.Random):
        return rng.getrandbits(bits)
    num_bytes = (bits + 7) // 8
    return int.from_bytes(rng.bytes(num_bytes), "big") >> (8 * num_bytes - bits)


def random_below(rng, upper):
    """A uniform integer in [0, upper), by rejection (no modulo bias)."""
    bits = upper.bit_length()
    while True:
        x = random_bits(rng, bits)
        if x < upper:
            return x
