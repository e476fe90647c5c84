"""DeepFM (Guo et al., 2017) in the pieces SecretFlow's SplitRec tutorial splits it into.

A party's ``DeepFMBase``: its field ids (B, S) -> (deep (B, units[-1]), fm (B, dim + 1)),
its DNN output and its FM share. The label holder merges the parties' pairs
(``Aggregation``) and its ``DeepFMFuse`` returns logits (B, 1); ``CentralizedDeepFM`` is
the same function in one graph. How this follows SecretFlow: docs/splitrec.md.
"""

import copy

import numpy as np

from . import rng as _rng
from .nn import Layer, Linear
from .tensor import Tensor, concat

__all__ = [
    "FieldEmbedding",
    "FirstOrder",
    "DNN",
    "DeepFMBase",
    "Aggregation",
    "DeepFMFuse",
    "CentralizedDeepFM",
    "hidden_parts",
    "AGGREGATIONS",
]

AGGREGATIONS = ("concat", "sum")
"""How the label holder combines the parties' DNN outputs (SecretFlow's fuse concatenates)."""


def _slots(cardinalities, slots):
    cards = [int(c) for c in cardinalities]
    if not cards or min(cards) < 1:
        raise ValueError(f"cardinalities must be positive integers, one per field, got {cards}")
    slots = [1] * len(cards) if slots is None else [int(s) for s in slots]
    if len(slots) != len(cards) or min(slots) < 1:
        raise ValueError(f"slots must be positive integers, one per field ({len(cards)}), "
                         f"got {slots}")
    return cards, slots


class FieldEmbedding(Layer):
    """Embeddings of categorical fields, one-hot or multi-hot, kept in one table.

    ``cardinalities`` (F,): values per field; ``slots`` (F,): input columns per field
    (1 for a one-hot field, the largest bag for a multi-hot one such as genres).
    forward(X): X (B, sum(slots)) ints, each column the field's own id 0..card-1, or
    -1 for an empty slot of a multi-hot field -> (B, F, dim), the sum of the rows of
    the ids in each field, plus the field's bias (``bias=True``). This equals
    SecretFlow's ``Dense(dim)`` on each field's one-hot (or multi-hot) vector.

    Field f's rows are ``weight[row_offsets[f] : row_offsets[f] + card_f]``; the last
    row is the empty slot: zero, and it never learns. ``init``: 'glorot' (Keras'
    default for a Dense of fan-in card_f and fan-out dim, per field) or 'zeros'.
    """

    def __init__(self, cardinalities, dim, slots=None, bias=True, init="glorot", rng=None,
                 dtype=np.float32):
        rng = _rng.resolve(rng)
        cards, slots = _slots(cardinalities, slots)
        self.cardinalities, self.slots, self.dim = tuple(cards), tuple(slots), int(dim)
        self.row_offsets = np.concatenate([[0], np.cumsum(cards)[:-1]]).astype(np.intp)
        self.padding_idx = int(sum(cards))
        column_field = np.repeat(np.arange(len(cards)), slots)
        self._column_offset = self.row_offsets[column_field]        # (S,)
        self._column_card = np.asarray(cards, dtype=np.intp)[column_field]
        self._column_min = -(np.asarray(slots)[column_field] > 1).astype(np.intp)  # -1: a bag
        self._bags = tuple(int(s) for s in np.concatenate([[0], np.cumsum(slots)[:-1]]))
        self._multi = any(s > 1 for s in slots)
        if init == "glorot":
            w = np.concatenate([rng.uniform(-1, 1, (c, dim)) * np.sqrt(6.0 / (c + dim))
                                for c in cards] + [np.zeros((1, dim))])
        elif init == "zeros":
            w = np.zeros((self.padding_idx + 1, dim))
        else:
            raise ValueError(f"FieldEmbedding: init must be 'glorot' or 'zeros', got {init!r}")
        self.weight = Tensor(w.astype(dtype), autograd=True)
        self.bias = Tensor(np.zeros((len(cards), dim), dtype=dtype), autograd=True) if bias \
            else None

    @property
    def num_fields(self):
        return len(self.cardinalities)

    def rows(self, X):
        """Global table rows of local ids X (B, S); -1 -> the empty row. Checks each field."""
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != len(self._column_offset) or \
                not np.issubdtype(X.dtype, np.integer):
            raise ValueError(f"{type(self).__name__}: expected integer ids of shape (batch, "
                             f"{len(self._column_offset)}), got {X.shape} {X.dtype}")
        bad = (X < self._column_min) | (X >= self._column_card)
        if bad.any():
            b, s = (int(i) for i in np.argwhere(bad)[0])
            raise IndexError(f"{type(self).__name__}: id {int(X[b, s])} in row {b}, column "
                             f"{s} is outside 0..{int(self._column_card[s]) - 1}"
                             + (" (or -1 for an empty slot of a multi-hot field)"
                                if self._column_min[s] < 0 else ""))
        rows = X + self._column_offset
        if self._multi:
            rows = np.where(X < 0, self.padding_idx, rows)
        return rows

    def forward(self, X):
        return self.lookup(self.rows(X))

    def lookup(self, rows):
        """forward() from global rows already checked by ``rows(X)``: (B, S) -> (B, F, dim)."""
        if self._multi:
            v = self.weight.embedding_bag(rows, offsets=self._bags, padding_idx=self.padding_idx)
        else:  # one-hot fields never point at the empty row
            v = self.weight.embedding_bag(rows)
        return v if self.bias is None else v + self.bias


class FirstOrder(Layer):
    """The linear part of an FM over categorical fields: (B, S) ids -> (B, 1).

    sum over fields of w[id] (a multi-hot field adds each of its ids), plus a bias;
    all zero at the start, as SecretFlow's ``Dense(1, kernel_initializer='zeros')``.
    """

    def __init__(self, cardinalities, slots=None, dtype=np.float32):
        self.weights = FieldEmbedding(cardinalities, 1, slots, bias=False, init="zeros",
                                      dtype=dtype)
        self.bias = Tensor(np.zeros(1, dtype=dtype), autograd=True)

    def forward(self, X):
        return self.lookup(self.weights.rows(X))

    def lookup(self, rows):
        """forward() from global rows already checked by ``rows(X)``."""
        table = self.weights
        w = table.weight.embedding_bag(rows, offsets=(0,),
                                       padding_idx=table.padding_idx if table._multi else None)
        return w.reshape(len(rows), 1) + self.bias  # one bag of every slot: (B, 1, 1)


class DNN(Layer):
    """Fully connected layers with ReLU: (B, n_inputs) -> (B, units[-1]).

    ``output_dim``: one more Linear without activation on top (the fuse's Dense(1)).
    Linear layers are He-initialised (``nn.Linear``).
    """

    def __init__(self, n_inputs, units, output_dim=None, rng=None, dtype=np.float32):
        rng = _rng.resolve(rng)
        self.units = tuple(int(u) for u in units)
        sizes = (int(n_inputs),) + self.units
        self.layers = [Linear(a, b, rng=rng, dtype=dtype)
                       for a, b in zip(sizes[:-1], sizes[1:], strict=True)]
        self.output = None if output_dim is None else Linear(sizes[-1], output_dim, rng=rng,
                                                             dtype=dtype)

    def forward(self, x):
        for layer in self.layers:  # one fused op a layer: x W + b, then ReLU
            x = x.linear(layer.weight, layer.bias, activation="relu")
        if self.output is not None:
            x = x.linear(self.output.weight, self.output.bias)
        return x


class DeepFMBase(Layer):
    """One party's half of DeepFM: its fields -> (deep, fm).

    X (B, sum(slots)) ids as for ``FieldEmbedding`` ->
      deep (B, units[-1]): DNN on the concatenated field embeddings;
      fm (B, dim + 1): its FM share ``v.fm_stats(first_order)``, i.e. the columns
      fm_sum = sum_f v_f and fm_linear = first order - 1/2 sum_f |v_f|^2.
    ``hidden(X)`` joins them into the one cut tensor (B, units[-1] + dim + 1) a party
    sends. ``fm_stop_gradient``: the FM share does not train the embeddings (SecretFlow).
    """

    def __init__(self, cardinalities, slots=None, dim=16, units=(256, 32),
                 fm_stop_gradient=False, rng=None, dtype=np.float32):
        rng = _rng.resolve(rng)
        self.embedding = FieldEmbedding(cardinalities, dim, slots, rng=rng, dtype=dtype)
        self.first_order = FirstOrder(cardinalities, slots, dtype=dtype)
        self.dnn = DNN(self.embedding.num_fields * dim, units, rng=rng, dtype=dtype)
        self.fm_stop_gradient = bool(fm_stop_gradient)

    @property
    def dim(self):
        return self.embedding.dim

    @property
    def deep_dim(self):
        return self.dnn.units[-1]

    @property
    def hidden_dim(self):
        """Width of the cut tensor: deep_dim + dim + 1."""
        return self.deep_dim + self.dim + 1

    def forward(self, X):
        rows = self.embedding.rows(X)        # both tables share the layout: check once
        v = self.embedding.lookup(rows)                         # (B, F, dim)
        batch, fields, dim = v.shape
        deep = self.dnn(v.reshape(batch, fields * dim))
        fm_v = v.detach() if self.fm_stop_gradient else v
        return deep, fm_v.fm_stats(self.first_order.lookup(rows))

    def hidden(self, X):
        """The cut tensor: concat(deep, fm) -> (B, hidden_dim)."""
        return concat(self.forward(X), dim=1)

    def split_hidden(self, hidden):
        """Columns of a cut array (B, hidden_dim) as (deep, fm) views."""
        return hidden_parts(hidden, self.dim)


def hidden_parts(hidden, dim):
    """(deep, fm) column views of a cut array (B, deep + dim + 1); fm is (B, dim + 1)."""
    width = hidden.shape[1]
    if width < dim + 2:
        raise ValueError(f"a cut tensor of width {width} cannot hold deep outputs and an FM "
                         f"share of width {dim + 1}")
    return hidden[:, :width - dim - 1], hidden[:, width - dim - 1:]


class Aggregation(Layer):
    """The label holder's merge of the parties' (deep, fm) pairs -> one (deep, fm).

    mode 'concat': the deep outputs side by side (B, sum of widths) — SecretFlow's
    fuse; 'sum': added (B, width), all parties must have the same width. The FM
    shares are always added: that is what makes the FM span every party's fields.
    """

    def __init__(self, mode="concat"):
        if mode not in AGGREGATIONS:
            raise ValueError(f"Aggregation: mode must be one of {AGGREGATIONS}, got {mode!r}")
        self.mode = mode

    def forward(self, parts):
        parts = list(parts)
        if not parts:
            raise ValueError("Aggregation: needs at least one party's outputs")
        if len(parts) == 1:
            return parts[0]
        deeps, fms = zip(*parts, strict=True)
        if self.mode == "concat":
            deep = concat(deeps, dim=1)
        else:
            widths = {d.shape[1] for d in deeps}
            if len(widths) != 1:
                raise ValueError(f"Aggregation('sum'): the parties' deep outputs differ in "
                                 f"width {sorted(widths)}; use 'concat' or equal units")
            deep = _total(deeps)
        return deep, _total(fms)

    def output_dim(self, deep_dims):
        """Width of the merged deep output for parties with these deep widths."""
        return sum(deep_dims) if self.mode == "concat" else max(deep_dims)


def _total(tensors):
    out = tensors[0]
    for t in tensors[1:]:
        out = out + t
    return out


class DeepFMFuse(Layer):
    """The label holder's top: logits = DNN(deep) + fm.fm_from_stats() -> (B, 1).

    fm (B, dim + 1), the summed shares: fm_from_stats = 1/2 |fm_sum|^2 + fm_linear.
    ``n_inputs``: width of the aggregated deep output; DNN ``units`` then Dense(1).
    Returns logits; the probability is their sigmoid (train with BCE on logits).
    """

    def __init__(self, n_inputs, units=(256, 256, 32), rng=None, dtype=np.float32):
        self.dnn = DNN(n_inputs, units, output_dim=1, rng=rng, dtype=dtype)

    def forward(self, deep, fm):
        return self.dnn(deep) + fm.fm_from_stats()


class CentralizedDeepFM(Layer):
    """The whole DeepFM in one graph, on everyone's fields: [X_0, X_1, ...] -> logits (B, 1).

    Built from the parties' layers (``bases``, one per party, in order; a ``fuse``;
    the aggregation mode): the same function as the split model, but the FM is one
    ``fm_interaction`` over all fields' embeddings plus each party's first order, and
    one ``backward`` reaches every weight. ``from_parties`` copies the weights, so
    the copy trains on its own.
    """

    def __init__(self, bases, fuse, aggregation="concat"):
        self.bases = list(bases)
        self.fuse = fuse
        self.aggregation = Aggregation(aggregation)

    @classmethod
    def from_parties(cls, bases, fuse, aggregation="concat"):
        """A centralized model with copies of these parties' weights."""
        return cls([copy.deepcopy(b) for b in bases], copy.deepcopy(fuse), aggregation)

    def forward(self, Xs):
        Xs = list(Xs)
        if len(Xs) != len(self.bases):
            raise ValueError(f"CentralizedDeepFM: expected {len(self.bases)} feature arrays "
                             f"(one per party), got {len(Xs)}")
        embeddings = [base.embedding(X) for base, X in zip(self.bases, Xs, strict=True)]
        v = concat([e.detach() if base.fm_stop_gradient else e
                    for base, e in zip(self.bases, embeddings, strict=True)], dim=1)
        fm = v.fm_interaction()                                 # (B, all fields, dim) -> (B, 1)
        for base, X in zip(self.bases, Xs, strict=True):
            fm = fm + base.first_order(X)
        deeps = [base.dnn(e.reshape(e.shape[0], e.shape[1] * e.shape[2]))
                 for base, e in zip(self.bases, embeddings, strict=True)]
        deep = deeps[0] if len(deeps) == 1 else (
            concat(deeps, dim=1) if self.aggregation.mode == "concat" else _total(deeps))
        return self.fuse.dnn(deep) + fm
