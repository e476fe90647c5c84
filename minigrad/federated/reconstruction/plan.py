"""Training and evaluation options, and the round plan: every random choice of a round, drawn once.

A ``RoundPlan`` holds which clients take part, which of their examples each step uses
((K, T, B) index arrays, -1 for none) and their fresh local parameters; the reference
loop and the lockstep engine consume the same plan.
"""

from dataclasses import dataclass

import numpy as np

from ...rng import check_generator
from ..round import sample_clients
from . import lockstep

__all__ = ["FedReconConfig", "EvalConfig", "RoundPlan", "epoch_passes", "round_clients",
           "make_round_plan",
           "make_eval_plan"]


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


def epoch_passes(rng, sizes, epochs, reshuffle, shared):
    """One phase's shuffled passes, one per epoch: a new draw for each if ``reshuffle``,
    else ``shared`` (one ``lockstep.shuffled_pass``) every time."""
    if reshuffle:
        return [lockstep.shuffled_pass(rng, sizes) for _ in range(epochs)]
    return [shared] * epochs


def round_clients(config, data, rng, clients=None):
    """A round's first draws: the sampled clients (unless given), their sizes, and the
    shuffled pass all epochs share (None with ``reshuffle_each_pass``).

    -> (int64 (k,) client indices, int64 (k,) example counts, pass or None).
    """
    if clients is None:
        clients = sample_clients(len(data), min(config.clients_per_round, len(data)), rng)
    clients = np.asarray(clients, dtype=np.int64)
    sizes = data.num_examples[clients]
    shared = None if config.reshuffle_each_pass else lockstep.shuffled_pass(rng, sizes)
    return clients, sizes, shared


def make_round_plan(spec, config, data, rng, clients=None):
    """Draw one training round: sample clients, shuffle their data, fresh locals.

    ``clients`` overrides the sampling (indices into ``data``). Order of draws:
    client sample, the shuffles, the local initial values.
    """
    check_generator(rng, "make_round_plan")
    clients, sizes, shared = round_clients(config, data, rng, clients)
    k, b = len(clients), config.batch_size
    recon_which, post_which = (("even_batches", "odd_batches") if config.split_dataset
                               else ("all", "all"))
    recon = lockstep.phase_schedule(
        epoch_passes(rng, sizes, config.recon_epochs, config.reshuffle_each_pass, shared),
        k, b, recon_which, config.recon_steps_max)
    post = lockstep.phase_schedule(
        epoch_passes(rng, sizes, config.post_recon_epochs, config.reshuffle_each_pass, shared),
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
    check_generator(rng, "make_eval_plan")
    clients = np.arange(len(data)) if clients is None else np.asarray(clients, dtype=np.int64)
    sizes = data.num_examples[clients]
    k, b = len(clients), eval_config.batch_size
    even, odd = (("even_examples", "odd_examples") if eval_config.split == "examples"
                 else ("even_batches", "odd_batches"))
    reshuffle = eval_config.reshuffles
    shared = None if reshuffle else lockstep.shuffled_pass(rng, sizes)
    recon = lockstep.phase_schedule(
        epoch_passes(rng, sizes, eval_config.recon_epochs, reshuffle, shared),
        k, b, even, eval_config.recon_steps_max)
    post = lockstep.phase_schedule(epoch_passes(rng, sizes, 1, reshuffle, shared), k, b, odd)
    return RoundPlan(clients, recon, post, spec.init_locals(k, rng))
