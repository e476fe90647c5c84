"""The spam model under three defences: Paillier FedAvg, secure aggregation, DP-FedAvg.

Notebook 05's pipeline around the privacy package (``minigrad.privacy``): it trains
the book's spam model (``recipes.spam``) federated, with what leaves each client
being its update ``delta = client - server``, and measures what an attacker still
learns from what it sees.

    clients = iid_clients(X, y, 1000, rng, rows=unique_training_rows(data))

    def round_fn(params, history):  # update(params, client) -> (params, num_examples)
        return dp.dp_fedavg_round(params, clients, update, rng=rng, sample_rate=0.1,
                                  clip=0.3, noise_multiplier=1.0, history=history)

    params, history, curve = train_rounds(round_fn, server, 30, frozen={"weight": [0]})
    new, record = paillier_fedavg_round(server, clients, update, pk, sk, rng=rng, encoding=enc)
    total, result = secure_sum(deltas, t=7, rng=rng, dropout={3})
    scores = attack_scores(noisy_delta, true_rows)

Everything is a function of its inputs; randomness only from the ``np.random.Generator``
passed in. Wall-clock timings are returned in records (``record["seconds"]``) for the
notebook to print where outputs are not compared.
"""

import time

import numpy as np

from ..datasets.partitions import iid_partition
from ..federated.fedavg import History, _check_same_keys, num_bytes
from ..privacy import paillier
from ..privacy import secure_aggregation as secagg
from . import spam

__all__ = [
    "unique_training_rows",
    "iid_clients",
    "local_trainer",
    "client_delta",
    "train_rounds",
    "paillier_upload_size",
    "paillier_fedavg_round",
    "flatten_params",
    "unflatten_params",
    "secure_sum",
    "ranked_rows",
    "attack_scores",
]


# ---------------------------------------------------------------------------
# clients and their local work
# ---------------------------------------------------------------------------
def unique_training_rows(data):
    """Positions into ``data.X_train`` of each distinct email, first occurrence, sorted.

    The book's ``interleave`` cycles the shorter class, so some emails fill two
    training rows; two copies of one email in two clients would make one person's
    email count for two users. -> int64 (num_distinct_emails,).
    """
    _, first = np.unique(np.asarray(data.train_rows), return_index=True)
    return np.sort(first).astype(np.int64)


def iid_clients(X, y, num_clients, rng, rows=None):
    """``num_clients`` IID clients over ``rows`` (default: every row): [(X_k, y_k), ...].

    X (N, max_len) ids, y (N, 1); rows: int positions into X (e.g.
    ``unique_training_rows``) shuffled with ``rng`` and cut into near-equal parts.
    """
    rows = np.arange(len(X)) if rows is None else np.asarray(rows)
    parts = iid_partition(len(rows), num_clients, rng)
    return [(X[rows[p]], y[rows[p]]) for p in parts]


def local_trainer(loss="bce", alpha=1.0, batch_size=None):
    """A ``train_fn(model, (X, y)) -> num_examples`` for ``client_update``: one epoch of
    ``spam.train_epoch`` with ``loss`` and SGD ``alpha``; ``batch_size=None`` trains on
    all the client's rows at once (one full-batch step), and no row is ever skipped."""
    if batch_size is not None and (not isinstance(batch_size, int) or batch_size < 1):
        raise ValueError(f"local_trainer: batch_size={batch_size!r} must be None (full "
                         f"batch) or an int >= 1")

    def train_fn(model, data):
        X, y = data
        size = len(X) if batch_size is None else batch_size
        return spam.train_epoch(model, X, y, batch_size=size, alpha=alpha, loss=loss,
                                drop_last=False)

    return train_fn


def client_delta(sent, received):
    """What a client's training changed: {name: received - sent} in float64.

    Float64, so the exact float32 differences are kept (a float32 subtraction is
    exact here, and the cast up loses nothing).
    """
    _check_same_keys(sent, received, "client_delta")
    return {k: np.asarray(received[k], dtype=np.float64) - np.asarray(sent[k], dtype=np.float64)
            for k in sent}


def train_rounds(round_fn, params, num_rounds, *, evaluate=None, frozen=None):
    """``num_rounds`` rounds of ``round_fn``; returns (params, history, curve).

    round_fn(params, history) -> (new_params, record): one federated round that
    appends its record to ``history`` (e.g. ``dp.dp_fedavg_round(params, clients,
    update, ..., history=history)``). evaluate(params) -> float is called after every
    round (curve: one value per round; empty without ``evaluate``).

    frozen: {name: row indices} of rows that are constants of the model, not
    parameters (e.g. an embedding's padding row, which the forward pass still reads).
    After every round they are set back to their starting values. That is
    post-processing of public constants: it costs DP-FedAvg no privacy, and it keeps
    the noise a round adds to those rows from acting as a hidden bias.
    """
    if not isinstance(num_rounds, int) or num_rounds < 0:
        raise ValueError(f"train_rounds: num_rounds={num_rounds!r} must be an int >= 0")
    frozen = {} if frozen is None else frozen
    for name in frozen:
        if name not in params:
            raise KeyError(f"train_rounds: frozen names {name!r}, not a parameter "
                           f"(have {sorted(params)})")
    keep = {name: (np.asarray(rows), np.array(params[name][np.asarray(rows)], copy=True))
            for name, rows in frozen.items()}
    history, curve = History(), []
    for _ in range(num_rounds):
        params, _ = round_fn(params, history)
        for name, (rows, values) in keep.items():
            params[name] = np.array(params[name], copy=True)
            params[name][rows] = values
        if evaluate is not None:
            curve.append(float(evaluate(params)))
    return params, history, curve


# ---------------------------------------------------------------------------
# Paillier: encrypted FedAvg
# ---------------------------------------------------------------------------
def paillier_upload_size(num_values, public_key, encoding):
    """(ciphertexts, bytes) to encrypt ``num_values`` numbers under ``public_key`` with
    ``encoding`` (``encoding.slots(public_key)`` values per ciphertext)."""
    if not isinstance(num_values, (int, np.integer)) or num_values < 0:
        raise ValueError(f"paillier_upload_size: num_values={num_values!r} must be an int >= 0")
    encoding.check(public_key)
    count = -(-int(num_values) // encoding.slots(public_key))
    return count, count * public_key.ciphertext_bytes


def paillier_fedavg_round(server_params, clients, update_fn, public_key, private_key, *, rng,
                          encoding, round_num=None, history=None, keep_ciphertexts=False):
    """One FedAvg round in which the server only ever holds ciphertexts.

    broadcast -> each client trains (``update_fn(params_copy, client) -> (params,
    num_examples)``, as in ``run_round``) and encrypts its update ``params - server``
    under ``public_key`` (fresh randomness from ``rng``, fixed point per ``encoding``)
    -> the server computes ``sum_k n_k E(delta_k)`` (``paillier.encrypted_fedavg``)
    -> the key holder decrypts only that sum and divides by ``sum_k n_k``
    (``paillier.decrypt_average``, which refuses a single client) -> server update
    ``server + average``. Every client takes part.

    Returns (new_params, record). The record has ``run_round``'s keys
    (``bytes_up`` is the encrypted upload) plus ``bytes_up_plain`` (what a plain
    float upload of the same parameters weighs), ``num_ciphertexts`` (per client)
    and ``seconds`` ({"train", "encrypt", "aggregate", "decrypt"}: wall clock, for
    display only); with ``keep_ciphertexts``, ``ciphertexts`` holds each client's
    encrypted update ({name: EncryptedArray}), i.e. what the server received.
    """
    if not clients:
        raise ValueError("paillier_fedavg_round: no clients")
    seconds = {"train": 0.0, "encrypt": 0.0, "aggregate": 0.0, "decrypt": 0.0}
    results, bytes_up, bytes_plain, num_ct, num_examples = [], 0, 0, [], 0
    for k, client in enumerate(clients):
        sent = {name: np.array(v, copy=True) for name, v in server_params.items()}
        start = time.perf_counter()
        params, n = update_fn(sent, client)
        seconds["train"] += time.perf_counter() - start
        _check_same_keys(server_params, params, f"paillier_fedavg_round: client {k}")
        delta = client_delta(server_params, params)
        start = time.perf_counter()
        encrypted = paillier.encrypt_params(public_key, delta, rng, encoding=encoding)
        seconds["encrypt"] += time.perf_counter() - start
        bytes_up += paillier.params_nbytes(encrypted)
        bytes_plain += num_bytes(params)
        num_ct.append(sum(a.num_ciphertexts for a in encrypted.values()))
        num_examples += int(n)
        results.append((encrypted, int(n)))
    start = time.perf_counter()
    aggregate = paillier.encrypted_fedavg(results)  # the server: ciphertexts in, one out
    seconds["aggregate"] = time.perf_counter() - start
    start = time.perf_counter()
    average = paillier.decrypt_average(private_key, aggregate, dtype=np.float64)
    seconds["decrypt"] = time.perf_counter() - start
    new_params = {name: (np.asarray(server_params[name], dtype=np.float64) + average[name])
                  .astype(server_params[name].dtype, copy=False) for name in server_params}
    record = {
        "round": round_num if round_num is not None else (len(history) + 1 if history else 1),
        "clients": list(range(len(clients))),
        "num_examples": num_examples,
        "bytes_down": num_bytes(server_params) * len(clients),
        "bytes_up": bytes_up,
        "bytes_up_plain": bytes_plain,
        "num_ciphertexts": num_ct,
        "seconds": seconds,
    }
    if keep_ciphertexts:
        record["ciphertexts"] = [encrypted for encrypted, _ in results]
    if history is not None:
        history.append(record)
    return new_params, record


# ---------------------------------------------------------------------------
# secure aggregation of parameter mappings
# ---------------------------------------------------------------------------
def flatten_params(params, names=None):
    """{name: ndarray} -> one float64 vector, the arrays raveled in ``names`` order
    (default: the mapping's order)."""
    names = list(params) if names is None else list(names)
    if not names:
        raise ValueError("flatten_params: no parameters")
    return np.concatenate([np.asarray(params[n], dtype=np.float64).ravel() for n in names])


def unflatten_params(vector, template):
    """Inverse of ``flatten_params``: a vector -> {name: float64 array shaped like
    ``template[name]``}, in ``template``'s order."""
    vector = np.asarray(vector, dtype=np.float64)
    sizes = [int(np.size(v)) for v in template.values()]
    if vector.shape != (sum(sizes),):
        raise ValueError(f"unflatten_params: the vector has shape {vector.shape}, the template "
                         f"needs ({sum(sizes)},)")
    out, start = {}, 0
    for (name, value), size in zip(template.items(), sizes, strict=True):
        out[name] = vector[start:start + size].reshape(np.shape(value))
        start += size
    return out


def secure_sum(deltas, t, rng, *, dropout=(), clip=1.0, keep_messages=False):
    """Sum clients' updates with secure aggregation (``secure_aggregation.run``).

    deltas: [{name: ndarray}, ...], one per client, same names and shapes; t: the
    threshold; dropout: client positions that drop after sharing keys (or a
    {round: positions} mapping, as in ``run``); clip: every entry is clipped to
    [-clip, clip] before quantizing. -> ({name: float64 sum of the survivors'
    clipped updates}, the protocol's ``Result``: transcript, survivors, error bound).
    """
    deltas = list(deltas)
    if len(deltas) < 2:
        raise ValueError(f"secure_sum: need at least 2 clients, got {len(deltas)}")
    for i, d in enumerate(deltas[1:], start=1):
        _check_same_keys(deltas[0], d, f"secure_sum: client {i}")
    names = list(deltas[0])
    vectors = np.stack([flatten_params(d, names) for d in deltas])
    result = secagg.run(vectors, t, rng, dropout=dropout, clip=clip, keep_messages=keep_messages)
    return unflatten_params(result.sum, {n: deltas[0][n] for n in names}), result


# ---------------------------------------------------------------------------
# the row-diff attack, scored
# ---------------------------------------------------------------------------
def ranked_rows(delta, name="weight"):
    """Rows of ``delta[name]`` (rows, ...) from the largest |change| (over a row's entries)
    to the smallest; ties keep row order. -> int64 (rows,)."""
    d = np.abs(np.asarray(delta[name], dtype=np.float64))
    if d.ndim == 0:
        raise ValueError(f"ranked_rows: {name!r} is a scalar; it has no rows")
    return np.argsort(-d.reshape(len(d), -1).max(axis=1), kind="stable").astype(np.int64)


def attack_scores(delta, true_rows, name="weight", ignore=()):
    """How well two row attacks find ``true_rows`` in what the attacker sees, ``delta``.

    delta: {name: (rows, ...)}, the update as the attacker sees it (plain, clipped,
    noised, summed with others...); true_rows: the rows the target's data moved;
    ignore: rows never scored (e.g. padding). Returns a dict:

    * ``changed``, ``changed_precision``, ``changed_recall``: notebook 02's attack,
      every row with delta != 0, scored against ``true_rows``;
    * ``top_precision``: the ``m = len(true_rows)`` rows with the largest |delta|
      (a noise-aware attacker who knows how many words to look for); with m
      guesses for m true rows, precision = recall.

    An empty guess has precision 1 (it claims nothing false); empty ``true_rows``
    have recall 1.
    """
    d = np.asarray(delta[name], dtype=np.float64)
    d = d.reshape(len(d), -1)
    keep = np.ones(len(d), dtype=bool)
    keep[np.asarray(list(ignore), dtype=np.int64)] = False
    truth = np.zeros(len(d), dtype=bool)
    truth[np.asarray(true_rows, dtype=np.int64)] = True
    truth &= keep
    m = int(truth.sum())
    changed = (d != 0).any(axis=1) & keep
    hits = int((changed & truth).sum())
    order = ranked_rows({name: d}, name)
    top_hits = int(truth[order[keep[order]][:m]].sum())
    num_changed = int(changed.sum())
    return {
        "changed": num_changed,
        "changed_precision": hits / num_changed if num_changed else 1.0,
        "changed_recall": hits / m if m else 1.0,
        "top_precision": top_hits / m if m else 1.0,
    }
