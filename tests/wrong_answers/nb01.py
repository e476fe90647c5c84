"""Notebook 01: a plausible wrong answer per exercise, and right answers written differently."""

WRONG = {
    # the book's plain mean: every client counts the same, whatever its size
    "try_weighted_fedavg": '''def my_fedavg(models, num_examples):
    """The example-weighted average of client models."""
    return {name: sum(model[name] for model in models) / len(models) for name in models[0]}
''',
    # np.nonzero of the elementwise difference lists a row once per changed column
    "sparse_update": '''def sparse_update(sent, received):
    """Only the rows that changed: {name: (rows, values)} for every parameter."""
    import numpy as np

    out = {}
    for name, after in received.items():
        rows = np.nonzero(after != sent[name])[0].astype(np.int32)
        out[name] = (rows, after[rows])
    return out
''',
    # each row averaged over the clients that sent it only: a client that left a row
    # alone should pull it towards the server's value
    "apply_sparse_updates": '''def apply_sparse_updates(server, updates, weighted=True):
    """Average sparse client updates into new server parameters."""
    import numpy as np

    updates = list(updates)
    if not updates:
        raise ValueError("no updates")
    out = {}
    for name, value in server.items():
        total = np.zeros(value.shape)
        weight = np.zeros(len(value))
        for sparse, n in updates:
            rows, values = sparse[name]
            w = n if weighted else 1
            total[rows] += w * values
            weight[rows] += w
        new = value.astype(np.float64)
        sent = weight > 0
        new[sent] = total[sent] / weight[sent].reshape((-1,) + (1,) * (value.ndim - 1))
        out[name] = new.astype(value.dtype)
    return out
''',
    # section 8.4's "4 bytes of index + 4 bytes of value per row", taken literally
    "sparse_num_bytes": '''def sparse_num_bytes(sparse):
    """Bytes of a sparse update on the wire: row indices plus their values."""
    return sum(4 * len(rows) + 4 * len(values) for rows, values in sparse.values())
''',
    # half precision hard-wired: the dtype argument is ignored
    "cast_update": '''import numpy as np


def cast_update(update_fn, dtype=np.float16):
    """An update function like update_fn whose client uploads its parameters in dtype."""
    def wrapped(params, data):
        sent, n = update_fn(params, data)
        return {k: v.astype(np.float16) for k, v in sent.items()}, n
    return wrapped
''',
}

OTHER_RIGHT = {
    # stack the clients and let np.average weight them
    "try_weighted_fedavg": '''import numpy as np


def my_fedavg(models, num_examples):
    """The example-weighted average of client models."""
    return {name: np.average(np.stack([m[name] for m in models]), axis=0, weights=num_examples)
            for name in models[0]}
''',
    # one row at a time
    "sparse_update": '''import numpy as np


def sparse_update(sent, received):
    """Only the rows that changed: {name: (rows, values)} for every parameter."""
    out = {}
    for name in received:
        rows = [i for i in range(len(received[name]))
                if not np.array_equal(received[name][i], sent[name][i])]
        rows = np.array(rows, dtype=np.int32)
        out[name] = (rows, np.asarray(received[name])[rows])
    return out
''',
    # rebuild every client's full model, then take the weighted mean; other error messages
    "apply_sparse_updates": '''import numpy as np


def apply_sparse_updates(server, updates, weighted=True):
    """Average sparse client updates into new server parameters."""
    if len(updates) == 0:
        raise ValueError("nothing to average")
    counts = [n if weighted else 1 for _, n in updates]
    if sum(counts) == 0:
        raise ValueError("zero examples")
    out = {}
    for name, value in server.items():
        total = np.zeros(value.shape)
        for (sparse, _), n in zip(updates, counts):
            full = value.astype(np.float64)
            rows, values = sparse[name]
            full[rows] = values
            total += n * full
        out[name] = (total / sum(counts)).astype(value.dtype)
    return out
''',
    "sparse_num_bytes": '''def sparse_num_bytes(sparse):
    """Bytes of a sparse update on the wire: row indices plus their values."""
    total = 0
    for pair in sparse.values():
        for array in pair:
            total += array.size * array.itemsize
    return total
''',
    "cast_update": '''import numpy as np


def cast_update(update_fn, dtype=np.float16):
    """An update function like update_fn whose client uploads its parameters in dtype."""
    def upload_in_dtype(params, data):
        result = update_fn(params, data)
        cast = {name: np.asarray(value, dtype=dtype) for name, value in result[0].items()}
        return cast, result[1]
    return upload_in_dtype
''',
}
