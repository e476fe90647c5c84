"""Random generators: the package default (``minigrad.seed``) and the explicit-generator check.

Notebooks and tests pass an explicit ``np.random.default_rng(seed)``; layers built
without one draw from the package default, which ``minigrad.seed(0)`` resets.
"""

import numpy as np

__all__ = ["seed", "default_rng", "resolve", "check_generator"]

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


def check_generator(rng, who, purpose="results are reproducible"):
    """Raise TypeError unless ``rng`` is an ``np.random.Generator``; ``who`` names the caller."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"{who}: pass an explicit np.random.Generator "
                        f"(np.random.default_rng(seed)) so {purpose}; got {type(rng).__name__}")
