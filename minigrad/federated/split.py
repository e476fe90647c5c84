"""Split learning between two parties that hold different columns of the same rows.

``alice`` holds user features and a base model; ``bob`` holds item features, the
labels, a base model, the aggregation layer and the fuse model. Each owns an
optimizer. One training step on the batch ``rows`` (row positions both agreed on):

    alice: hidden_0 = base_0(X_alice[rows])            -> Message(hidden_0)
    bob:   hidden_1 = base_1(X_bob[rows]); aggregate; fuse; loss(y[rows]);
           backward to the cut                         -> Message(dL/dhidden_0)
    alice: hidden_0.backward(dL/dhidden_0)
    both:  optimizer step

A ``Message`` carries named ndarrays and nothing else (no Tensor, so no graph,
no features, no labels); its bytes are what the wire would carry, counted by a
``Channel``. Cut tensors may be compressed (``federated.compression``). The parties
of notebook 04 (MovieLens features, DeepFM): ``recipes.deepfm.make_parties``.
"""

from dataclasses import dataclass, field

import numpy as np

from .. import metrics
from ..deepfm import Aggregation, hidden_parts
from ..optim import Adam
from ..tensor import Tensor, no_grad
from .compression import get_codec
from .params import num_bytes

__all__ = [
    "Message",
    "Channel",
    "Alice",
    "Bob",
    "train_step",
    "train_epoch",
    "predict",
    "evaluate",
    "batches",
]


# ---------------------------------------------------------------------------
# what crosses between the parties
# ---------------------------------------------------------------------------
class Message:
    """One transmission: ``sender`` -> ``receiver``, a ``kind`` and a payload of ndarrays.

    ``payload`` {name: ndarray} is copied on creation, so neither side can reach the
    other's memory. ``codec`` (agreed beforehand, not sent) decodes it: ``decode()``.
    ``nbytes``: the payload's bytes.
    """

    __slots__ = ("sender", "receiver", "kind", "payload", "codec")

    def __init__(self, sender, receiver, kind, payload, codec=None):
        clean = {}
        for name, value in payload.items():
            if not isinstance(value, np.ndarray):
                raise TypeError(f"Message: payload '{name}' must be an ndarray, got "
                                f"{type(value).__name__} (a Tensor would carry its graph)")
            clean[name] = value.copy()
        self.sender, self.receiver, self.kind = sender, receiver, kind
        self.payload = clean
        self.codec = get_codec(codec)

    @property
    def nbytes(self):
        return num_bytes(self.payload)

    def decode(self, dtype=np.float32):
        """The array this message stands for."""
        return self.codec.decode(self.payload, dtype)

    def describe(self):
        """{name: (shape, dtype name)} of the payload: what an observer of the wire sees."""
        return {name: (a.shape, a.dtype.name) for name, a in self.payload.items()}

    def __repr__(self):
        return (f"Message({self.sender} -> {self.receiver}, {self.kind!r}, {self.codec.name}, "
                f"{self.describe()}, {self.nbytes} bytes)")


@dataclass
class Channel:
    """Counts the bytes and messages each way; with ``keep=True`` keeps every Message."""

    keep: bool = False
    bytes: dict = field(default_factory=dict)     # (sender, receiver) -> bytes
    messages: dict = field(default_factory=dict)  # (sender, receiver) -> count
    log: list = field(default_factory=list)

    def send(self, message):
        key = (message.sender, message.receiver)
        self.bytes[key] = self.bytes.get(key, 0) + message.nbytes
        self.messages[key] = self.messages.get(key, 0) + 1
        if self.keep:
            self.log.append(message)
        return message

    def bytes_sent(self, sender, receiver):
        return self.bytes.get((sender, receiver), 0)

    @property
    def total_bytes(self):
        return sum(self.bytes.values())

    def reset(self):
        self.bytes.clear()
        self.messages.clear()
        self.log.clear()


def _send(channel, message):
    return message if channel is None else channel.send(message)


def _check_rows_data(X, name):
    X = np.asarray(X)
    if X.ndim != 2 or not np.issubdtype(X.dtype, np.integer):
        raise ValueError(f"{name}: features must be a 2-D integer id array (rows, columns), "
                         f"got shape {X.shape} and dtype {X.dtype}")
    return X


def _dtype_of(model):
    return model.get_parameters()[0].data.dtype


# ---------------------------------------------------------------------------
# the parties
# ---------------------------------------------------------------------------
class Alice:
    """The feature party: her ids ``X`` (R, S), her ``model`` (a base with ``hidden(X)``).

    ``optimizer`` defaults to Adam(lr) over her model; ``codec`` compresses what she
    sends. She never holds a label or anything of bob's.
    """

    def __init__(self, X, model, optimizer=None, codec=None, lr=1e-3, name="alice",
                 peer="bob"):
        self.name = name  # another feature party (a third one, say) takes another name
        self.X = _check_rows_data(X, "Alice")
        self.model = model
        self.optimizer = optimizer if optimizer is not None else Adam(model.get_parameters(), lr)
        self.codec = get_codec(codec)
        self.peer = peer
        self.dtype = _dtype_of(model)
        self._hidden = None  # the cut tensor of the step in flight

    def forward(self, rows, channel=None):
        """Run her base on ``rows`` and send the cut tensor: -> Message 'hidden'."""
        hidden = self.model.hidden(self.X[rows])
        self._hidden = hidden
        return _send(channel, Message(self.name, self.peer, "hidden",
                                      self.codec.encode(hidden.data), self.codec))

    def backward(self, message):
        """Backpropagate bob's dL/dhidden from the cut into her model, then step."""
        if message.kind != "grad" or message.receiver != self.name:
            raise ValueError(f"Alice.backward expects a 'grad' message for {self.name}, got "
                             f"{message!r}")
        if self._hidden is None:
            raise RuntimeError("Alice.backward: no forward pass in flight (call forward first)")
        hidden, self._hidden = self._hidden, None
        hidden.backward(message.decode(self.dtype))
        self.optimizer.step()

    def embed(self, rows, channel=None):
        """The cut tensor for ``rows`` without a graph (evaluation): -> Message 'hidden'."""
        with no_grad():
            hidden = self.model.hidden(self.X[rows])
        return _send(channel, Message(self.name, self.peer, "hidden",
                                      self.codec.encode(hidden.data), self.codec))


class Bob:
    """The label party: ids ``X`` (R, S), labels ``y`` (R,) 0/1, base ``model``, ``fuse``.

    ``aggregation``: 'concat' or 'sum' (see deepfm.Aggregation). ``optimizer``
    defaults to Adam(lr) over his base and fuse; ``codec`` compresses the
    gradients he sends back. ``last_loss``: the loss of his latest step.
    """

    name = "bob"

    def __init__(self, X, y, model, fuse, optimizer=None, aggregation="concat", codec=None,
                 lr=1e-3):
        self.X = _check_rows_data(X, "Bob")
        y = np.asarray(y).reshape(-1)
        if len(y) != len(self.X):
            raise ValueError(f"Bob: {len(self.X)} feature rows but {len(y)} labels")
        self.model, self.fuse = model, fuse
        self.dtype = _dtype_of(model)
        self.y = y.astype(self.dtype).reshape(-1, 1)
        self.aggregation = aggregation if isinstance(aggregation, Aggregation) \
            else Aggregation(aggregation)
        params = model.get_parameters() + fuse.get_parameters()
        self.optimizer = optimizer if optimizer is not None else Adam(params, lr)
        self.codec = get_codec(codec)
        self.last_loss = None

    def _cut_leaves(self, messages):
        """Each message's cut tensor as leaf Tensors (deep, fm): column views, no op."""
        leaves = []
        for m in messages:
            if m.kind != "hidden" or m.receiver != self.name:
                raise ValueError(f"Bob expects 'hidden' messages for {self.name}, got {m!r}")
            hidden = m.decode(self.dtype)
            leaves.append(tuple(Tensor(part, autograd=True)
                                for part in hidden_parts(hidden, self.model.dim)))
        return leaves

    def logits(self, rows, messages):
        """Fuse logits (B, 1) for ``rows`` from the parties' cut tensors and his own base."""
        parts = self._cut_leaves(messages)
        return self.fuse(*self.aggregation(parts + [self.model(self.X[rows])])), parts

    def step(self, rows, message, channel=None):
        """Forward, loss, backward to the cut, step; -> the gradient Message(s) to send.

        ``message``: alice's 'hidden' Message (or a list, one per feature party).
        """
        single = isinstance(message, Message)
        messages = [message] if single else list(message)
        logits, parts = self.logits(rows, messages)
        loss = logits.bce_with_logits(self.y[rows])
        loss.backward()
        self.optimizer.step()
        self.last_loss = float(loss.data)
        replies = []
        for m, leaves in zip(messages, parts, strict=True):
            grad = np.concatenate([p.grad if p.grad is not None else np.zeros_like(p.data)
                                   for p in leaves], axis=1)
            replies.append(_send(channel, Message(self.name, m.sender, "grad",
                                                  self.codec.encode(grad), self.codec)))
        return replies[0] if single else replies

    def predict(self, rows, message):
        """Probabilities (B,) for ``rows``, without a graph."""
        messages = [message] if isinstance(message, Message) else list(message)
        with no_grad():
            logits, _ = self.logits(rows, messages)
        return logits.sigmoid().data.reshape(-1)

    def labels(self, rows):
        return self.y[rows].reshape(-1)


# ---------------------------------------------------------------------------
# the protocol
# ---------------------------------------------------------------------------
def train_step(alice, bob, rows, channel=None):
    """One split-learning step on ``rows``; returns bob's loss (float)."""
    hidden = alice.forward(rows, channel)
    grad = bob.step(rows, hidden, channel)
    alice.backward(grad)
    return bob.last_loss


def batches(rows, batch_size, rng=None):
    """Consecutive batches of ``rows`` (an int array or a count): slices when in order.

    With ``rng`` the rows are shuffled first (an explicit np.random.Generator).
    """
    if np.ndim(rows) == 0:
        n = int(rows)
        if rng is None:
            return [slice(i, min(i + batch_size, n)) for i in range(0, n, batch_size)]
        rows = np.arange(n)
    rows = np.asarray(rows)
    if rng is not None:
        rows = rows[rng.permutation(len(rows))]
    return [rows[i:i + batch_size] for i in range(0, len(rows), batch_size)]


def train_epoch(alice, bob, rows=None, batch_size=128, rng=None, channel=None):
    """One pass over ``rows`` (default all, in order) in batches; mean loss per batch."""
    rows = len(bob.X) if rows is None else rows
    losses = [train_step(alice, bob, b, channel) for b in batches(rows, batch_size, rng)]
    return float(np.mean(losses)) if losses else float("nan")


def _row_positions(rows, n):
    """None (all), a slice or positions -> an int array of row positions."""
    if rows is None:
        return np.arange(n)
    if isinstance(rows, slice):
        return np.arange(n)[rows]
    return np.asarray(rows)


def predict(alice, bob, rows=None, channel=None, batch_size=65536):
    """Probabilities (R,) for ``rows`` (default all): vectorized, ``batch_size`` rows a block.

    The blocks only bound memory (ml-1m's million rows at once would need gigabytes of
    activations); each is one vectorized forward pass, one message each way.
    """
    rows = _row_positions(rows, len(bob.X))
    if len(rows) == 0:
        return np.zeros(0, dtype=bob.dtype)
    return np.concatenate([bob.predict(b, alice.embed(b, channel))
                           for b in batches(rows, batch_size)])


def evaluate(alice, bob, rows=None, threshold=0.5, channel=None, batch_size=65536):
    """bob's view of the split model on ``rows``: metrics.binary_metrics (loss, auc, ...)."""
    rows = _row_positions(rows, len(bob.X))
    return metrics.binary_metrics(bob.labels(rows),
                                  predict(alice, bob, rows, channel, batch_size), threshold)
