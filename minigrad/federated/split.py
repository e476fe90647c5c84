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
no features, no labels) plus the id of its batch (``batch_id(rows)``), which each
party checks against its own batch before it uses the message; its bytes are what
the wire would carry, counted by a ``Channel``. Cut tensors may be compressed
(``federated.compression``). The parties of notebook 04 (MovieLens features,
DeepFM): ``recipes.deepfm.make_parties``.
"""

import hashlib
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
    "batch_id",
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
def batch_id(rows, num_rows):
    """The id of the batch ``rows`` (a slice or positions into ``num_rows`` rows): a str.

    The first 8 bytes of SHA-256 over the row positions (int64), in hex: both parties
    compute it from their own rows, so a message for other rows (or the same rows in
    another order) is caught before it is used.
    """
    positions = np.ascontiguousarray(np.arange(num_rows)[rows] if isinstance(rows, slice)
                                     else np.asarray(rows), dtype=np.int64)
    return hashlib.sha256(positions.tobytes()).hexdigest()[:16]


class Message:
    """One transmission: ``sender`` -> ``receiver``, a ``kind`` and a payload of ndarrays.

    ``payload`` {name: ndarray} is copied on creation, so neither side can reach the
    other's memory. ``codec`` (agreed beforehand, not sent) decodes it: ``decode()``.
    ``batch``: the batch id (``batch_id``), a header like ``kind``. ``nbytes``: the
    payload's bytes (the headers, a few bytes each, are not counted).
    """

    __slots__ = ("sender", "receiver", "kind", "payload", "codec", "batch")

    def __init__(self, sender, receiver, kind, payload, codec=None, batch=None):
        clean = {}
        for name, value in payload.items():
            if not isinstance(value, np.ndarray):
                raise TypeError(f"Message: payload '{name}' must be an ndarray, got "
                                f"{type(value).__name__} (a Tensor would carry its graph)")
            clean[name] = value.copy()
        self.sender, self.receiver, self.kind = sender, receiver, kind
        self.payload = clean
        self.codec = get_codec(codec)
        self.batch = batch

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


def _check_received(message, kind, receiver, batch, who):
    """Raise unless ``message`` is a ``kind`` Message for ``receiver`` of batch ``batch``."""
    if not isinstance(message, Message) or message.kind != kind \
            or message.receiver != receiver:
        raise ValueError(f"{who} expects {kind!r} messages for {receiver}, got {message!r}")
    if message.batch != batch:
        raise ValueError(f"{who}: {message.sender}'s {kind!r} message is for batch "
                         f"{message.batch!r}, but {receiver}'s batch is {batch!r} (other rows, "
                         f"or the same rows in another order)")


def _check_cut(values, shape, who):
    """Raise unless a decoded cut array is floating, finite and exactly ``shape``."""
    if not np.issubdtype(values.dtype, np.floating):
        raise ValueError(f"{who}: the cut array has dtype {values.dtype}, expected floating")
    if values.shape != shape:
        raise ValueError(f"{who}: the cut array has shape {values.shape}, expected {shape}")
    if values.size and not np.isfinite(values).all():
        raise ValueError(f"{who}: the cut array holds nan or inf; a step on it would make "
                         f"the model's weights nan")


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
        self._batch = None   # and its batch id

    def forward(self, rows, channel=None):
        """Run her base on ``rows`` and send the cut tensor: -> Message 'hidden'."""
        hidden = self.model.hidden(self.X[rows])
        self._hidden, self._batch = hidden, batch_id(rows, len(self.X))
        return _send(channel, Message(self.name, self.peer, "hidden",
                                      self.codec.encode(hidden.data), self.codec,
                                      batch=self._batch))

    def backward(self, message):
        """Backpropagate bob's dL/dhidden from the cut into her model, then step.

        The message is checked first (kind, receiver, batch id, shape, finite); a refused
        one leaves the forward pass in flight, so the right gradient can still follow.
        """
        if self._hidden is None:
            raise RuntimeError("Alice.backward: no forward pass in flight (call forward first)")
        _check_received(message, "grad", self.name, self._batch, "Alice.backward")
        grad = message.decode(self.dtype)
        _check_cut(grad, self._hidden.data.shape, f"Alice.backward ({message.sender}'s grad)")
        hidden, self._hidden, self._batch = self._hidden, None, None
        hidden.backward(grad)
        self.optimizer.step()

    def embed(self, rows, channel=None):
        """The cut tensor for ``rows`` without a graph (evaluation): -> Message 'hidden'."""
        with no_grad():
            hidden = self.model.hidden(self.X[rows])
        return _send(channel, Message(self.name, self.peer, "hidden",
                                      self.codec.encode(hidden.data), self.codec,
                                      batch=batch_id(rows, len(self.X))))


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
        if not np.isin(y, (0, 1)).all():  # a rating 1-5 or a nan is no BCE target
            raise ValueError(f"Bob: labels must be 0 or 1 for the BCE loss, got values "
                             f"{np.unique(y[~np.isin(y, (0, 1))])[:5].tolist()}")
        self.model, self.fuse = model, fuse
        self.dtype = _dtype_of(model)
        self.y = y.astype(self.dtype).reshape(-1, 1)
        self.aggregation = aggregation if isinstance(aggregation, Aggregation) \
            else Aggregation(aggregation)
        params = model.get_parameters() + fuse.get_parameters()
        self.optimizer = optimizer if optimizer is not None else Adam(params, lr)
        self.codec = get_codec(codec)
        self.last_loss = None

    def _cut_leaves(self, rows, messages):
        """Each message's cut tensor as leaf Tensors (deep, fm): column views, no op.

        Every message is checked first (kind, receiver, batch id against ``rows``, one per
        sender, shape (B, width), finite), so a bad one is refused before anything runs.
        """
        batch = batch_id(rows, len(self.X))
        num_rows = len(np.arange(len(self.X))[rows]) if isinstance(rows, slice) \
            else len(np.asarray(rows))
        senders, hiddens = set(), []
        for m in messages:
            _check_received(m, "hidden", self.name, batch, "Bob")
            if m.sender in senders:
                raise ValueError(f"Bob: two 'hidden' messages from {m.sender} in one batch")
            senders.add(m.sender)
            hidden = m.decode(self.dtype)
            width = hidden.shape[1] if hidden.ndim == 2 else -1
            _check_cut(hidden, (num_rows, width), f"Bob ({m.sender}'s hidden)")
            hiddens.append(hidden)
        self._check_widths([h.shape[1] for h in hiddens])
        return [tuple(Tensor(part, autograd=True) for part in hidden_parts(h, self.model.dim))
                for h in hiddens]

    def _check_widths(self, widths):
        """Raise unless the parties' cut widths fit his aggregation and fuse model."""
        fm = self.model.dim + 1
        deep = [w - fm for w in widths] + [self.model.deep_dim]
        expected = self.fuse.get_parameters()[0].data.shape[0]  # the fuse's input width
        if min(deep) < 1 or self.aggregation.output_dim(deep) != expected or (
                self.aggregation.mode == "sum" and len(set(deep)) != 1):
            raise ValueError(f"Bob: cut widths {widths} do not fit his {self.aggregation.mode} "
                             f"aggregation into a fuse of input width {expected} (each cut is "
                             f"deep outputs + an FM share of width {fm})")

    def logits(self, rows, messages):
        """Fuse logits (B, 1) for ``rows`` from the parties' cut tensors and his own base."""
        parts = self._cut_leaves(rows, messages)
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
                                                  self.codec.encode(grad), self.codec,
                                                  batch=m.batch)))  # checked: bob's own
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
