"""FedAvg through cryptography: aggregators whose server never sees one client's update.

    run_round(server, clients, update_fn, rng=rng,
              aggregator=PaillierFedAvg(public_key, private_key, encoding))
    run_round(server, clients, update_fn, rng=rng, aggregator=SecureAggregation(t=7, clip=0.1))
    total, result = secure_sum(deltas, t=7, rng=rng, dropout={3})   # the protocol on mappings

The contract (``minigrad.federated.aggregator.Aggregator``): ``encode`` runs on the
client and is all it sends; ``aggregate`` runs on the server on the messages, in
client order, and returns the mean delta and the record's extra fields.
"""

import time

import numpy as np

from ..federated.aggregator import Aggregator
from ..federated.params import check_same_keys, check_update, flatten, unflatten
from . import paillier
from . import secure_aggregation as secagg

__all__ = ["PaillierFedAvg", "SecureAggregation", "secure_sum"]


class PaillierFedAvg(Aggregator):
    """FedAvg in which the server holds only ciphertexts (the book's chapter 15, corrected).

    Each client encrypts its delta under ``public_key`` (fixed point per ``encoding``,
    randomness from the round's ``rng``) and sends it with its example count; the
    server computes sum_k n_k E(delta_k) (``paillier.encrypted_fedavg``); the key holder
    (``private_key``) decrypts only that sum and divides by sum_k n_k
    (``paillier.decrypt_average``, which refuses a single client).

    Record fields: ``num_ciphertexts`` (per client) and ``decrypt_seconds`` (wall
    clock inside ``aggregate``, for display).
    """

    def __init__(self, public_key, private_key, encoding):
        encoding.check(public_key)
        self.public_key, self.private_key, self.encoding = public_key, private_key, encoding

    def __repr__(self):
        return f"PaillierFedAvg({self.public_key.bits}-bit key)"

    def encode(self, update, rng):
        encrypted = paillier.encrypt_params(self.public_key, update.delta, rng,
                                            encoding=self.encoding)
        return encrypted, int(update.num_examples)

    def message_bytes(self, message):
        return paillier.params_nbytes(message[0])

    def aggregate(self, messages, template, rng):
        for i, (encrypted, _) in enumerate(messages):
            check_same_keys(template, encrypted, f"PaillierFedAvg: message {i}")
        total = paillier.encrypted_fedavg(messages)  # the server: ciphertexts in, one out
        start = time.perf_counter()
        mean = paillier.decrypt_average(self.private_key, total, dtype=np.float64)
        return mean, {
            "num_ciphertexts": [sum(a.num_ciphertexts for a in e.values()) for e, _ in messages],
            "decrypt_seconds": time.perf_counter() - start,
        }


class SecureAggregation(Aggregator):
    """The mean of the clients' deltas through Bonawitz et al.'s secure aggregation.

    Each client's input is its delta, flattened and clipped entrywise to [-clip, clip];
    the server learns only the sum of the survivors' inputs (``secure_aggregation.run``
    with threshold ``t``), and divides by their number: every client counts the same.
    ``dropout``: positions among the round's sampled clients that drop out (as in
    ``run``). ``encode`` is the client's private input: in the protocol it never leaves
    the client unmasked; ``message_bytes`` is its masked input y (uint32 per entry).

    Record fields: ``survivors`` (client positions in the round), ``error_bound`` (max
    |result - exact mean| from quantization), ``protocol_bytes`` (bytes by protocol round).
    ``insecure_demo=True`` allows t <= n / 2 (see ``secure_aggregation.Client``).
    """

    def __init__(self, t, clip=1.0, dropout=(), *, insecure_demo=False):
        self.t, self.clip, self.dropout = t, clip, dropout
        self.insecure_demo = bool(insecure_demo)

    def __repr__(self):
        return f"SecureAggregation(t={self.t}, clip={self.clip})"

    def encode(self, update, rng):
        return update.delta

    def message_bytes(self, message):
        return int(sum(np.size(v) for v in message.values()) * np.dtype(np.uint32).itemsize)

    def aggregate(self, messages, template, rng):
        total, result = secure_sum(messages, self.t, rng, dropout=self.dropout, clip=self.clip,
                                   insecure_demo=self.insecure_demo)
        count = len(result.survivors)
        mean = {k: total[k] / count for k in template}
        return mean, {
            "survivors": list(result.survivors),
            "error_bound": result.error_bound / count,
            "protocol_bytes": result.transcript.bytes_by_round(),
        }


def secure_sum(deltas, t, rng, *, dropout=(), clip=1.0, keep_messages=False,
               insecure_demo=False):
    """Sum clients' updates with secure aggregation (``secure_aggregation.run``).

    deltas: [{name: ndarray}, ...], one per client, same names and shapes; t: the
    threshold; dropout: client positions that drop after sharing keys (or a
    {round: positions} mapping, as in ``run``); clip: every entry is clipped to
    [-clip, clip] before quantizing. -> ({name: float64 sum of the survivors'
    clipped updates}, the protocol's ``Result``: transcript, survivors, error bound).
    t must exceed len(deltas) / 2 unless ``insecure_demo=True``. Each update is checked
    (names, shapes, floating dtype, finite) before the protocol starts.
    """
    deltas = list(deltas)
    if len(deltas) < 2:
        raise ValueError(f"secure_sum: need at least 2 clients, got {len(deltas)}")
    for i, d in enumerate(deltas):
        check_update(deltas[0], d, f"secure_sum: client {i}")
    names = list(deltas[0])
    vectors = np.stack([flatten(d, names) for d in deltas])
    result = secagg.run(vectors, t, rng, dropout=dropout, clip=clip, keep_messages=keep_messages,
                        insecure_demo=insecure_demo)
    return unflatten(result.sum, {n: deltas[0][n] for n in names}), result
