"""The cryptographic aggregators in a real round: Paillier FedAvg equals plain FedAvg up to
its fixed-point rounding; secure aggregation gives the plain mean within its error bound."""

import numpy as np
import pytest
from tinyspam import paillier_test_keys, tiny_spam_clients

from minigrad.federated import FedAvg, run_round
from minigrad.privacy import paillier
from minigrad.privacy.secure_sums import PaillierFedAvg, SecureAggregation, secure_sum
from minigrad.recipes import spam

tiny = pytest.fixture(tiny_spam_clients)
keys = pytest.fixture(scope="module")(paillier_test_keys)


def test_encrypted_round_equals_plain_weighted_fedavg(tiny, keys, rng):
    vocab, clients, update = tiny
    public_key, private_key = keys
    server = {"weight": rng.uniform(-0.3, 0.3, (len(vocab), 1)).astype(np.float32)}
    encoding = paillier.Encoding(frac_bits=40, max_abs=4.0, slot_bits=None)

    encrypted, record = run_round(server, clients, update, rng=rng, keep_messages=True,
                                  aggregator=PaillierFedAvg(public_key, private_key, encoding))
    plain, plain_record = run_round(server, clients, update)

    assert encrypted["weight"].dtype == np.float32
    np.testing.assert_allclose(encrypted["weight"], plain["weight"], atol=2e-7, rtol=0)
    assert np.any(encrypted["weight"] != server["weight"])
    assert record["num_examples"] == plain_record["num_examples"] == 9
    assert record["num_ciphertexts"] == [len(vocab)] * 3
    assert record["bytes_up"] == 3 * len(vocab) * public_key.ciphertext_bytes
    assert record["decrypt_seconds"] >= 0
    assert all(c["weight"].contributors == 1 for c, _ in record["messages"])


def test_encrypted_round_of_one_client_is_refused(tiny, keys, rng):
    vocab, clients, update = tiny
    server = spam.spam_model(len(vocab)).state_dict()

    with pytest.raises(ValueError, match="one client's model"):
        run_round(server, clients[:1], update, rng=rng,
                  aggregator=PaillierFedAvg(*keys, paillier.Encoding()))


def test_secure_aggregation_round_gives_the_plain_mean_within_its_bound(tiny, rng):
    vocab, clients, update = tiny
    server = {"weight": rng.uniform(-0.3, 0.3, (len(vocab), 1)).astype(np.float32)}

    secure, record = run_round(server, clients, update, rng=rng,
                               aggregator=SecureAggregation(t=2, clip=1.0))
    plain, plain_record = run_round(server, clients, update, aggregator=FedAvg(weighted=False))

    assert record["survivors"] == [0, 1, 2]
    assert np.any(plain["weight"] != server["weight"])
    gap = np.abs(secure["weight"].astype(np.float64) - plain["weight"]).max()
    assert gap <= record["error_bound"] + 1e-7  # + float32 rounding of the new model
    assert record["bytes_up"] == plain_record["bytes_up"]  # one uint32 per float32 weight
    assert record["protocol_bytes"]["masked_input"]["up"] > 0


def test_secure_aggregation_round_averages_the_survivors_only(tiny, rng):
    vocab, clients, update = tiny
    server = spam.spam_model(len(vocab)).state_dict()

    secure, record = run_round(server, clients, update, rng=rng,
                               aggregator=SecureAggregation(t=2, clip=1.0, dropout={1}))
    two, _ = run_round(server, [clients[0], clients[2]], update,
                       aggregator=FedAvg(weighted=False))

    assert record["survivors"] == [0, 2]
    gap = np.abs(secure["weight"].astype(np.float64) - two["weight"]).max()
    assert gap <= record["error_bound"] + 1e-7


def test_secure_aggregation_needs_two_clients(tiny, rng):
    vocab, clients, update = tiny
    server = spam.spam_model(len(vocab)).state_dict()

    with pytest.raises(ValueError, match="at least 2 clients"):
        run_round(server, clients[:1], update, rng=rng, aggregator=SecureAggregation(t=2))


def test_secure_sum_equals_the_plain_sum_within_its_bound(rng):
    deltas = [{"weight": rng.normal(0, 0.01, (50, 1)), "bias": rng.normal(0, 0.01, 2)}
              for _ in range(4)]

    total, result = secure_sum(deltas, 3, rng, clip=0.1)

    for name in ("weight", "bias"):
        plain = sum(d[name] for d in deltas)
        assert total[name].shape == plain.shape
        assert np.abs(total[name] - plain).max() <= result.error_bound
    assert result.survivors == (0, 1, 2, 3)


def test_secure_sum_leaves_out_a_client_that_dropped(rng):
    deltas = [{"weight": np.full((5, 1), 0.01 * (k + 1))} for k in range(4)]

    total, result = secure_sum(deltas, 3, rng, dropout={1})

    np.testing.assert_allclose(total["weight"], np.full((5, 1), 0.01 + 0.03 + 0.04),
                               atol=result.error_bound)
    assert result.survivors == (0, 2, 3)


def test_secure_sum_needs_two_clients_with_the_same_names(rng):
    with pytest.raises(ValueError, match="at least 2"):
        secure_sum([{"weight": np.zeros(3)}], 2, rng)
    with pytest.raises(ValueError, match="client 1"):
        secure_sum([{"weight": np.zeros(3)}, {"bias": np.zeros(3)}], 2, rng)
