"""Paillier arrays: fixed point, packing, EncryptedArray, and encrypted FedAvg."""

import math

import numpy as np
import pytest
from realdata import ENRON_ROOT, needs_enron

from minigrad.federated import fedavg
from minigrad.privacy import paillier
from minigrad.privacy.paillier import (
    Encoding,
    EncryptedArray,
    NoisePool,
    arrays,
    decrypt_average,
    decrypt_params,
    encrypt_array,
    encrypt_params,
    encrypted_fedavg,
    generate_keypair,
    params_nbytes,
    scheme,
    sum_params,
)

DEMO_512 = generate_keypair(512, rng=np.random.default_rng(12), insecure_demo=True)[0]
PACKED = Encoding(frac_bits=24, max_abs=2.0 ** 7, slot_bits=64)


@pytest.fixture(scope="module")
def keys():
    """A 256-bit classroom key: fast, and big enough for every unpacked test."""
    return generate_keypair(256, rng=np.random.default_rng(11), insecure_demo=True)


@pytest.fixture(scope="module")
def keys512():
    return generate_keypair(512, rng=np.random.default_rng(12), insecure_demo=True)


# ---------------------------------------------------------------------------
# fixed point, arrays and packing
# ---------------------------------------------------------------------------
VALUES = np.array([[0.0, -0.0, 1.0, -1.0],
                   [0.1, -2.5, 1e-9, -1e-9],
                   [127.0, -127.5, 3.75, 2 ** -20]])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fixed_point_round_trip_with_negatives_zero_and_the_range_ends(keys, rng, dtype):
    # Arrange
    pk, sk = keys
    x = VALUES.astype(dtype)
    encoding = Encoding(frac_bits=32, max_abs=128.0)

    # Act
    enc = encrypt_array(pk, x, rng, encoding=encoding)
    y = sk.decrypt_array(enc)

    # Assert: one rounding of at most 2**-33, then back to the dtype
    assert y.dtype == dtype and y.shape == x.shape
    assert np.abs(y.astype(np.float64) - x.astype(np.float64)).max() <= 2.0 ** -33 + (
        0 if dtype == np.float64 else 128 * 2.0 ** -24)
    assert y[0, 0] == 0 and y[0, 2] == 1 and y[0, 3] == -1 and y[2, 1] == -127.5
    assert enc.num_ciphertexts == x.size and enc.nbytes == x.size * pk.ciphertext_bytes


def test_large_values_need_a_large_max_abs_and_stay_exact(keys, rng):
    pk, sk = keys
    x = np.array([-(2.0 ** 40), 2.0 ** 40 - 0.5, 123456789.25])
    encoding = Encoding(frac_bits=20, max_abs=2.0 ** 40)

    enc = encrypt_array(pk, x, rng, encoding=encoding)

    np.testing.assert_array_equal(sk.decrypt_array(enc), x)


def test_values_past_max_abs_are_a_clear_overflow_error(keys, rng):
    pk = keys[0]
    x = np.array([0.5, -3.0, 2.5])

    with pytest.raises(OverflowError, match=r"2 value\(s\) exceed.*max_abs=2.0.*-3.0"):
        encrypt_array(pk, x, rng, encoding=Encoding(frac_bits=8, max_abs=2.0))
    with pytest.raises(ValueError, match="finite"):
        encrypt_array(pk, np.array([1.0, np.nan]), rng)


def test_an_encoding_too_wide_for_the_key_is_refused(keys, rng):
    pk = keys[0]  # 256 bits: a plaintext slot holds < 2**254

    with pytest.raises(ValueError, match="lower frac_bits or max_abs"):
        encrypt_array(pk, np.zeros(2), rng, encoding=Encoding(frac_bits=300, max_abs=1.0))


def test_packing_puts_many_values_in_one_ciphertext_and_round_trips(keys512, rng):
    # Arrange: 64-bit slots in a 512-bit key: (512 - 2) // 64 = 7 values a ciphertext
    pk, sk = keys512
    x = rng.uniform(-100, 100, size=(5, 3)).astype(np.float32)
    x[0, :] = [0.0, -127.0, 127.0]

    # Act
    enc = encrypt_array(pk, x, rng, encoding=PACKED)
    y = sk.decrypt_array(enc)

    # Assert
    assert PACKED.slots(pk) == 7 and enc.num_ciphertexts == 3  # ceil(15 / 7)
    assert enc.nbytes == 3 * 128
    assert np.abs(y - x).max() <= 2.0 ** -24  # 2**-25 rounding, then float32
    np.testing.assert_array_equal(y[0], [0.0, -127.0, 127.0])


@pytest.mark.parametrize("encoding", [Encoding(frac_bits=16, max_abs=8.0), PACKED])
def test_array_homomorphism_add_subtract_scale(keys512, rng, encoding):
    # Arrange
    pk, sk = keys512
    a = np.array([1.5, -2.25, 0.0, 7.0, -0.125, 3.0, 2.0, -6.5, 0.75])
    b = np.array([-1.0, 2.0, 0.5, -7.0, 0.125, 1.0, -2.0, 6.0, 0.25])
    ea, eb = encrypt_array(pk, a, rng, encoding=encoding), encrypt_array(pk, b, rng,
                                                                           encoding=encoding)

    # Act
    results = {
        "a + b": (ea + eb, a + b),
        "a - b": (ea - eb, a - b),
        "3a": (3 * ea, 3 * a),
        "-a": (-ea, -a),
        "sum": (sum([ea, eb, ea]), 2 * a + b),
        "0.5a + b": (ea * 0.5 + eb, 0.5 * a + b),  # float scalar: scales add, then align
    }

    # Assert: every value here is a multiple of 2**-3, so the results are exact
    for name, (enc, expected) in results.items():
        np.testing.assert_array_equal(sk.decrypt_array(enc), expected, err_msg=name)
    assert (ea + eb).contributors == 2 and sum([ea, eb, ea]).contributors == 3
    assert (ea * 0.5).frac_bits == 2 * encoding.frac_bits


def test_sums_past_the_headroom_raise_before_they_overflow(keys512, rng):
    # Arrange: level 2**16, 24-bit slots hold |v| < 2**23 -> a total weight of 127
    pk, sk = keys512
    encoding = Encoding(frac_bits=16, max_abs=1.0, slot_bits=24)
    x = np.array([1.0, -1.0, 0.5])
    enc = encrypt_array(pk, x, rng, encoding=encoding)
    assert encoding.headroom(pk) == 127

    # Act / Assert: 127 fits exactly, 128 would spill into the next slot
    np.testing.assert_array_equal(sk.decrypt_array(enc * 127), 127 * x)
    with pytest.raises(OverflowError, match="headroom is a total integer weight of 127"):
        enc * 128
    with pytest.raises(OverflowError, match="headroom"):
        enc * 127 + enc


def test_ciphertexts_changed_behind_the_arrays_back_fail_to_decrypt(keys, rng):
    pk, sk = keys
    enc = encrypt_array(pk, np.array([1.0, 2.0]), rng, encoding=Encoding(frac_bits=8, max_abs=4))

    enc.ciphertexts[1] = pk.add(enc.ciphertexts[1], pk.encrypt(2 ** 200, rng))

    with pytest.raises(OverflowError, match="bound"):
        sk.decrypt_array(enc)


def test_arrays_under_different_keys_or_shapes_do_not_add(keys, keys512, rng):
    a = encrypt_array(keys[0], np.zeros(3), rng)

    with pytest.raises(ValueError, match="different keys"):
        a + encrypt_array(keys512[0], np.zeros(3), rng)
    with pytest.raises(ValueError, match="shape"):
        a + encrypt_array(keys[0], np.zeros(4), rng)
    with pytest.raises(ValueError, match="another public key"):
        keys512[1].decrypt_array(a)
    with pytest.raises(TypeError):
        a + np.zeros(3)


def test_array_encryption_is_randomized(keys, rng):
    pk, sk = keys
    x = np.array([1.0, 1.0, -2.0])

    a, b = encrypt_array(pk, x, rng), encrypt_array(pk, x, rng)

    assert len(set(a.ciphertexts) | set(b.ciphertexts)) == 6  # equal values, distinct ciphertexts
    np.testing.assert_array_equal(sk.decrypt_array(a), sk.decrypt_array(b))


def test_noise_pool_factors_are_used_once(keys, rng):
    # Arrange
    pk, sk = keys
    pool = NoisePool(pk, 5, rng)
    x = np.array([0.25, -0.5, 1.0])

    # Act
    enc = encrypt_array(pk, x, noise=pool)

    # Assert
    np.testing.assert_array_equal(sk.decrypt_array(enc), x)
    assert len(pool) == 2
    with pytest.raises(ValueError, match="3 noise factors needed but 2 left"):
        encrypt_array(pk, x, noise=pool)
    with pytest.raises(TypeError, match="rng"):
        encrypt_array(pk, x)


# ---------------------------------------------------------------------------
# parameter mappings: encrypted FedAvg
# ---------------------------------------------------------------------------
def client_models():
    return [
        {"weight": np.array([[0.5], [-1.0], [0.25]], dtype=np.float32), "bias": np.array([1.0])},
        {"weight": np.array([[1.5], [0.0], [-0.75]], dtype=np.float32), "bias": np.array([-3.0])},
        {"weight": np.array([[-2.0], [2.0], [0.5]], dtype=np.float32), "bias": np.array([0.5])},
    ]


def test_encrypted_fedavg_equals_plain_weighted_fedavg(keys512, rng):
    # Arrange
    pk, sk = keys512
    models, num_examples = client_models(), [10, 30, 60]
    encrypted = [encrypt_params(pk, m, rng, encoding=PACKED) for m in models]

    # Act
    aggregate = encrypted_fedavg(zip(encrypted, num_examples, strict=True))
    average = decrypt_average(sk, aggregate)

    # Assert
    expected = fedavg(list(zip(models, num_examples, strict=True)))
    assert aggregate.total_weight == 100 and aggregate.num_clients == 3
    assert average["weight"].dtype == np.float32 and average["bias"].dtype == np.float64
    for name in expected:
        np.testing.assert_allclose(average[name], expected[name], rtol=1e-6, atol=1e-7)
    assert aggregate.nbytes == params_nbytes(aggregate.params) == 2 * pk.ciphertext_bytes


def test_decrypting_one_clients_model_is_refused_unless_asked_for(keys, rng):
    # Arrange: the book's mistake is to decrypt one client's encrypted model
    pk, sk = keys
    models = client_models()
    encrypted = [encrypt_params(pk, m, rng) for m in models]

    # Act / Assert
    with pytest.raises(ValueError, match="1 encryption.*min_contributors=2"):
        decrypt_params(sk, encrypted[0])
    with pytest.raises(ValueError, match="one client's model"):
        decrypt_average(sk, encrypted_fedavg([(encrypted[0], 5)]))
    total = decrypt_params(sk, sum_params(encrypted))
    np.testing.assert_allclose(total["weight"], sum(m["weight"] for m in models), atol=1e-9)
    one = decrypt_params(sk, encrypted[1], min_contributors=1)
    np.testing.assert_allclose(one["bias"], [-3.0])


@pytest.mark.parametrize("weight", [-1, 2.5, True, None])
def test_encrypted_fedavg_needs_integer_example_counts(keys, rng, weight):
    enc = encrypt_params(keys[0], {"w": np.ones(2)}, rng)

    with pytest.raises(ValueError, match="integer count"):
        encrypted_fedavg([(enc, 3), (enc, weight)])


def test_sum_params_needs_the_same_names(keys, rng):
    a = encrypt_params(keys[0], {"w": np.ones(2)}, rng)
    b = encrypt_params(keys[0], {"v": np.ones(2)}, rng)

    with pytest.raises(ValueError, match="names differ"):
        sum_params([a, b])


def test_package_exports():
    assert "encrypted_fedavg" in paillier.__all__
    assert set(paillier.__all__) == set(scheme.__all__) | set(arrays.__all__)
    tiny_key = generate_keypair(64, rng=1, insecure_demo=True)[0]
    assert isinstance(encrypt_array(tiny_key, np.ones(1), 2), EncryptedArray)


# ---------------------------------------------------------------------------
# real data: encrypted FedAvg of the book's spam model (enron1, three clients)
# ---------------------------------------------------------------------------


@needs_enron
def test_encrypted_fedavg_of_spam_models_on_a_public_row_subset_matches_plain_fedavg(keys512):
    # Arrange: bob, alice and sue train the book's model for one epoch on enron1
    from minigrad.datasets import load_enron_spam
    from minigrad.recipes import spam

    d = spam.book_recipe(load_enron_spam(ENRON_ROOT, folders=("enron1",)), test_per_class=200)
    X, y = d.X_train, d.y_train
    parts = [(X[:1000], y[:1000]), (X[1000:2000], y[1000:2000]), (X[2000:3000], y[2000:3000])]
    models = []
    for Xc, yc in parts:
        model = spam.spam_model(len(d.vocab))
        spam.train_epoch(model, Xc, yc)
        models.append(model.state_dict())
    rows = np.arange(2000)  # a public row set, the same for every client (not the rows used)
    subsets = [{"weight": m["weight"][rows]} for m in models]
    pk, sk = keys512
    rng = np.random.default_rng(0)

    # Act
    encrypted = [encrypt_params(pk, s, rng, encoding=PACKED) for s in subsets]
    average = decrypt_average(sk, encrypted_fedavg([(e, 1000) for e in encrypted]))

    # Assert
    expected = fedavg([(s, 1000) for s in subsets])["weight"]
    assert np.abs(expected).max() > 0.01  # the models did train
    np.testing.assert_allclose(average["weight"], expected, rtol=1e-6, atol=2.0 ** -24)
    assert params_nbytes(encrypted[0]) == math.ceil(2000 / 7) * 128


# ---------------------------------------------------------------------------
# issue 17: what the Paillier server and key holder accept
# ---------------------------------------------------------------------------
def test_a_client_of_weight_zero_does_not_count_towards_min_clients(keys, rng):
    pk, sk = keys
    a = encrypt_params(pk, {"w": np.array([1.0, 2.0])}, rng)
    b = encrypt_params(pk, {"w": np.array([5.0, -1.0])}, rng)

    aggregate = encrypted_fedavg([(a, 0), (b, 3)])   # its "average" is b's model

    assert aggregate.num_clients == 1
    with pytest.raises(ValueError, match="one client's model"):
        decrypt_average(sk, aggregate)
    with pytest.raises(ValueError, match="min_contributors=2"):
        decrypt_params(sk, sum_params([{"w": a["w"] * 0}, b]))
    two = encrypted_fedavg([(a, 1), (b, 3), (a, 0)])
    assert two.num_clients == 2
    np.testing.assert_allclose(decrypt_average(sk, two)["w"], [4.0, -0.25], atol=1e-9)


def _forged(enc, **change):
    value = enc["w"]
    fields = dict(public_key=value.public_key, ciphertexts=list(value.ciphertexts),
                  shape=value.shape, dtype=value.dtype, encoding=value.encoding,
                  frac_bits=value.frac_bits, bound=value.bound, contributors=1)
    fields.update(change)
    return {"w": EncryptedArray(**fields)}


@pytest.mark.parametrize("bad", ["key", "shape", "scale", "bound", "contributors", "count",
                                 "range", "type", "names"])
def test_encrypted_fedavg_refuses_a_malformed_message(keys, keys512, rng, bad):
    pk = keys[0]
    enc = encrypt_params(pk, {"w": np.array([1.0, 2.0])}, rng)
    other = encrypt_params(keys512[0], {"w": np.array([1.0, 2.0])}, rng)
    forged = {"key": other, "shape": _forged(enc, shape=(2, 1)),
              "scale": _forged(enc, frac_bits=enc["w"].frac_bits + 1),
              "bound": _forged(enc, bound=2 ** 200),
              "contributors": _forged(enc, contributors=5),
              "count": _forged(enc, ciphertexts=enc["w"].ciphertexts[:1]),
              "range": _forged(enc, ciphertexts=[pk.n_square, 0]),
              "type": {"w": np.array([1.0, 2.0])},
              "names": {"v": enc["w"]}}[bad]

    with pytest.raises((ValueError, TypeError), match="client 1"):
        encrypted_fedavg([(enc, 2), (forged, 3)])


@pytest.mark.parametrize("make", [lambda: generate_keypair(512, rng=np.random.default_rng(0)),
                                  lambda: scheme.PublicKey(DEMO_512.n)],
                         ids=["generate_keypair", "PublicKey"])
def test_a_key_below_2048_bits_needs_an_explicit_opt_in(make):
    with pytest.raises(ValueError, match="insecure_demo=True"):
        make()


@pytest.mark.parametrize("n", [15, 2 ** 127 - 1, 3 * (2 ** 127 - 1), (2 ** 61 - 1) ** 2],
                         ids=["15", "prime", "small-factor", "square"])
def test_a_modulus_that_is_not_two_large_distinct_primes_is_refused_even_in_a_demo(n):
    with pytest.raises(ValueError, match="two distinct large primes"):
        scheme.PublicKey(n, insecure_demo=True)


def test_values_below_the_encodings_resolution_decrypt_to_zero_as_documented(keys, rng):
    pk, sk = keys
    encoding = Encoding()
    assert encoding.resolution == 2.0 ** -33
    x = np.array([2.0 ** -34, -(2.0 ** -34), 2.0 ** -32, 1e-12])

    back = sk.decrypt_array(encrypt_array(pk, x, rng, encoding=encoding))

    np.testing.assert_array_equal(back, [0.0, 0.0, 2.0 ** -32, 0.0])
    assert np.abs(back - x).max() <= encoding.resolution
