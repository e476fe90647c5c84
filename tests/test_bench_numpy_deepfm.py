"""minigrad.bench.numpy_deepfm: the hand-written step computes autograd's gradients and steps."""

import copy

import numpy as np
import pytest
from benchcheck import SMALL_DEEPFM

from minigrad import bench
from minigrad.datasets import synthetic_movielens
from minigrad.federated import split


@pytest.fixture(scope="module")
def tiny_movielens():
    """30 users x 40 items, 600 ratings: 5 batches of 128."""
    return synthetic_movielens(num_users=30, num_items=40, seed=0)


@pytest.mark.parametrize("sizes", [{}, SMALL_DEEPFM], ids=["secretflow", "small"])
def test_numpy_lower_bound_computes_the_autograd_gradients_float64(tiny_movielens, sizes):
    # Arrange
    alice, bob = bench.deepfm_parties(tiny_movielens, dtype=np.float64, **sizes)
    for rows in split.batches(3 * 128, 128):        # move off the initial weights first
        split.train_step(alice, bob, rows)
    ref_alice, ref_bob = copy.deepcopy((alice, bob))
    reference = bench.NumpyDeepFM(ref_alice, ref_bob)
    rows = slice(384, 600)
    # Act
    loss, grads = bench.autograd_gradients(alice, bob, rows)
    ref_loss, ref_grads = reference.gradients(rows)
    # Assert
    assert ref_loss == pytest.approx(loss, abs=1e-12)
    pairs = zip(alice.optimizer.parameters + bob.optimizer.parameters,
                ref_alice.optimizer.parameters + ref_bob.optimizer.parameters, strict=True)
    for p, q in pairs:
        np.testing.assert_allclose(ref_grads[q], grads[p], rtol=0, atol=1e-10)


def test_numpy_lower_bound_steps_like_train_step(tiny_movielens):
    alice, bob = bench.deepfm_parties(tiny_movielens, dtype=np.float64)
    ref_alice, ref_bob = copy.deepcopy((alice, bob))
    reference = bench.NumpyDeepFM(ref_alice, ref_bob)
    for rows in split.batches(2 * 128, 128):
        split.train_step(alice, bob, rows)
        reference.step(rows)
    for p, q in zip(alice.model.get_parameters(), ref_alice.model.get_parameters(), strict=True):
        np.testing.assert_allclose(q.data, p.data, rtol=0, atol=1e-10)


def test_numpy_lower_bound_refuses_the_stop_gradient_model(tiny_movielens):
    alice, bob = bench.deepfm_parties(tiny_movielens, **SMALL_DEEPFM)
    alice.model.fm_stop_gradient = True

    with pytest.raises(ValueError, match="fm_stop_gradient"):
        bench.NumpyDeepFM(alice, bob)
