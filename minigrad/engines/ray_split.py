"""Split learning with alice and bob in separate processes: Ray actors exchanging the
``split.Message``s of the in-process protocol (``pip install "minigrad[ray]"``).

    ray_split.init()                                   # a local Ray, or address="HOST:PORT"
    alice, bob = ray_split.parties(alice, bob)         # each party moves into its actor
    ray_split.train_epoch(alice, bob, rows, 128, rng)  # the same steps as split.train_epoch
    ray_split.evaluate(alice, bob, rows)

Each step is alice.forward -> bob.step -> alice.backward, submitted in order; the
messages go from actor to actor as Ray objects (the driver never copies them). Each
actor counts what it sends in its own ``split.Channel``, so the bytes are those of the
in-process run. ``parties`` also takes factories (``() -> Alice``), so on two machines
each party builds itself from its own data, where a custom resource puts it
(``resources={"alice": 1}``; see docs/engines.md).
"""

import time

import numpy as np

from ..federated import split
from . import require

__all__ = ["init", "shutdown", "parties", "train_epoch", "evaluate", "predict", "PartyError"]


class PartyError(RuntimeError):
    """A party failed (raised, or its process died) during a split-learning step."""


def _ray():
    return require("ray", "minigrad.engines.ray_split")


def init(address=None, num_cpus=2, **kw):
    """Start a local Ray (or join the cluster at ``address``), quietly -> seconds taken."""
    import os

    ray = _ray()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    start = time.perf_counter()
    if not ray.is_initialized():
        options = dict(include_dashboard=False, log_to_driver=False, logging_level="ERROR")
        if address is None:
            options["num_cpus"] = num_cpus
        os.environ.setdefault("RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO", "0")
        ray.init(address=address, **options, **kw)
    return time.perf_counter() - start


def shutdown():
    _ray().shutdown()


def _own(value):
    """A writable copy of what arrived: Ray hands over arrays read-only, from its store."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, split.Message):
        value.payload = {k: np.array(v, copy=True) for k, v in value.payload.items()}
        return value
    if isinstance(value, (list, tuple)):
        return type(value)(_own(v) for v in value)
    return value


class _Party:
    """One party in its own process: the in-process ``Alice`` or ``Bob``, unchanged."""

    def __init__(self, party):
        import copy

        # a party shipped here arrives with read-only arrays (Ray's store); a deep copy
        # owns them and keeps every alias inside (the optimizer's references to the model)
        self.party = party() if callable(party) and not isinstance(
            party, (split.Alice, split.Bob)) else copy.deepcopy(party)
        self.channel = split.Channel()
        self.failures = {}  # test hook: {call number: reason} makes that call fail

    def _tick(self, name):
        self.calls = getattr(self, "calls", 0) + 1
        if self.calls in self.failures:
            raise ConnectionError(f"{self.failures.pop(self.calls)} (in {name})")

    def fail_at(self, call, reason):
        self.failures[int(call)] = reason

    def forward(self, rows):
        self._tick("forward")
        return self.party.forward(_own(rows), self.channel)

    def backward(self, message):
        self._tick("backward")
        self.party.backward(_own(message))
        return True

    def backward_then_forward(self, message, rows):
        """alice's half of two steps in one call (one hop fewer a step): apply step k's
        gradient, then run step k+1's forward (either may be None)."""
        self._tick("backward")
        if message is not None:
            self.party.backward(_own(message))
        return None if rows is None else self.party.forward(_own(rows), self.channel)

    def step(self, rows, message):
        self._tick("step")
        return self.party.step(_own(rows), _own(message), self.channel), self.party.last_loss

    def embed(self, rows):
        return self.party.embed(_own(rows), self.channel)

    def predict(self, rows, message):
        return self.party.predict(_own(rows), _own(message))

    def labels(self, rows):
        return self.party.labels(_own(rows))

    def num_rows(self):
        return len(self.party.X)

    def bytes(self):
        return dict(self.channel.bytes)

    def get(self):
        """The party itself (a copy): its model, optimizer moments, pending forward."""
        return self.party


def parties(alice, bob, *, alice_options=None, bob_options=None):
    """Move ``alice`` and ``bob`` (parties, or factories that build them) into Ray actors.

    *_options: Ray actor options, e.g. ``{"resources": {"alice": 1}}`` to place a party
    on its own machine. -> (alice actor, bob actor).
    """
    ray = _ray()
    actor = ray.remote(num_cpus=1)(_Party)
    return (actor.options(**(alice_options or {})).remote(alice),
            actor.options(**(bob_options or {})).remote(bob))


def _failure(error, who, k, num_steps):
    """A Ray error from ``who``'s call in step k -> PartyError naming both."""
    ray = _ray()
    if isinstance(error, ray.exceptions.RayActorError):
        what = "its process died"
    else:
        cause = getattr(error, "cause", None) or error
        what = f"{type(cause).__name__}: {cause}"
    return PartyError(f"ray_split.train_epoch: step {k + 1} of {num_steps} failed on {who}'s "
                      f"side ({what}); steps 1-{k} are complete and alice has not applied "
                      f"step {k + 1}")


def train_epoch(alice, bob, rows=None, batch_size=128, rng=None):
    """``split.train_epoch`` with the parties in their actors: mean loss per batch.

    The steps are submitted in order and run in order in each actor; if a party fails
    at step k, steps 1..k-1 are complete and alice has not applied step k (its backward
    never runs): ``PartyError`` names the step and the party.
    """
    ray = _ray()
    rows = ray.get(bob.num_rows.remote()) if rows is None else rows
    steps = split.batches(rows, batch_size, rng)
    if not steps:
        return float("nan")
    # alice: forward 1 | bob: step 1 | alice: backward 1 + forward 2 | bob: step 2 | ...
    hidden = alice.forward.remote(steps[0])
    refs = []
    for k, b in enumerate(steps):
        grad, loss = bob.step.options(num_returns=2).remote(b, hidden)
        nxt = steps[k + 1] if k + 1 < len(steps) else None
        hidden = alice.backward_then_forward.remote(grad, nxt)
        refs.append((hidden, loss))
    losses = []
    for k, (done, loss) in enumerate(refs):
        for who, ref in (("bob", loss), ("alice", done)):
            try:
                value = ray.get(ref)
            except (ray.exceptions.RayTaskError, ray.exceptions.RayActorError) as error:
                if isinstance(error, ray.exceptions.RayTaskError) and who == "alice" and \
                        "RayActorError" in str(error):
                    who = "bob"
                raise _failure(error, who, k, len(steps)) from error
            if who == "bob":
                losses.append(value)
    return float(np.mean(losses)) if losses else float("nan")


def predict(alice, bob, rows=None, batch_size=65536):
    """``split.predict`` over the actors: probabilities (R,)."""
    ray = _ray()
    n = ray.get(bob.num_rows.remote())
    rows = np.arange(n) if rows is None else split._row_positions(rows, n)
    if len(rows) == 0:
        return np.zeros(0)
    return np.concatenate(ray.get([bob.predict.remote(b, alice.embed.remote(b))
                                   for b in split.batches(rows, batch_size)]))


def evaluate(alice, bob, rows=None, threshold=0.5, batch_size=65536):
    """bob's metrics of the split model on ``rows`` (``metrics.binary_metrics``)."""
    from .. import metrics

    ray = _ray()
    n = ray.get(bob.num_rows.remote())
    rows = np.arange(n) if rows is None else split._row_positions(rows, n)
    return metrics.binary_metrics(ray.get(bob.labels.remote(rows)),
                                  predict(alice, bob, rows, batch_size), threshold)
