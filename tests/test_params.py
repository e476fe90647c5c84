"""Parameter mappings: names and shapes checked, bytes counted, deltas exact, flattening."""

import numpy as np
import pytest

from minigrad.federated.params import (
    check_same_keys,
    copy_params,
    delta,
    flatten,
    num_bytes,
    unflatten,
)


def test_delta_is_float64_and_checks_names():
    sent = {"weight": np.array([[1.0], [2.0]], dtype=np.float32)}
    received = {"weight": np.array([[1.5], [2.0]], dtype=np.float32)}

    d = delta(sent, received)

    assert d["weight"].dtype == np.float64
    assert d["weight"][:, 0].tolist() == [0.5, 0.0]
    with pytest.raises(ValueError, match="missing"):
        delta(sent, {"bias": np.zeros(1)})


def test_flatten_and_unflatten_round_trip():
    params = {"weight": np.arange(6.0).reshape(3, 2), "bias": np.array([7.0])}

    vector = flatten(params)
    back = unflatten(vector, params)

    assert vector.tolist() == [0, 1, 2, 3, 4, 5, 7]
    assert list(back) == ["weight", "bias"]
    assert all(np.array_equal(back[k], params[k]) for k in params)
    with pytest.raises(ValueError, match=r"needs \(7,\)"):
        unflatten(np.zeros(6), params)


def test_float32_deltas_are_exact_in_float64():
    before = {"w": np.array([0.1, 3.0, -2.5e-8], np.float32)}
    after = {"w": np.array([-0.3, 3.0000002, 7.0], np.float32)}

    d = delta(before, after)

    np.testing.assert_array_equal(before["w"].astype(np.float64) + d["w"], after["w"])
    assert d["w"][1] != 0


def test_check_same_keys_names_the_sender_and_the_shape():
    reference = {"w": np.zeros((2, 3))}

    with pytest.raises(ValueError, match=r"client 4: 'w' has shape \(3, 2\), expected \(2, 3\)"):
        check_same_keys(reference, {"w": np.zeros((3, 2))}, "client 4")
    with pytest.raises(ValueError, match=r"missing \['w'\], unexpected \['v'\]"):
        check_same_keys(reference, {"v": np.zeros((2, 3))}, "client 4")


def test_copy_params_shares_no_memory_and_num_bytes_counts_the_payload():
    params = {"w": np.zeros(3, np.float32), "b": np.zeros(2)}

    copy = copy_params(params)
    copy["w"] += 1

    assert params["w"].tolist() == [0, 0, 0]
    assert num_bytes(params) == 3 * 4 + 2 * 8
    with pytest.raises(ValueError, match="no parameters"):
        flatten({})
