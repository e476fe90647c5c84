"""Shared fixtures: every test draws from its own seeded generator."""

import numpy as np
import pytest


@pytest.fixture
def rng():
    """A fresh ``np.random.default_rng(0)`` per test, so each test is deterministic alone."""
    return np.random.default_rng(0)
