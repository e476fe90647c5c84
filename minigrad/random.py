"""The package's default random generator, for layers built without an ``rng``.

Notebooks and tests pass an explicit ``np.random.default_rng(seed)``; this
module only makes the default deterministic too (``minigrad.seed(0)``).
"""

import numpy as np

_state = {"rng": np.random.default_rng(0)}


def seed(value):
    """Reset the default generator to ``np.random.default_rng(value)``."""
    _state["rng"] = np.random.default_rng(value)


def default_rng():
    """The current default generator."""
    return _state["rng"]


def resolve(rng):
    """``rng`` if given (a Generator or an int seed), else the package default."""
    if rng is None:
        return _state["rng"]
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(rng)
