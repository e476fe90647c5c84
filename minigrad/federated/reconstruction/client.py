"""The client: reconstruct the local parameters, train the global ones, send only their delta.

``client_update_reference`` is one client as a reader would write it (the test oracle);
``clients_update`` runs every client of a plan at once (``lockstep``). What travels is a
``ClientUpdate`` (one client) or ``ClientUpdates`` (a round, sparse), global names only.
"""

from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from . import lockstep
from .mf import (
    GLOBAL_BIAS,
    ITEM_BIAS,
    ITEM_EMBEDDING,
    USER_BIAS,
    USER_EMBEDDING,
    check_global_names,
    mf_loss_and_grads,
)

__all__ = ["reconstruct_reference", "client_update_reference", "ClientUpdate", "ClientUpdates",
           "global_arrays", "clients_update", "updates_from_lockstep"]


def reconstruct_reference(spec, global_params, items, ratings, batches, user_init, lr):
    """SGD on one user's local parameters, global ones frozen: -> {local name: array}.

    items, ratings: the user's data; batches: list of index arrays into them;
    user_init: the starting local parameters (not modified).
    """
    local = {name: np.array(v, copy=True) for name, v in user_init.items()}
    for b in batches:
        _, _, grads = mf_loss_and_grads(spec, global_params, local, items[b], ratings[b],
                                        wrt="local")
        for name in local:
            local[name] -= lr * grads[name]
    return local


def client_update_reference(spec, config, global_params, items, ratings, recon_batches,
                            post_batches, user_init, *, return_local=False):
    """One client's round: reconstruct, train the global parameters, send the delta.

    global_params: what the server broadcast (not modified); items, ratings: this
    client's data; recon_batches / post_batches: index arrays into it, one per
    step; user_init: fresh local parameters. Returns a ``ClientUpdate``; the
    reconstructed local parameters stay here (``return_local=True``: (update, locals),
    for a device that keeps them, as ``engines.flower.fedrecon``'s nodes do).
    """
    local = reconstruct_reference(spec, global_params, items, ratings, recon_batches,
                                  user_init, config.recon_lr)
    params = {name: np.array(v, copy=True) for name, v in global_params.items()}
    lr = config.client_lr
    loss_sum, num_correct, num_examples = 0.0, 0, 0
    for b in post_batches:
        y = ratings[b]
        _, y_hat, grads = mf_loss_and_grads(spec, params, local, items[b], y, wrt="global")
        err = y_hat - y
        loss_sum += float(err @ err)
        num_correct += int((np.abs(err) <= 0.5).sum())
        num_examples += len(b)
        np.add.at(params[ITEM_EMBEDDING], items[b], -lr * grads[ITEM_EMBEDDING])
        if spec.item_bias:
            np.add.at(params[ITEM_BIAS], items[b], -lr * grads[ITEM_BIAS])
        if spec.global_bias:
            params[GLOBAL_BIAS] -= lr * grads[GLOBAL_BIAS]
    delta = {name: global_params[name] - params[name] for name in spec.global_names}
    update = ClientUpdate.create(spec, delta, num_examples, loss_sum, num_correct)
    return (update, local) if return_local else update


@dataclass(frozen=True)
class ClientUpdate:
    """One client's message: delta {global name: initial - final}, examples, metric sums.

    loss_sum: sum of squared errors over the examples trained on (prediction before
    each step); num_correct: how many of those were within 0.5 of the rating.
    """

    delta: MappingProxyType
    num_examples: int
    loss_sum: float
    num_correct: int

    @classmethod
    def create(cls, spec, delta, num_examples, loss_sum=0.0, num_correct=0):
        """Check the delta holds exactly the global names, then freeze it."""
        check_global_names(spec.global_names, delta, "ClientUpdate")
        return cls(MappingProxyType(dict(delta)), int(num_examples), float(loss_sum),
                   int(num_correct))


@dataclass(frozen=True)
class ClientUpdates:
    """A whole round's messages at once, sparse: only the item rows each client changed.

    row_item (M,), owner (M,): the item and the client (0..K-1) of each delta row.
    delta {global name: array}: item_embedding (M, D), item_bias (M,), global_bias
    (K,). num_examples, loss_sum, num_correct: (K,). A dense message would say no
    more: its non-zero rows are these rows.
    """

    row_item: np.ndarray
    owner: np.ndarray
    delta: MappingProxyType
    num_examples: np.ndarray
    loss_sum: np.ndarray
    num_correct: np.ndarray

    def __len__(self):
        return len(self.num_examples)

    def client(self, spec, k):
        """Client k's message as the dense ``ClientUpdate`` the reference would send."""
        mine = self.owner == k
        delta = {}
        for name, value in self.delta.items():
            if name == GLOBAL_BIAS:
                delta[name] = np.array(value[k])
            else:
                dense = np.zeros((spec.num_items,) + value.shape[1:], dtype=value.dtype)
                dense[self.row_item[mine]] = value[mine]
                delta[name] = dense
        return ClientUpdate.create(spec, delta, self.num_examples[k], self.loss_sum[k],
                                   self.num_correct[k])


def global_arrays(global_params):
    """{global name: array} -> the lockstep engine's ``GlobalArrays`` (absent biases: None)."""
    return lockstep.GlobalArrays(global_params[ITEM_EMBEDDING], global_params.get(ITEM_BIAS),
                                 global_params.get(GLOBAL_BIAS))


def clients_update(spec, config, global_params, data, plan):
    """Every client of ``plan`` at once, in lockstep: -> ``ClientUpdates``.

    Step t of all clients runs together; each client has its own copy of the item
    rows it touches. Per client, the same SGD as ``client_update_reference`` (equal
    up to rounding).
    """
    starts = data.offsets[plan.clients]
    params = global_arrays(global_params)
    recon = lockstep.gather_phase(data.item, data.rating, starts, plan.recon, spec.dtype)
    u, c = lockstep.reconstruct_locals(params, recon, plan.user_init[USER_EMBEDDING],
                                       plan.user_init.get(USER_BIAS), lr=config.recon_lr)
    post = lockstep.gather_phase(data.item, data.rating, starts, plan.post, spec.dtype)
    out = lockstep.train_globals(params, post, u, c, lr=config.client_lr)
    return updates_from_lockstep(spec, out)


def updates_from_lockstep(spec, out):
    """``lockstep.train_globals``'s output -> the round's ``ClientUpdates`` (global names only)."""
    delta = {ITEM_EMBEDDING: out["d_table"]}
    if spec.item_bias:
        delta[ITEM_BIAS] = out["d_item_bias"]
    if spec.global_bias:
        delta[GLOBAL_BIAS] = out["d_mu"]
    check_global_names(spec.global_names, delta, "ClientUpdates")
    return ClientUpdates(out["row_item"], out["owner"], MappingProxyType(delta),
                         out["num_examples"], out["loss_sum"], out["num_correct"])
