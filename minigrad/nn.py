"""Layers: parameters, ``forward``, and a name -> ndarray view for federated code.

``Layer`` finds its parameters by walking its attributes in the order they were
set: a ``Tensor`` with ``autograd=True`` is a parameter, a ``Layer`` (or a
list of layers) contributes its own under a dotted prefix. ``state_dict()``
is exactly what a federated client ships.
"""

import numpy as np

from . import rng as _rng
from .losses import BCELoss, BCEWithLogitsLoss, MSELoss
from .tensor import Tensor

__all__ = [
    "Layer",
    "Linear",
    "Embedding",
    "Sequential",
    "Sigmoid",
    "Tanh",
    "ReLU",
    "MSELoss",
    "BCELoss",
    "BCEWithLogitsLoss",
]


class Layer:
    """Base class: ``forward``, ``get_parameters()``, ``state_dict()``."""

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def forward(self, *args, **kwargs):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__}.forward")

    def named_parameters(self, prefix=""):
        """(name, Tensor) pairs in definition order, e.g. ('layers.0.weight', W)."""
        seen = set()
        for key, value in vars(self).items():
            for name, param in _named(value, prefix + key):
                if id(param) not in seen:  # a tensor shared by two layers counts once
                    seen.add(id(param))
                    yield name, param

    def get_parameters(self):
        """The trainable tensors, as a list (the book's API)."""
        return [p for _, p in self.named_parameters()]

    def zero_grad(self):
        for p in self.get_parameters():
            p.grad = None

    def state_dict(self):
        """Copies of the parameters as a ``{name: ndarray}`` mapping."""
        return {name: p.data.copy() for name, p in self.named_parameters()}

    def load_state_dict(self, state):
        """Copy values in from a mapping with exactly this layer's names and shapes."""
        params = dict(self.named_parameters())
        missing = sorted(set(params) - set(state))
        extra = sorted(set(state) - set(params))
        if missing or extra:
            raise KeyError(
                f"load_state_dict: names differ from {type(self).__name__}'s parameters "
                f"(missing: {missing}, unexpected: {extra})"
            )
        for name, value in state.items():
            value = np.asarray(value)
            if value.shape != params[name].data.shape:
                raise ValueError(
                    f"load_state_dict: '{name}' has shape {value.shape}, expected "
                    f"{params[name].data.shape}"
                )
        for name, value in state.items():  # only after every check passed: no half-load
            params[name].data[...] = value

    def num_parameters(self):
        return sum(p.data.size for p in self.get_parameters())


def _named(value, name):
    if isinstance(value, Tensor):
        if value.autograd:
            yield name, value
    elif isinstance(value, Layer):
        yield from value.named_parameters(name + ".")
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            if isinstance(item, (Layer, Tensor)):
                yield from _named(item, f"{name}.{i}")


class Linear(Layer):
    """y = x W + b: (B, n_inputs) -> (B, n_outputs); He-scaled normal init as in the book."""

    def __init__(self, n_inputs, n_outputs, bias=True, rng=None, dtype=np.float64):
        rng = _rng.resolve(rng)
        w = rng.standard_normal((n_inputs, n_outputs)) * np.sqrt(2.0 / n_inputs)
        self.weight = Tensor(w.astype(dtype), autograd=True)
        self.bias = Tensor(np.zeros(n_outputs, dtype=dtype), autograd=True) if bias else None

    def forward(self, x):
        y = x.mm(self.weight)
        return y if self.bias is None else y + self.bias


class Embedding(Layer):
    """Lookup table: integer ids (...) -> (..., dim); weight (vocab_size, dim).

    Initialised as in the book, uniform in (-0.5/dim, 0.5/dim). With
    ``padding_idx``, that row starts at zero and never receives a gradient, so
    padded positions add nothing (the book zeroes its '<unk>' row by hand).
    """

    def __init__(self, vocab_size, dim, rng=None, dtype=np.float64, padding_idx=None):
        rng = _rng.resolve(rng)
        self.vocab_size = vocab_size
        self.dim = dim
        if padding_idx is not None and not 0 <= padding_idx < vocab_size:
            raise ValueError(f"Embedding: padding_idx={padding_idx} is outside 0..{vocab_size - 1}")
        self.padding_idx = padding_idx
        w = (rng.random((vocab_size, dim)) - 0.5) / dim
        if padding_idx is not None:
            w[padding_idx] = 0
        self.weight = Tensor(w.astype(dtype), autograd=True)

    def forward(self, indices):
        return self.weight.index_select(indices, padding_idx=self.padding_idx)


class Sequential(Layer):
    """Layers applied in order."""

    def __init__(self, layers=()):
        self.layers = list(layers)

    def add(self, layer):
        self.layers.append(layer)
        return self

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


class Sigmoid(Layer):
    def forward(self, x):
        return x.sigmoid()


class Tanh(Layer):
    def forward(self, x):
        return x.tanh()


class ReLU(Layer):
    def forward(self, x):
        return x.relu()
