"""The matrix-factorization model: parameter names, ``MFSpec``, the prediction, its gradients.

y_hat = u . v_i (+ b_i + mu + b_u). Global (server) parameters: item_embedding (I, D),
item_bias (I,), global_bias (); local (device) ones: user_embedding (D,), user_bias ().
``predict_rows`` is the one prediction formula; every engine calls it.
"""

from dataclasses import dataclass
from typing import Any

import numpy as np

from ...rng import check_generator

__all__ = [
    "ITEM_EMBEDDING",
    "ITEM_BIAS",
    "GLOBAL_BIAS",
    "USER_EMBEDDING",
    "USER_BIAS",
    "PrivacyError",
    "check_global_names",
    "MFSpec",
    "predict_rows",
    "predict",
    "mf_loss_and_grads",
    "mf_loss_autograd",
]

ITEM_EMBEDDING = "item_embedding"
ITEM_BIAS = "item_bias"
GLOBAL_BIAS = "global_bias"
USER_EMBEDDING = "user_embedding"
USER_BIAS = "user_bias"


class PrivacyError(ValueError):
    """A local (user) parameter, or an unknown name, was about to reach the server."""


def check_global_names(names, params, who):
    """Raise ``PrivacyError`` unless the mapping ``params`` has exactly the names ``names``."""
    keys = set(params)
    if keys != set(names):
        raise PrivacyError(f"{who}: expected exactly the global parameters {sorted(names)}, "
                           f"got {sorted(keys)}")


@dataclass(frozen=True)
class MFSpec:
    """Matrix factorization y_hat = u . v_i (+ b_u + b_i + mu), parameters split in two.

    Global (server): item_embedding (num_items, dim); item_bias (num_items,) and
    global_bias () when enabled. Local (device): user_embedding (dim,); user_bias ()
    when enabled. Embeddings start uniform in (-init_scale, init_scale) (Keras'
    'uniform' initializer, as in the TFF tutorial), biases at 0 (global_bias at
    ``global_bias_init``).
    """

    num_items: int
    dim: int = 50
    item_bias: bool = False
    user_bias: bool = False
    global_bias: bool = False
    init_scale: float = 0.05
    global_bias_init: float = 0.0
    dtype: Any = np.float64

    def __post_init__(self):
        if int(self.num_items) != self.num_items or self.num_items < 1:
            raise ValueError(f"MFSpec: num_items must be a positive integer, got {self.num_items}")
        if int(self.dim) != self.dim or self.dim < 1:
            raise ValueError(f"MFSpec: dim must be a positive integer, got {self.dim}")
        if not self.init_scale >= 0:
            raise ValueError(f"MFSpec: init_scale must be >= 0, got {self.init_scale}")
        dtype = np.dtype(self.dtype)
        if dtype not in (np.float32, np.float64):
            raise ValueError(f"MFSpec: dtype must be float32 or float64, got {dtype}")
        object.__setattr__(self, "dtype", dtype)

    @property
    def global_names(self):
        """Names of the parameters the server holds and clients send deltas of."""
        return ((ITEM_EMBEDDING,) + ((ITEM_BIAS,) if self.item_bias else ())
                + ((GLOBAL_BIAS,) if self.global_bias else ()))

    @property
    def local_names(self):
        """Names of the parameters that never leave a device."""
        return (USER_EMBEDDING,) + ((USER_BIAS,) if self.user_bias else ())

    def init_globals(self, rng):
        """Fresh global parameters: {name: array}."""
        check_generator(rng, "MFSpec.init_globals")
        s = self.init_scale
        out = {ITEM_EMBEDDING: rng.uniform(-s, s, size=(self.num_items, self.dim))
               .astype(self.dtype)}
        if self.item_bias:
            out[ITEM_BIAS] = np.zeros(self.num_items, dtype=self.dtype)
        if self.global_bias:
            out[GLOBAL_BIAS] = np.array(self.global_bias_init, dtype=self.dtype)
        return out

    def init_locals(self, num_users, rng):
        """Fresh local parameters for ``num_users`` users, stacked: {name: (num_users, ...)}."""
        check_generator(rng, "MFSpec.init_locals")
        s = self.init_scale
        out = {USER_EMBEDDING: rng.uniform(-s, s, size=(num_users, self.dim)).astype(self.dtype)}
        if self.user_bias:
            out[USER_BIAS] = np.zeros(num_users, dtype=self.dtype)
        return out


def predict_rows(rows, user, item_bias=None, global_bias=None, user_bias=None):
    """The MF prediction on looked-up arrays: v . u + item_bias + global_bias + user_bias.

    rows: item embeddings, (n, D) or (K, B, D); user: (D,) one user for all rows,
    (n, D) one user per row, or (K, D) one user per client of (K, B, D) rows. The
    biases (None: absent) broadcast against y_hat, (n,) or (K, B), and are added in
    that order. Each layout keeps its own product (matmul, einsum, batched matmul),
    so every caller's roundings are what they were.
    """
    if np.ndim(user) == 1:
        y_hat = rows @ user
    elif rows.ndim == 2:
        y_hat = np.einsum("nd,nd->n", rows, user)
    elif rows.ndim == 3:
        y_hat = (rows @ user[:, :, None])[:, :, 0]
    else:
        raise ValueError(f"predict_rows: rows {rows.shape} and user {user.shape} do not pair")
    for bias in (item_bias, global_bias, user_bias):
        if bias is not None:
            y_hat = y_hat + bias
    return y_hat


def predict(spec, global_params, local_params, items):
    """One user's predictions: items (n,) -> y_hat (n,) = u . v_i (+ b_i + mu + b_u)."""
    return predict_rows(
        global_params[ITEM_EMBEDDING][items], local_params[USER_EMBEDDING],
        item_bias=global_params[ITEM_BIAS][items] if spec.item_bias else None,
        global_bias=global_params[GLOBAL_BIAS] if spec.global_bias else None,
        user_bias=local_params[USER_BIAS] if spec.user_bias else None)


def mf_loss_and_grads(spec, global_params, local_params, items, y, wrt="all"):
    """Mean squared error of one user's batch and its analytic gradients.

    items, y (n,) -> (loss, y_hat (n,), grads). With g = 2 (y_hat - y) / n:
    d/du = sum_j g_j v_j, d/db_u = d/dmu = sum_j g_j; for the item tables the
    gradient of each *looked-up row*: item_embedding (n, D) = g_j u, item_bias
    (n,) = g_j, to be scatter-added at ``items`` (rows may repeat).
    ``wrt``: 'local', 'global' or 'all' (which gradients to compute).
    """
    rows = global_params[ITEM_EMBEDDING][items]
    u = local_params[USER_EMBEDDING]
    y_hat = predict(spec, global_params, local_params, items)
    err = y_hat - y
    g = (2.0 / len(y)) * err
    grads = {}
    if wrt in ("local", "all"):
        grads[USER_EMBEDDING] = g @ rows
        if spec.user_bias:
            grads[USER_BIAS] = g.sum()
    if wrt in ("global", "all"):
        grads[ITEM_EMBEDDING] = g[:, None] * u[None, :]
        if spec.item_bias:
            grads[ITEM_BIAS] = g
        if spec.global_bias:
            grads[GLOBAL_BIAS] = g.sum()
    return float(np.mean(err * err)), y_hat, grads


def mf_loss_autograd(spec, global_params, local_params, items, y):
    """The same batch loss built from minigrad Tensors (to check the analytic gradients).

    Parameters may be arrays (each becomes a float64 leaf with ``autograd=True``) or
    Tensors (used as they are, e.g. by ``gradcheck``). Returns (loss Tensor,
    {name: leaf}); after ``loss.backward()`` each leaf's ``.grad`` is the dense
    gradient (item tables: (num_items, ...)).
    """
    from ...losses import MSELoss
    from ...tensor import Tensor

    leaves = {name: v if isinstance(v, Tensor) else
              Tensor(np.array(v, dtype=np.float64), autograd=True)
              for name, v in {**global_params, **local_params}.items()}
    items = np.asarray(items)
    n = len(items)
    # The prediction again, in Tensor ops rather than through ``predict_rows``: a
    # deliberately separate copy, the autograd oracle the analytic gradients are tested on.
    rows = leaves[ITEM_EMBEDDING].index_select(items)
    y_hat = (rows * leaves[USER_EMBEDDING].expand(0, n)).sum(1)
    if spec.item_bias:
        y_hat = y_hat + leaves[ITEM_BIAS].index_select(items)
    if spec.global_bias:
        y_hat = y_hat + leaves[GLOBAL_BIAS].expand(0, n)
    if spec.user_bias:
        y_hat = y_hat + leaves[USER_BIAS].expand(0, n)
    loss = MSELoss()(y_hat, Tensor(np.asarray(y, dtype=np.float64)))
    return loss, leaves
