"""Federated Reconstruction (Singhal et al., NeurIPS 2021) for matrix factorization.

    from minigrad.federated import reconstruction as fr
    spec = fr.MFSpec(num_items=ml.num_items, dim=50)
    train = fr.client_datasets(ml.ratings, users["train"], max_examples_per_user=300)
    state, history = fr.train(spec, fr.FedReconConfig(), train, num_rounds=20, rng=rng)
    fr.evaluate(spec, state.params, test, rng=np.random.default_rng(1))

The model's parameters are split in two. *Global* ones (item embeddings; optionally
item biases and a global bias) live on the server. *Local* ones (the user's
embedding; optionally a user bias) never leave the user's device: every round each
sampled client rebuilds them from scratch with the global ones frozen
(reconstruction), then trains the global ones with its local ones frozen, and sends
back only the change of the global ones and how many examples it trained on.

A round's randomness (which clients, in which order each visits its examples, each
client's fresh local initial values) is drawn once into a ``RoundPlan``. Two
implementations consume the same plan: ``run_round_reference``, a plain loop over
clients (readable; the test oracle), and ``run_round``, which runs step t of every
client at once (``lockstep``). They agree to rounding error.

Privacy is part of the API: a client's message is a ``ClientUpdate`` (or, for a
whole round at once, ``ClientUpdates``) whose parameters are exactly the global
names, and ``aggregate`` / ``server_update`` refuse anything else with a
``PrivacyError``. The server state holds global parameters only. What the API does
not hide: with the user embedding u frozen while the items train, every changed
item row moves along u, so a client's item delta reveals u's direction (and the
non-zero rows reveal which items it rated), as in TFF.

Matches TensorFlow Federated 0.87's ``build_fed_recon`` / ``build_fed_recon_eval``
with ``build_dataset_split_fn`` and the tutorial's data pipeline: each user's first
300 ratings in file order (``take(300)`` before ``shuffle``), shuffled, batched;
even batches reconstruct and odd batches train (``split_dataset=True``, the
default for both); ``recon_steps_max`` / ``post_recon_steps_max`` cap steps after
the epochs are repeated and a batch never spans two epochs; user and item
embeddings start uniform in (-0.05, 0.05) (Keras 'uniform'), the user's afresh
every round; each client is weighted by the number of examples it trained on;
training loss and metrics are taken on the training batches with the predictions
made before each step; the server applies its optimizer to the weighted mean of
(initial - final) global parameters. One difference by default: TFF's datasets
reshuffle on every pass, so its two halves may overlap (its docstring warns);
here a client shuffles once a round, so they are disjoint, unless
``reshuffle_each_pass=True``.

TFF's evaluation, as the tutorial runs it (checked in TFF 0.87's source and by
running it): ``build_fed_recon_eval`` splits with ``split_dataset=True``, which
filters the even and the odd batches out of two separate iterations of the
user's ``shuffle(300, seed=42)`` dataset. Those iterations are two different
permutations, so about half of the evaluated ratings were also reconstructed on
(``EvalConfig(split="tff_reshuffled")`` reproduces this). The seed fixes the two
permutations: every evaluation, in every run, uses the same halves, and all
users with the same number of ratings share them. And its ``loss`` is the mean of
the batches' MSEs (Keras' ``MeanMetricWrapper``: one weight per batch), reported
here as ``batch_mean_loss``; ``loss`` here weights every rating equally.
"""

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from . import lockstep
from .round import History, sample_clients

__all__ = [
    "ITEM_EMBEDDING",
    "ITEM_BIAS",
    "GLOBAL_BIAS",
    "USER_EMBEDDING",
    "USER_BIAS",
    "PrivacyError",
    "MFSpec",
    "ClientRatings",
    "client_datasets",
    "FedReconConfig",
    "EvalConfig",
    "RoundPlan",
    "make_round_plan",
    "make_eval_plan",
    "predict",
    "mf_loss_and_grads",
    "mf_loss_autograd",
    "reconstruct_reference",
    "client_update_reference",
    "ClientUpdate",
    "ClientUpdates",
    "clients_update",
    "aggregate",
    "ServerState",
    "initialize",
    "server_update",
    "run_round_reference",
    "run_round",
    "train",
    "reconstruct",
    "evaluate",
    "evaluate_reference",
    "StatefulState",
    "initialize_stateful",
    "make_stateful_plan",
    "stateful_round",
    "train_stateful",
    "evaluate_stateful",
    "train_centralized",
]

ITEM_EMBEDDING = "item_embedding"
ITEM_BIAS = "item_bias"
GLOBAL_BIAS = "global_bias"
USER_EMBEDDING = "user_embedding"
USER_BIAS = "user_bias"


class PrivacyError(ValueError):
    """A local (user) parameter, or an unknown name, was about to reach the server."""


def _check_rng(rng, who):
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"{who}: pass an explicit np.random.Generator "
                        f"(np.random.default_rng(seed)), got {type(rng).__name__}")
    return rng


# ---------------------------------------------------------------------------
# the model: which parameters are global, which are local
# ---------------------------------------------------------------------------
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
        _check_rng(rng, "MFSpec.init_globals")
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
        _check_rng(rng, "MFSpec.init_locals")
        s = self.init_scale
        out = {USER_EMBEDDING: rng.uniform(-s, s, size=(num_users, self.dim)).astype(self.dtype)}
        if self.user_bias:
            out[USER_BIAS] = np.zeros(num_users, dtype=self.dtype)
        return out


def _only(names, params, who):
    """Refuse a parameter mapping whose names are not exactly ``names``."""
    keys = set(params)
    if keys != set(names):
        raise PrivacyError(f"{who}: expected exactly the global parameters {sorted(names)}, "
                           f"got {sorted(keys)}")


# ---------------------------------------------------------------------------
# data: each client's ratings
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class ClientRatings:
    """Every client's ratings concatenated: client c owns rows offsets[c]:offsets[c+1].

    item (R,) int64, rating (R,) float, offsets (C+1,) int64, user_ids (C,) int64.
    """

    item: np.ndarray
    rating: np.ndarray
    offsets: np.ndarray
    user_ids: np.ndarray

    def __post_init__(self):
        offsets = np.asarray(self.offsets, dtype=np.int64)
        if (offsets.ndim != 1 or len(offsets) != len(self.user_ids) + 1 or offsets[0] != 0
                or offsets[-1] != len(self.item) or (np.diff(offsets) < 0).any()):
            raise ValueError("ClientRatings: offsets must rise from 0 to len(item), one more "
                             "entry than user_ids")
        if len(self.rating) != len(self.item):
            raise ValueError("ClientRatings: item and rating differ in length")
        object.__setattr__(self, "offsets", offsets)

    def __len__(self):
        return len(self.user_ids)

    @property
    def num_examples(self):
        """(C,) ratings per client."""
        return np.diff(self.offsets)

    def client(self, c):
        """Client ``c``'s own (items (n,), ratings (n,))."""
        sl = slice(self.offsets[c], self.offsets[c + 1])
        return self.item[sl], self.rating[sl]

    def subset(self, clients):
        """The chosen clients only, in the given order."""
        clients = np.asarray(clients, dtype=np.int64)
        sizes = self.num_examples[clients]
        rows = (np.repeat(self.offsets[clients] - np.r_[0, np.cumsum(sizes)[:-1]], sizes)
                + np.arange(sizes.sum()))
        return ClientRatings(self.item[rows], self.rating[rows], np.r_[0, np.cumsum(sizes)],
                             self.user_ids[clients])

    def __repr__(self):
        n = self.num_examples
        return (f"ClientRatings({len(self)} clients, {len(self.item)} ratings, "
                f"{int(n.min()) if len(n) else 0}-{int(n.max()) if len(n) else 0} per client)")


def client_datasets(ratings, user_ids=None, max_examples_per_user=None, dtype=np.float64):
    """Each user's ratings as one client's data: DataFrame -> ``ClientRatings``.

    ratings: a DataFrame with user_id, item_id, rating (``MovieLens.ratings``, or the
    ``MovieLens`` itself). user_ids: which users, in this order (default: all with
    ratings). ``max_examples_per_user`` keeps each user's *first* ratings in file
    order, as the TFF tutorial does (``tf.data.Dataset.from_tensor_slices(user_df)
    .take(300)`` before it shuffles).
    """
    from ..datasets.partitions import client_ratings  # pandas only when data is built

    if hasattr(ratings, "ratings"):
        ratings = ratings.ratings
    rows = client_ratings(ratings, user_ids, max_per_user=max_examples_per_user)
    ids = np.fromiter(rows, dtype=np.int64, count=len(rows))
    sizes = np.array([len(r) for r in rows.values()], dtype=np.int64)
    flat = np.concatenate(list(rows.values())) if rows else np.zeros(0, dtype=np.int64)
    item = ratings["item_id"].to_numpy(dtype=np.int64)[flat]
    rating = ratings["rating"].to_numpy(dtype=dtype)[flat]
    return ClientRatings(item, rating, np.r_[0, np.cumsum(sizes)].astype(np.int64), ids)


# ---------------------------------------------------------------------------
# configuration
# ---------------------------------------------------------------------------
def _check_steps(name, value, allow_none=True):
    if value is None and allow_none:
        return
    if value is None or int(value) != value or value < 0:
        raise ValueError(f"{name} must be an integer >= 0{' or None' if allow_none else ''}, "
                         f"got {value!r}")


@dataclass(frozen=True)
class FedReconConfig:
    """Training options; the defaults are the TFF tutorial's.

    SGD everywhere: server lr 1.0 on the averaged delta, client lr 0.5 for the
    global parameters, reconstruction lr 0.1 for the local ones; batch 5; 50
    clients a round. ``split_dataset=True``: even batches of a client's shuffled
    data reconstruct, odd batches train (False: both phases use all of it).
    ``*_epochs`` repeat a phase's data, ``*_steps_max`` then cap its steps.
    ``reshuffle_each_pass=False`` shuffles each client once a round, so the two
    halves are disjoint; True draws a new order for every pass, as TFF's
    ``shuffle(reshuffle_each_iteration=True)`` datasets do (then the halves of
    ``split_dataset`` may overlap: TFF's docstring warns about it).
    server_optimizer: 'sgd' (with ``server_momentum``) or 'adam'.
    """

    clients_per_round: int = 50
    batch_size: int = 5
    server_lr: float = 1.0
    client_lr: float = 0.5
    recon_lr: float = 0.1
    recon_epochs: int = 1
    recon_steps_max: int | None = None
    post_recon_epochs: int = 1
    post_recon_steps_max: int | None = None
    split_dataset: bool = True
    reshuffle_each_pass: bool = False
    server_optimizer: str = "sgd"
    server_momentum: float = 0.0
    server_betas: tuple = (0.9, 0.999)
    server_eps: float = 1e-7

    def __post_init__(self):
        if int(self.clients_per_round) != self.clients_per_round or self.clients_per_round < 1:
            raise ValueError(f"clients_per_round must be >= 1, got {self.clients_per_round}")
        if int(self.batch_size) != self.batch_size or self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        _check_steps("recon_epochs", self.recon_epochs, allow_none=False)
        _check_steps("post_recon_epochs", self.post_recon_epochs, allow_none=False)
        _check_steps("recon_steps_max", self.recon_steps_max)
        _check_steps("post_recon_steps_max", self.post_recon_steps_max)
        if self.server_optimizer not in ("sgd", "adam"):
            raise ValueError(f"server_optimizer must be 'sgd' or 'adam', got "
                             f"{self.server_optimizer!r}")


@dataclass(frozen=True)
class EvalConfig:
    """Evaluation options: reconstruct on one half of a user's data, evaluate on the other.

    ``split='batches'`` (TFF's default): the user's shuffled data in batches of
    ``batch_size``, even batches reconstruct and odd batches are evaluated;
    ``split='examples'``: every other example. Reconstruction is SGD with
    ``recon_lr`` for ``recon_epochs`` passes over its half, capped at
    ``recon_steps_max`` steps.

    ``split='tff_reshuffled'`` reproduces TensorFlow Federated's evaluation of the
    FedRecon tutorial, to compare with its figures; it is not a sound evaluation.
    Reconstruction takes the even batches of one shuffled pass, and the evaluated
    half is the odd batches of a second, independent pass, so about half of the
    evaluated ratings were also used to reconstruct (the same plan as
    ``split='batches', reshuffle_each_pass=True``). TFF draws its two passes from
    ``shuffle(seed=42)``, the same ones in every evaluation; here each ``rng``
    draws its own.
    """

    batch_size: int = 5
    recon_lr: float = 0.1
    recon_epochs: int = 1
    recon_steps_max: int | None = None
    split: str = "batches"
    reshuffle_each_pass: bool = False

    def __post_init__(self):
        if int(self.batch_size) != self.batch_size or self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        _check_steps("recon_epochs", self.recon_epochs, allow_none=False)
        _check_steps("recon_steps_max", self.recon_steps_max)
        if self.split not in ("batches", "examples", "tff_reshuffled"):
            raise ValueError(f"split must be 'batches', 'examples' or 'tff_reshuffled', got "
                             f"{self.split!r}")

    @property
    def reshuffles(self):
        """Whether every pass over a user's data is shuffled anew (so the halves overlap)."""
        return self.reshuffle_each_pass or self.split == "tff_reshuffled"


# ---------------------------------------------------------------------------
# the round plan: every random choice of a round, drawn once
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class RoundPlan:
    """Which clients take part, which examples each uses at each step, their fresh locals.

    clients (K,): indices into the ClientRatings. recon (K, Tr, B) and post
    (K, Tp, B): client k's examples (indices into its own data) at each
    reconstruction / post-reconstruction step, -1 for none. user_init: the local
    parameters each client starts reconstruction from, {name: (K, ...)}.
    In evaluation, ``post`` holds the evaluated half.
    """

    clients: np.ndarray
    recon: np.ndarray
    post: np.ndarray
    user_init: dict

    def __len__(self):
        return len(self.clients)

    def batches(self, k, phase):
        """Client k's batches of one phase ('recon' or 'post'): list of index arrays."""
        steps = {"recon": self.recon, "post": self.post}[phase][k]
        return [s[s >= 0] for s in steps if s[0] >= 0]

    def client_init(self, k):
        """Client k's starting local parameters: {name: array}."""
        return {name: v[k] for name, v in self.user_init.items()}


def _passes(rng, sizes, epochs, reshuffle, shared):
    if reshuffle:
        return [lockstep.shuffled_pass(rng, sizes) for _ in range(epochs)]
    return [shared] * epochs


def make_round_plan(spec, config, data, rng, clients=None):
    """Draw one training round: sample clients, shuffle their data, fresh locals.

    ``clients`` overrides the sampling (indices into ``data``). Order of draws:
    client sample, the shuffles, the local initial values.
    """
    _check_rng(rng, "make_round_plan")
    if clients is None:
        clients = sample_clients(len(data), min(config.clients_per_round, len(data)), rng)
    clients = np.asarray(clients, dtype=np.int64)
    sizes = data.num_examples[clients]
    k, b = len(clients), config.batch_size
    shared = None if config.reshuffle_each_pass else lockstep.shuffled_pass(rng, sizes)
    recon_which, post_which = (("even_batches", "odd_batches") if config.split_dataset
                               else ("all", "all"))
    recon = lockstep.phase_schedule(
        _passes(rng, sizes, config.recon_epochs, config.reshuffle_each_pass, shared),
        k, b, recon_which, config.recon_steps_max)
    post = lockstep.phase_schedule(
        _passes(rng, sizes, config.post_recon_epochs, config.reshuffle_each_pass, shared),
        k, b, post_which, config.post_recon_steps_max)
    return RoundPlan(clients, recon, post, spec.init_locals(k, rng))


def make_eval_plan(spec, eval_config, data, rng, clients=None):
    """Draw an evaluation: every client (default) shuffles, splits in halves, fresh locals.

    ``recon`` holds the reconstruction half's steps, ``post`` the evaluated half
    (one pass); the halves are disjoint and cover each client's data unless
    ``eval_config.reshuffles`` (then each half comes from its own shuffled pass).
    Order of draws: the shuffles (reconstruction's passes first), then the fresh
    local values.
    """
    _check_rng(rng, "make_eval_plan")
    clients = np.arange(len(data)) if clients is None else np.asarray(clients, dtype=np.int64)
    sizes = data.num_examples[clients]
    k, b = len(clients), eval_config.batch_size
    even, odd = (("even_examples", "odd_examples") if eval_config.split == "examples"
                 else ("even_batches", "odd_batches"))
    reshuffle = eval_config.reshuffles
    shared = None if reshuffle else lockstep.shuffled_pass(rng, sizes)
    recon = lockstep.phase_schedule(
        _passes(rng, sizes, eval_config.recon_epochs, reshuffle, shared),
        k, b, even, eval_config.recon_steps_max)
    post = lockstep.phase_schedule(_passes(rng, sizes, 1, reshuffle, shared), k, b, odd)
    return RoundPlan(clients, recon, post, spec.init_locals(k, rng))


# ---------------------------------------------------------------------------
# the maths of one batch: prediction, loss, analytic gradients
# ---------------------------------------------------------------------------
def predict(spec, global_params, local_params, items):
    """One user's predictions: items (n,) -> y_hat (n,) = u . v_i (+ b_i + mu + b_u)."""
    y_hat = global_params[ITEM_EMBEDDING][items] @ local_params[USER_EMBEDDING]
    if spec.item_bias:
        y_hat = y_hat + global_params[ITEM_BIAS][items]
    if spec.global_bias:
        y_hat = y_hat + global_params[GLOBAL_BIAS]
    if spec.user_bias:
        y_hat = y_hat + local_params[USER_BIAS]
    return y_hat


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
    from ..losses import MSELoss
    from ..tensor import Tensor

    leaves = {name: v if isinstance(v, Tensor) else
              Tensor(np.array(v, dtype=np.float64), autograd=True)
              for name, v in {**global_params, **local_params}.items()}
    items = np.asarray(items)
    n = len(items)
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


# ---------------------------------------------------------------------------
# the reference: one client at a time, as a reader would write it
# ---------------------------------------------------------------------------
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
                            post_batches, user_init):
    """One client's round: reconstruct, train the global parameters, send the delta.

    global_params: what the server broadcast (not modified); items, ratings: this
    client's data; recon_batches / post_batches: index arrays into it, one per
    step; user_init: fresh local parameters. Returns a ``ClientUpdate``; the
    reconstructed local parameters stay here.
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
    return ClientUpdate.create(spec, delta, num_examples, loss_sum, num_correct)


# ---------------------------------------------------------------------------
# what travels to the server
# ---------------------------------------------------------------------------
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
        _only(spec.global_names, delta, "ClientUpdate")
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


def clients_update(spec, config, global_params, data, plan):
    """Every client of ``plan`` at once, in lockstep: -> ``ClientUpdates``.

    Step t of all clients runs together; each client has its own copy of the item
    rows it touches. Per client, the same SGD as ``client_update_reference`` (equal
    up to rounding).
    """
    starts = data.offsets[plan.clients]
    table = global_params[ITEM_EMBEDDING]
    item_bias = global_params.get(ITEM_BIAS)
    mu = global_params.get(GLOBAL_BIAS)
    items, y, _, w = lockstep.gather_phase(data.item, data.rating, starts, plan.recon,
                                           spec.dtype)
    u, c = lockstep.reconstruct_locals(table, item_bias, mu, items, y, w,
                                       plan.user_init[USER_EMBEDDING],
                                       plan.user_init.get(USER_BIAS), config.recon_lr)
    items, y, valid, w = lockstep.gather_phase(data.item, data.rating, starts, plan.post,
                                               spec.dtype)
    out = lockstep.train_globals(table, item_bias, mu, items, y, valid, w, u, c,
                                 config.client_lr)
    return _client_updates(spec, out)


def _client_updates(spec, out):
    delta = {ITEM_EMBEDDING: out["d_table"]}
    if spec.item_bias:
        delta[ITEM_BIAS] = out["d_item_bias"]
    if spec.global_bias:
        delta[GLOBAL_BIAS] = out["d_mu"]
    _only(spec.global_names, delta, "ClientUpdates")
    return ClientUpdates(out["row_item"], out["owner"], MappingProxyType(delta),
                         out["num_examples"], out["loss_sum"], out["num_correct"])


def _metrics(loss_sum, num_correct, num_examples, num_clients):
    n = int(num_examples)
    loss = float(loss_sum) / n if n else float("nan")
    return {"loss": loss, "rmse": float(np.sqrt(loss)) if n else float("nan"),
            "rating_accuracy": int(num_correct) / n if n else float("nan"),
            "num_examples": n, "num_clients": int(num_clients)}


def aggregate(spec, updates):
    """Server side: the example-weighted mean delta, and the round's training metrics.

    updates: a list of ``ClientUpdate`` or one ``ClientUpdates``. Returns
    ({global name: mean delta}, metrics). With no example in total the mean delta
    is zero.
    """
    if isinstance(updates, ClientUpdates):
        _only(spec.global_names, updates.delta, "aggregate")
        n = updates.num_examples
        weights = n.astype(spec.dtype)[updates.owner]
        total = n.sum()
        mean = {}
        for name, value in updates.delta.items():
            if name == GLOBAL_BIAS:
                s = np.zeros((), dtype=spec.dtype)
                for k in range(len(n)):           # in client order, as the reference
                    s = s + n[k] * value[k]
            else:
                shape = value.shape[1:]
                s = lockstep.scatter_rows(updates.row_item,
                                          weights.reshape((-1,) + (1,) * len(shape)) * value,
                                          spec.num_items).reshape((spec.num_items,) + shape)
            mean[name] = (s / total if total else s * 0).astype(spec.dtype, copy=False)
        metrics = _metrics(updates.loss_sum.sum(), updates.num_correct.sum(), total, len(n))
        return mean, metrics
    updates = list(updates)
    if not updates:
        raise ValueError("aggregate: no client messages")
    for i, u in enumerate(updates):
        if not isinstance(u, ClientUpdate):
            raise TypeError(f"aggregate: message {i} is a {type(u).__name__}, not a "
                            f"ClientUpdate")
        _only(spec.global_names, u.delta, f"aggregate: message {i}")
    total = sum(u.num_examples for u in updates)
    mean = {}
    for name in spec.global_names:
        s = np.zeros_like(updates[0].delta[name])
        for u in updates:
            s = s + u.num_examples * u.delta[name]
        mean[name] = (s / total if total else s * 0).astype(spec.dtype, copy=False)
    metrics = _metrics(sum(u.loss_sum for u in updates), sum(u.num_correct for u in updates),
                       total, len(updates))
    return mean, metrics


# ---------------------------------------------------------------------------
# the server
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class ServerState:
    """What the server keeps: global parameters, its optimizer's state, the round number."""

    params: dict
    optimizer_state: dict = field(default_factory=dict)
    round_num: int = 0


def initialize(spec, config, rng):
    """The server's starting state: fresh global parameters, empty optimizer state."""
    params = spec.init_globals(rng)
    opt = {}
    if config.server_optimizer == "adam":
        opt = {"step": 0, "m": {k: np.zeros_like(v) for k, v in params.items()},
               "v": {k: np.zeros_like(v) for k, v in params.items()}}
    elif config.server_momentum:
        opt = {"momentum": {k: np.zeros_like(v) for k, v in params.items()}}
    return ServerState(params, opt, 0)


def server_update(spec, config, state, mean_delta):
    """Apply the server optimizer to the mean delta (used as the gradient): -> new state."""
    _only(spec.global_names, mean_delta, "server_update")
    _only(spec.global_names, state.params, "server state")
    lr = config.server_lr
    params, opt = {}, {}
    if config.server_optimizer == "adam":
        b1, b2 = config.server_betas
        step = state.optimizer_state["step"] + 1
        m, v = {}, {}
        for name, p in state.params.items():
            g = mean_delta[name]
            m[name] = b1 * state.optimizer_state["m"][name] + (1 - b1) * g
            v[name] = b2 * state.optimizer_state["v"][name] + (1 - b2) * g * g
            m_hat, v_hat = m[name] / (1 - b1 ** step), v[name] / (1 - b2 ** step)
            params[name] = (p - lr * m_hat / (np.sqrt(v_hat) + config.server_eps)).astype(
                p.dtype, copy=False)
        opt = {"step": step, "m": m, "v": v}
    elif config.server_momentum:
        mom = {}
        for name, p in state.params.items():
            mom[name] = config.server_momentum * state.optimizer_state["momentum"][name] + \
                mean_delta[name]
            params[name] = (p - lr * mom[name]).astype(p.dtype, copy=False)
        opt = {"momentum": mom}
    else:
        for name, p in state.params.items():
            params[name] = (p - lr * mean_delta[name]).astype(p.dtype, copy=False)
    return ServerState(params, opt, state.round_num + 1)


def _broadcast(state):
    """What each client receives: a copy of the global parameters."""
    return {name: np.array(v, copy=True) for name, v in state.params.items()}


def run_round_reference(spec, config, state, data, plan):
    """One round as a per-client loop: broadcast, client updates, aggregate, server update.

    Returns (new state, metrics); metrics are TFF's training metrics (loss,
    rating_accuracy on the post-reconstruction batches) plus rmse and counts.
    """
    sent = _broadcast(state)
    messages = []
    for k, c in enumerate(plan.clients):
        items, ratings = data.client(c)
        messages.append(client_update_reference(
            spec, config, sent, items, ratings, plan.batches(k, "recon"),
            plan.batches(k, "post"), plan.client_init(k)))
    mean_delta, metrics = aggregate(spec, messages)
    return server_update(spec, config, state, mean_delta), metrics


def run_round(spec, config, state, data, plan):
    """One round with all clients in lockstep: same result as ``run_round_reference``."""
    messages = clients_update(spec, config, _broadcast(state), data, plan)
    mean_delta, metrics = aggregate(spec, messages)
    return server_update(spec, config, state, mean_delta), metrics


def train(spec, config, data, num_rounds, rng, *, state=None, reference=False, history=None,
          callback=None):
    """``num_rounds`` rounds of FedRecon from ``state`` (default: ``initialize``).

    Each round draws its plan from ``rng``, so the reference and the vectorized
    implementation give the same model for the same seed. ``callback(state,
    record)`` runs after each round. Returns (state, History of per-round metrics).
    """
    _check_rng(rng, "train")
    state = initialize(spec, config, rng) if state is None else state
    history = History() if history is None else history
    step = run_round_reference if reference else run_round
    for _ in range(num_rounds):
        plan = make_round_plan(spec, config, data, rng)
        state, metrics = step(spec, config, state, data, plan)
        record = {"round": state.round_num, **metrics}
        history.append(record)
        if callback is not None:
            callback(state, record)
    return state, history


# ---------------------------------------------------------------------------
# evaluation: reconstruct on one half, evaluate on the other
# ---------------------------------------------------------------------------
def reconstruct(spec, global_params, data, plan, lr, chunk_size=512):
    """Every plan client's local parameters, reconstructed in lockstep: {name: (K, ...)}.

    Uses ``plan.recon`` and ``plan.user_init``; global parameters frozen. Clients
    go ``chunk_size`` at a time to bound memory.
    """
    table = global_params[ITEM_EMBEDDING]
    item_bias = global_params.get(ITEM_BIAS)
    mu = global_params.get(GLOBAL_BIAS)
    us, cs = [], []
    for lo in range(0, len(plan), chunk_size):
        sl = slice(lo, lo + chunk_size)
        recon = plan.recon[sl]
        used = int((recon[:, :, 0] >= 0).sum(axis=1).max()) if len(recon) else 0
        items, y, _, w = lockstep.gather_phase(data.item, data.rating,
                                               data.offsets[plan.clients[sl]],
                                               recon[:, :used], spec.dtype)
        c0 = plan.user_init[USER_BIAS][sl] if USER_BIAS in plan.user_init else None
        u, c = lockstep.reconstruct_locals(table, item_bias, mu, items, y, w,
                                           plan.user_init[USER_EMBEDDING][sl], c0, lr)
        us.append(u)
        cs.append(c)
    out = {USER_EMBEDDING: np.concatenate(us) if us else
           np.zeros((0, spec.dim), dtype=spec.dtype)}
    if spec.user_bias:
        out[USER_BIAS] = np.concatenate(cs) if cs else np.zeros(0, dtype=spec.dtype)
    return out


def _score(spec, global_params, local_params, data, plan):
    """Metrics of stacked local parameters on the plan's evaluated half."""
    valid = plan.post >= 0
    owner = np.nonzero(valid)[0]
    rows = plan.post[valid] + data.offsets[plan.clients][owner]
    items, y = data.item[rows], data.rating[rows].astype(spec.dtype, copy=False)
    y_hat = np.einsum("nd,nd->n", global_params[ITEM_EMBEDDING][items],
                      local_params[USER_EMBEDDING][owner])
    if spec.item_bias:
        y_hat = y_hat + global_params[ITEM_BIAS][items]
    if spec.global_bias:
        y_hat = y_hat + global_params[GLOBAL_BIAS]
    if spec.user_bias:
        y_hat = y_hat + local_params[USER_BIAS][owner]
    err = y_hat - y
    out = _metrics(float(err @ err), int((np.abs(err) <= 0.5).sum()), len(err),
                   len(np.unique(owner)))
    out["num_users"] = out.pop("num_clients")
    squares = np.zeros(plan.post.shape, dtype=np.float64)
    squares[valid] = err * err                  # boolean-mask order == the order of ``owner``
    count = valid.sum(axis=2)
    used = count > 0
    out["batch_mean_loss"] = (float(np.mean(squares.sum(axis=2)[used] / count[used]))
                              if used.any() else float("nan"))
    return out


def evaluate(spec, global_params, data, rng=None, *, eval_config=None, plan=None):
    """Loss (MSE), RMSE and rating accuracy of the model on users it reconstructs for.

    Each user reconstructs its local parameters on one half of its ratings (global
    ones frozen) and is scored on the other half; all users at once. Pass ``rng``
    (a fresh plan is drawn) or a ``plan`` from ``make_eval_plan``. ``loss``, ``rmse``
    and ``rating_accuracy`` weight every evaluated rating equally;
    ``batch_mean_loss`` is the mean over evaluated batches of each batch's MSE, the
    ``loss`` TFF reports.
    """
    eval_config = EvalConfig() if eval_config is None else eval_config
    if plan is None:
        plan = make_eval_plan(spec, eval_config, data, _check_rng(rng, "evaluate"))
    local = reconstruct(spec, global_params, data, plan, eval_config.recon_lr)
    return _score(spec, global_params, local, data, plan)


def evaluate_reference(spec, global_params, data, rng=None, *, eval_config=None, plan=None):
    """``evaluate`` as a per-user loop (the test oracle)."""
    eval_config = EvalConfig() if eval_config is None else eval_config
    if plan is None:
        plan = make_eval_plan(spec, eval_config, data, _check_rng(rng, "evaluate_reference"))
    sq, correct, n, users = 0.0, 0, 0, 0
    batch_losses = []
    for k, c in enumerate(plan.clients):
        items, ratings = data.client(c)
        local = reconstruct_reference(spec, global_params, items, ratings,
                                      plan.batches(k, "recon"), plan.client_init(k),
                                      eval_config.recon_lr)
        batches = plan.batches(k, "post")
        if not batches:
            continue
        for held_out in batches:
            err = predict(spec, global_params, local, items[held_out]) - ratings[held_out]
            sq += float(err @ err)
            correct += int((np.abs(err) <= 0.5).sum())
            n += len(held_out)
            batch_losses.append(float(np.mean(err * err)))
        users += 1
    out = _metrics(sq, correct, n, users)
    out["num_users"] = out.pop("num_clients")
    out["batch_mean_loss"] = float(np.mean(batch_losses)) if batch_losses else float("nan")
    return out


# ---------------------------------------------------------------------------
# baseline 1: stateful federated MF (the server stores every user's embedding)
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class StatefulState:
    """Server state of stateful federated MF: global parameters AND each seen user's.

    user_params {local name: (C, ...)} for the training users ``user_ids`` (C,).
    This is what FedRecon avoids: the server can read every user's embedding.
    """

    params: dict
    user_params: dict
    user_ids: np.ndarray
    round_num: int = 0


def initialize_stateful(spec, data, rng):
    """Fresh global parameters and a fresh local set for every user of ``data``."""
    params = spec.init_globals(rng)
    return StatefulState(params, spec.init_locals(len(data), rng), np.array(data.user_ids), 0)


def make_stateful_plan(spec, config, data, rng, clients=None):
    """Sample clients and shuffle their data; no reconstruction: every batch trains.

    ``config.post_recon_epochs`` / ``post_recon_steps_max`` apply; ``user_init``
    is empty (the server supplies each user's stored parameters).
    """
    _check_rng(rng, "make_stateful_plan")
    if clients is None:
        clients = sample_clients(len(data), min(config.clients_per_round, len(data)), rng)
    clients = np.asarray(clients, dtype=np.int64)
    sizes = data.num_examples[clients]
    k, b = len(clients), config.batch_size
    shared = None if config.reshuffle_each_pass else lockstep.shuffled_pass(rng, sizes)
    post = lockstep.phase_schedule(
        _passes(rng, sizes, config.post_recon_epochs, config.reshuffle_each_pass, shared),
        k, b, "all", config.post_recon_steps_max)
    return RoundPlan(clients, np.full((k, 0, b), -1, dtype=np.int64), post, {})


def stateful_round(spec, config, state, data, plan):
    """One round: each client trains its stored locals and the globals jointly (SGD,
    ``client_lr``), returns the global delta AND its new locals, which the server stores.
    """
    if config.server_optimizer != "sgd" or config.server_momentum:
        raise ValueError("stateful federated MF: only the plain SGD server optimizer is "
                         "supported")
    starts = data.offsets[plan.clients]
    p = state.params
    items, y, valid, w = lockstep.gather_phase(data.item, data.rating, starts, plan.post,
                                               spec.dtype)
    u0 = state.user_params[USER_EMBEDDING][plan.clients]
    c0 = state.user_params[USER_BIAS][plan.clients] if spec.user_bias else None
    out = lockstep.train_globals(p[ITEM_EMBEDDING], p.get(ITEM_BIAS), p.get(GLOBAL_BIAS),
                                 items, y, valid, w, u0, c0, config.client_lr,
                                 train_locals=True)
    mean_delta, metrics = aggregate(spec, _client_updates(spec, out))
    server = server_update(spec, config, ServerState(p, {}, state.round_num), mean_delta)
    user_params = {name: np.array(v, copy=True) for name, v in state.user_params.items()}
    user_params[USER_EMBEDDING][plan.clients] = out["u"]
    if spec.user_bias:
        user_params[USER_BIAS][plan.clients] = out["c"]
    return StatefulState(server.params, user_params, state.user_ids, server.round_num), metrics


def train_stateful(spec, config, data, num_rounds, rng, *, state=None, history=None):
    """``num_rounds`` rounds of stateful federated MF (plain SGD on the server)."""
    state = initialize_stateful(spec, data, rng) if state is None else state
    history = History() if history is None else history
    for _ in range(num_rounds):
        plan = make_stateful_plan(spec, config, data, rng)
        state, metrics = stateful_round(spec, config, state, data, plan)
        history.append({"round": state.round_num, **metrics})
    return state, history


def evaluate_stateful(spec, state, data, rng=None, *, eval_config=None, plan=None):
    """Score stored user parameters on each user's evaluated half (no reconstruction).

    A user the server has never seen has nothing stored: it gets fresh initial
    local parameters, as on first contact. Adds ``num_unseen_users``.
    """
    eval_config = EvalConfig() if eval_config is None else eval_config
    if plan is None:
        plan = make_eval_plan(spec, eval_config, data, _check_rng(rng, "evaluate_stateful"))
    where = {int(u): i for i, u in enumerate(state.user_ids)}
    users = data.user_ids[plan.clients]
    seen = np.array([int(u) in where for u in users], dtype=bool)
    local = {name: np.array(v, copy=True) for name, v in plan.user_init.items()}
    if seen.any():
        stored = np.array([where[int(u)] for u in users[seen]])
        for name in local:
            local[name][seen] = state.user_params[name][stored]
    out = _score(spec, state.params, local, data, plan)
    out["num_unseen_users"] = int((~seen).sum())
    return out


# ---------------------------------------------------------------------------
# baseline 2: centralized MF (all ratings in one place), for fold-in
# ---------------------------------------------------------------------------
def train_centralized(spec, data, num_epochs, rng, *, lr=0.01, batch_size=256, l2=0.0,
                      optimizer="adam"):
    """Matrix factorization trained on every rating of ``data`` at once (no federation).

    Minibatch SGD or Adam on the batch-mean squared error (+ ``l2`` times the squared
    norm of the looked-up rows and biases). Returns (global params, local params
    {name: (C, ...)} for data's clients). For unseen users, fold in with
    ``evaluate(spec, global_params, ...)``: their locals are reconstructed exactly
    as in FedRecon's evaluation.
    """
    _check_rng(rng, "train_centralized")
    if optimizer not in ("sgd", "adam"):
        raise ValueError(f"optimizer must be 'sgd' or 'adam', got {optimizer!r}")
    params = {**spec.init_globals(rng), **spec.init_locals(len(data), rng)}
    user = np.repeat(np.arange(len(data)), data.num_examples)
    item, rating = data.item, data.rating.astype(spec.dtype, copy=False)
    m = {k: np.zeros_like(v) for k, v in params.items()}
    v2 = {k: np.zeros_like(v) for k, v in params.items()}
    b1, b2, eps, step = 0.9, 0.999, 1e-8, 0
    for _ in range(num_epochs):
        order = rng.permutation(len(item))
        for lo in range(0, len(order), batch_size):
            idx = order[lo: lo + batch_size]
            it, us, y = item[idx], user[idx], rating[idx]
            rows, uvec = params[ITEM_EMBEDDING][it], params[USER_EMBEDDING][us]
            y_hat = np.einsum("nd,nd->n", rows, uvec)
            if spec.item_bias:
                y_hat = y_hat + params[ITEM_BIAS][it]
            if spec.global_bias:
                y_hat = y_hat + params[GLOBAL_BIAS]
            if spec.user_bias:
                y_hat = y_hat + params[USER_BIAS][us]
            g = (2.0 / len(idx)) * (y_hat - y)
            per_row = {ITEM_EMBEDDING: g[:, None] * uvec + 2 * l2 * rows / len(idx),
                       USER_EMBEDDING: g[:, None] * rows + 2 * l2 * uvec / len(idx)}
            if spec.item_bias:
                per_row[ITEM_BIAS] = g + 2 * l2 * params[ITEM_BIAS][it] / len(idx)
            if spec.user_bias:
                per_row[USER_BIAS] = g + 2 * l2 * params[USER_BIAS][us] / len(idx)
            index = {ITEM_EMBEDDING: it, ITEM_BIAS: it, USER_EMBEDDING: us, USER_BIAS: us}
            grads = {name: lockstep.scatter_rows(index[name], rows_g, len(params[name]))
                     .reshape(params[name].shape) for name, rows_g in per_row.items()}
            if spec.global_bias:
                grads[GLOBAL_BIAS] = np.asarray(g.sum())
            step += 1
            for name, grad in grads.items():
                if optimizer == "sgd":
                    params[name] -= lr * grad
                    continue
                m[name] = b1 * m[name] + (1 - b1) * grad
                v2[name] = b2 * v2[name] + (1 - b2) * grad * grad
                m_hat = m[name] / (1 - b1 ** step)
                v_hat = v2[name] / (1 - b2 ** step)
                params[name] -= (lr * m_hat / (np.sqrt(v_hat) + eps)).astype(spec.dtype)
    global_params = {name: params[name] for name in spec.global_names}
    local_params = {name: params[name] for name in spec.local_names}
    return global_params, local_params



# ---------------------------------------------------------------------------
# using a trained model: recommendations, and error against reconstruction epochs
# (notebook 03)
# ---------------------------------------------------------------------------
__all__ += ["recommend", "evaluate_by_recon_epochs"]


def recommend(spec, global_params, local_params, k=10, exclude=None):
    """One user's top-k items by predicted rating: -> (items (k',), scores (k',)), best first.

    local_params: that user's {local name: array} (e.g. from ``reconstruct_reference``);
    exclude: item ids never to recommend, typically the ones the user has rated.
    Ties go to the smaller item id; k' = min(k, items not excluded).
    """
    if int(k) != k or k < 0:
        raise ValueError(f"recommend: k must be an integer >= 0, got {k!r}")
    scores = np.array(predict(spec, global_params, local_params, np.arange(spec.num_items)),
                      dtype=np.float64)
    allowed = np.ones(spec.num_items, dtype=bool)
    if exclude is not None:
        allowed[np.asarray(exclude, dtype=np.int64)] = False
    candidates = np.flatnonzero(allowed)
    best = candidates[np.lexsort((candidates, -scores[candidates]))][: int(k)]
    return best, scores[best]


def evaluate_by_recon_epochs(spec, global_params, data, epochs, seeds, *, eval_config=None):
    """``evaluate`` for several numbers of reconstruction epochs, on the same halves.

    epochs: iterable of ints >= 0 (0: the fresh initial local values, no step).
    seeds: an int, or several ints to average over several draws of the halves. Each
    draw's plan comes from ``np.random.default_rng(seed)``; a plan draws the shuffle
    before the fresh local values, and without ``reshuffle_each_pass`` one shuffle
    serves every epoch, so every count starts from the same values on the same half
    and is scored on the same other half (for any ``spec``: the halves depend only on
    the seed, the data and the batch size). The epochs of one draw are run once, in
    order, scoring after each requested count: the largest count costs what all of
    them cost. Returns {epochs: metrics}; with several seeds, loss, rmse,
    rating_accuracy and batch_mean_loss are means over the draws, with their
    standard deviations as loss_std, rmse_std, rating_accuracy_std,
    batch_mean_loss_std, and num_draws.
    """
    from dataclasses import replace

    eval_config = EvalConfig() if eval_config is None else eval_config
    if eval_config.reshuffles:
        raise ValueError("evaluate_by_recon_epochs: with reshuffle_each_pass (or split="
                         "'tff_reshuffled') the halves would differ between counts")
    counts = sorted({int(e) for e in epochs})
    if counts and counts[0] < 0:
        raise ValueError(f"evaluate_by_recon_epochs: epochs must be >= 0, got {counts[0]}")
    several = np.ndim(seeds) > 0
    seeds = [int(s) for s in np.atleast_1d(seeds)]
    if not seeds:
        raise ValueError("evaluate_by_recon_epochs: no seed")
    one_pass = replace(eval_config, recon_epochs=1, recon_steps_max=None)
    runs = []                                   # per draw: {count: metrics}
    for s in seeds:
        if eval_config.recon_steps_max is not None:    # the cap spans epochs: no shortcut
            runs.append({e: evaluate(spec, global_params, data, np.random.default_rng(s),
                                     eval_config=replace(eval_config, recon_epochs=e))
                         for e in counts})
            continue
        plan = make_eval_plan(spec, one_pass, data, np.random.default_rng(s))
        local, done, scores = plan.user_init, 0, {}
        for e in counts:
            while done < e:                     # one more pass over the same half
                local = reconstruct(spec, global_params, data,
                                    RoundPlan(plan.clients, plan.recon, plan.post, local),
                                    eval_config.recon_lr)
                done += 1
            scores[e] = _score(spec, global_params, local, data, plan)
        runs.append(scores)
    if not several:
        return runs[0]
    out = {}
    for e in counts:
        merged = dict(runs[0][e])
        for key in ("loss", "rmse", "rating_accuracy", "batch_mean_loss"):
            values = [r[e][key] for r in runs]
            merged[key] = float(np.mean(values))
            merged[key + "_std"] = float(np.std(values))
        merged["num_draws"] = len(runs)
        out[e] = merged
    return out
