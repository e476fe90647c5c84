"""Parameter mappings ``{name: ndarray}``, the unit every federated protocol sends.

Helpers shared by every round and aggregator: the same-names-and-shapes check,
the byte count of a payload, copies, deltas, and flattening to one vector.
"""

import numpy as np

__all__ = ["num_bytes", "check_same_keys", "check_update", "copy_params", "delta", "flatten",
           "unflatten"]


def num_bytes(params):
    """Bytes of a mapping of arrays as it would travel (the raw array payload) -> int."""
    return int(sum(np.asarray(v).nbytes for v in params.values()))


def check_same_keys(reference, params, who):
    """Raise ValueError unless ``params`` has ``reference``'s names and shapes.

    ``who`` names the sender in the message (e.g. ``"fedavg: client 3"``).
    """
    if set(params) != set(reference):
        missing = sorted(set(reference) - set(params))
        extra = sorted(set(params) - set(reference))
        raise ValueError(f"{who}: parameter names differ (missing {missing}, unexpected {extra})")
    for name, value in params.items():
        if np.shape(value) != np.shape(reference[name]):
            raise ValueError(f"{who}: '{name}' has shape {np.shape(value)}, "
                             f"expected {np.shape(reference[name])}")


def check_update(reference, params, who, *, same_dtype=False):
    """Raise unless ``params`` is a valid update for ``reference``: names, shapes, dtypes, finite.

    Names and shapes must equal ``reference``'s exactly (no broadcasting); every value
    must be a real floating array (or have the reference's own dtype), equal to the
    reference's dtype if ``same_dtype``, and finite: one NaN would turn every client's
    average into NaN. ``who`` names the sender. Call it before any state changes.
    """
    if not isinstance(params, dict):
        raise TypeError(f"{who}: expected a {{name: ndarray}} mapping, got "
                        f"{type(params).__name__}")
    check_same_keys(reference, params, who)
    for name, value in params.items():
        value, expected = np.asarray(value), np.asarray(reference[name]).dtype
        if same_dtype and value.dtype != expected:
            raise ValueError(f"{who}: '{name}' has dtype {value.dtype}, expected {expected}")
        if not (np.issubdtype(value.dtype, np.floating) or value.dtype == expected):
            raise ValueError(f"{who}: '{name}' has dtype {value.dtype}, expected a floating "
                             f"dtype like {expected}")
        if value.size and not np.isfinite(value).all():
            raise ValueError(f"{who}: '{name}' holds {int((~np.isfinite(value)).sum())} "
                             f"non-finite value(s) (nan or inf); expected finite numbers")


def copy_params(params):
    """A deep copy: {name: new ndarray}. What a broadcast hands each client."""
    return {name: np.array(value, copy=True) for name, value in params.items()}


def delta(before, after, who="delta"):
    """{name: after - before} in float64, in ``before``'s order.

    Float64 keeps float32 differences exact (the difference of two float32
    numbers fits in a float64 mantissa), so nothing a client changed is lost.
    """
    check_same_keys(before, after, who)
    return {name: np.asarray(after[name], dtype=np.float64)
            - np.asarray(before[name], dtype=np.float64) for name in before}


def flatten(params, names=None):
    """{name: ndarray} -> one float64 vector, arrays raveled in ``names`` order
    (default: the mapping's order)."""
    names = list(params) if names is None else list(names)
    if not names:
        raise ValueError("flatten: no parameters")
    return np.concatenate([np.asarray(params[n], dtype=np.float64).ravel() for n in names])


def unflatten(vector, template):
    """Inverse of ``flatten``: vector (total size,) -> {name: float64 array shaped like
    ``template[name]``}, in ``template``'s order."""
    vector = np.asarray(vector, dtype=np.float64)
    sizes = [int(np.size(v)) for v in template.values()]
    if vector.shape != (sum(sizes),):
        raise ValueError(f"unflatten: the vector has shape {vector.shape}, the template "
                         f"needs ({sum(sizes)},)")
    out, start = {}, 0
    for (name, value), size in zip(template.items(), sizes, strict=True):
        out[name] = vector[start:start + size].reshape(np.shape(value))
        start += size
    return out
