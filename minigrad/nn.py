"""Layers: parameters, ``forward``, and a name -> ndarray view for federated code.

``Layer`` finds its parameters by walking its attributes in the order they were
set: a ``Tensor`` with ``autograd=True`` is a parameter, a ``Layer`` (or a
list of layers) contributes its own under a dotted prefix. ``state_dict()``
is exactly what a federated client ships.
"""

from collections.abc import Mapping

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
        """Copy values in from a mapping with exactly this layer's names and shapes.

        Every value is checked and converted first (real numbers only, the exact
        shape, finite in the parameter's dtype, so 1e40 cannot become a float32
        inf); only then is anything written, so a refused mapping changes nothing.
        """
        if not isinstance(state, Mapping):
            raise TypeError(
                f"load_state_dict: expected a mapping {{name: array}}, got {type(state).__name__}"
            )
        params = dict(self.named_parameters())
        missing = sorted(set(params) - set(state))
        extra = sorted(set(state) - set(params), key=repr)
        if missing or extra:
            raise KeyError(
                f"load_state_dict: names differ from {type(self).__name__}'s parameters "
                f"(missing: {missing}, unexpected: {extra})"
            )
        converted = {name: _checked_value(name, value, params[name].data)
                     for name, value in state.items()}
        for name, value in converted.items():  # only after every check passed: no half-load
            params[name].data[...] = value
            params[name].bump_version()

    def num_parameters(self):
        return sum(p.data.size for p in self.get_parameters())


def _checked_value(name, value, current):
    """``value`` converted to ``current``'s dtype, or an error saying what is wrong."""
    if isinstance(value, Tensor):
        value = value.data
    try:
        value = np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"load_state_dict: '{name}' is not an array ({exc})") from None
    if value.dtype.kind not in "fiu":
        raise TypeError(
            f"load_state_dict: '{name}' has dtype {value.dtype}; expected real numbers "
            f"(float or int) for a {current.dtype} parameter"
        )
    if value.shape != current.shape:
        raise ValueError(
            f"load_state_dict: '{name}' has shape {value.shape}, expected {current.shape}"
        )
    with np.errstate(over="ignore", invalid="ignore"):
        out = value.astype(current.dtype)
    if not np.isfinite(out).all():
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(out))[0])
        why = (f"overflows {current.dtype}" if np.isfinite(value[bad])
               else "is not finite")
        raise ValueError(
            f"load_state_dict: '{name}'{list(bad)} = {value[bad].item()!r} {why}; expected finite "
            f"values in the parameter's dtype {current.dtype}"
        )
    return out


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
