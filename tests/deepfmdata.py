"""Inputs and an oracle shared by the DeepFM layer tests and the fused-op tests."""

import itertools

import numpy as np

from minigrad import Tensor


def randn(rng, *shape):
    return Tensor(rng.standard_normal(shape), autograd=True)


def off_kink(rng, *shape):
    """|x| in [0.1, 1.5]: central differences never straddle ReLU's kink at 0."""
    return Tensor(rng.uniform(0.1, 1.5, shape) * rng.choice([-1.0, 1.0], shape), autograd=True)


def brute_force_fm(v):
    """sum over field pairs i < j of <v_i, v_j>, row by row: (B, F, K) -> (B, 1)."""
    out = np.zeros((v.shape[0], 1))
    for b in range(v.shape[0]):
        for i, j in itertools.combinations(range(v.shape[1]), 2):
            out[b, 0] += v[b, i] @ v[b, j]
    return out
