"""Tensor: an ndarray plus the graph bookkeeping that makes ``backward`` work.

The public names follow Grokking Deep Learning ch. 13 (``Tensor(data,
autograd=True)``, ``mm``, ``sum(dim)``, ``expand(dim, copies)``,
``index_select``), with the book's bugs fixed: nodes are tracked by object
identity (no random ids), backward walks the graph iteratively in topological
order (no recursion limit, each node's gradient complete before it is passed
on), and gradients accumulate.
"""

import weakref

import numpy as np

from . import fused_ops, ops

__all__ = ["Tensor", "no_grad", "is_grad_enabled", "concat", "apply"]


class _GradMode:
    enabled = True


def is_grad_enabled():
    """True unless inside ``with no_grad():``."""
    return _GradMode.enabled


class no_grad:
    """Context manager (or decorator): ops record no graph, e.g. for evaluation."""

    def __enter__(self):
        self._prev = _GradMode.enabled
        _GradMode.enabled = False

    def __exit__(self, *exc):
        _GradMode.enabled = self._prev

    def __call__(self, fn):
        def wrapper(*args, **kwargs):
            with no_grad():
                return fn(*args, **kwargs)

        wrapper.__name__ = getattr(fn, "__name__", "wrapper")
        wrapper.__doc__ = getattr(fn, "__doc__", None)
        return wrapper


def _lift(x, like):
    """An operand as a Tensor; Python scalars take ``like``'s float dtype (no upcast)."""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, (int, float)) and np.issubdtype(like._data.dtype, np.floating):
        return Tensor(np.asarray(x, dtype=like._data.dtype))
    return Tensor(x)


def apply(fn_cls, *inputs, **options):
    """Run op ``fn_cls`` on Tensors ``inputs``; record it in the graph if needed."""
    fn = fn_cls()
    needs = tuple(t.autograd for t in inputs)
    track = _GradMode.enabled and any(needs)
    fn.needs_input_grad = needs
    data = fn.forward(*[t._data for t in inputs], **options)
    out = Tensor.__new__(Tensor)
    out._data = data
    out._version = [0]
    out.grad = None
    out.autograd = track
    if track:
        fn.parents = inputs
        out._ctx = fn
        if fn.saved:
            _record_versions(fn, inputs, data)
    else:
        out._ctx = None
    return out


def _record_versions(fn, inputs, out_data):
    """Note the versions of the tensors whose arrays ``fn`` saved for its backward."""
    # plain loops over a handful of values: this runs once per recorded op
    versions, saves_output = None, False
    for value in fn.saved:
        if not isinstance(value, np.ndarray):
            continue
        if value is out_data:
            saves_output = True
            continue
        for i, t in enumerate(inputs):
            if value is t._data:
                if versions is None:
                    versions = []
                versions.append((i, t._version[0]))
                break
    if versions is not None or saves_output:
        fn._saved_versions = versions or ()
        fn._saves_output = saves_output


def _check_versions(node, ctx):
    """RuntimeError if an array ``ctx`` saved was modified since the forward pass."""
    if ctx._saves_output and node._version[0] != 0:
        raise RuntimeError(
            f"backward: the output of {ctx.name} (shape {node._data.shape}), which "
            f"{ctx.name}'s backward reads, was modified in place after the forward pass "
            f"(version {node._version[0]}, was 0); its gradient would be wrong: run the "
            f"forward pass again after changing it"
        )
    for i, version in ctx._saved_versions:
        parent = ctx.parents[i]
        if parent._version[0] != version:
            raise RuntimeError(
                f"backward: input {i} of {ctx.name} (shape {parent._data.shape}), which "
                f"{ctx.name}'s backward reads, was modified in place after the forward "
                f"pass (version {parent._version[0]}, was {version}); its gradient would "
                f"be wrong: run the forward pass again after changing it (or change it "
                f"only after backward, as an optimizer's step does)"
            )


class Tensor:
    """An n-dimensional array that can record the ops applied to it.

    ``Tensor(data, autograd=False, dtype=None)``; ``.data`` is an ndarray,
    ``.grad`` an ndarray (None before any backward), accumulated across calls.
    ``_version`` counts in-place changes made through minigrad (assigning ``.data``,
    ``x.data -= ...``, an optimizer's step, ``load_state_dict``); ``backward`` refuses
    to use an array an op saved if its tensor's version moved since (see
    docs/architecture.md, "Changing data between forward and backward").
    """

    __slots__ = ("_data", "_version", "grad", "autograd", "_ctx", "__weakref__")
    __array_priority__ = 1000  # ndarray (op) Tensor defers to Tensor's reflected op

    def __init__(self, data, autograd=False, dtype=None):
        version = [0]
        if isinstance(data, Tensor):
            if dtype is None or np.dtype(dtype) == data._data.dtype:
                version = data._version  # the same memory: one counter, as for detach()
            data = data._data
        self._data = np.asarray(data, dtype=dtype)
        if autograd and not np.issubdtype(self._data.dtype, np.floating):
            raise TypeError(
                f"Tensor(autograd=True) needs floating-point data, got dtype "
                f"{self._data.dtype}; pass dtype=np.float64 (or float32)"
            )
        self._version = version
        self.autograd = bool(autograd)
        self.grad = None
        self._ctx = None

    @property
    def data(self):
        """The ndarray. Assigning it (or ``x.data -= ...``) counts as an in-place change."""
        return self._data

    @data.setter
    def data(self, value):
        self._data = value
        self._version[0] += 1

    def bump_version(self):
        """Record an in-place change made to ``.data``'s elements (e.g. ``data[...] = v``)."""
        self._version[0] += 1

    # ----------------------------------------------------------------- info
    @property
    def shape(self):
        return self._data.shape

    @property
    def ndim(self):
        return self._data.ndim

    @property
    def dtype(self):
        return self._data.dtype

    @property
    def size(self):
        return self._data.size

    @property
    def creators(self):
        """The tensors this one was computed from (the book's ``creators``)."""
        return None if self._ctx is None else list(self._ctx.parents)

    @property
    def creation_op(self):
        """Name of the op that made this tensor, e.g. 'mm' (the book's ``creation_op``)."""
        return None if self._ctx is None else self._ctx.name

    def numpy(self):
        return self.data

    def item(self):
        return self._data.item()

    def __len__(self):
        return len(self.data)

    def __repr__(self):
        flag = ", autograd=True" if self.autograd else ""
        return f"Tensor({self.data!r}{flag})"

    def __str__(self):
        return str(self.data)

    def detach(self):
        """The same data, cut from the graph (shares memory and the version counter)."""
        return Tensor(self)

    def zero_grad(self):
        self.grad = None

    # -------------------------------------------------------------- backward
    def backward(self, grad=None):
        """Backpropagate from this tensor; ``grad`` defaults to ones for a scalar.

        An explicit ``grad`` (same shape as ``self``) is what split learning
        injects at the cut layer. Gradients land in ``.grad`` of every leaf
        tensor with ``autograd=True`` and are added to what is already there.
        """
        if not self.autograd:
            raise RuntimeError(
                "backward() on a tensor that records no graph: create the inputs with "
                "autograd=True (and do not run the forward pass under no_grad())"
            )
        if grad is None:
            if self._data.size != 1:
                raise ValueError(
                    f"backward() without a gradient needs a one-element tensor, but this one "
                    f"has shape {self._data.shape}; pass grad= of shape {self._data.shape} "
                    f"(e.g. the gradient that arrived at a cut layer)"
                )
            grad = np.ones_like(self._data)
        else:
            grad = grad.data if isinstance(grad, Tensor) else grad
            grad = np.array(grad, dtype=self._data.dtype)  # a copy: the caller keeps theirs
            if grad.shape != self._data.shape:
                raise ValueError(
                    f"backward(grad): grad has shape {grad.shape} but the tensor has shape "
                    f"{self._data.shape}"
                )

        grads = {self: grad}  # keyed by the Tensor object itself: identity, not ids
        # arrays handed on to an op's backward (which may pass them on as they are),
        # by id; a weak reference tells a live array from a new one at a freed address
        passed_on = {}
        for node in _topological_order(self):
            g = grads.pop(node)
            ctx = node._ctx
            if ctx is None:
                node._accumulate(g, passed_on)
                continue
            passed_on[id(g)] = _ref(g)
            if ctx._saved_versions is not None:
                _check_versions(node, ctx)
            in_grads = ctx.backward(g)
            for parent, pg, need in zip(ctx.parents, in_grads, ctx.needs_input_grad, strict=True):
                if not need or pg is None:
                    continue
                if pg.shape != parent._data.shape:  # a bug in an op, never the user's
                    raise RuntimeError(
                        f"{type(ctx).__name__}.backward returned a gradient of shape "
                        f"{pg.shape} for an input of shape {parent._data.shape}"
                    )
                if parent in grads:
                    grads[parent] = grads[parent] + pg
                else:
                    grads[parent] = pg

    def _accumulate(self, g, passed_on):
        if g.dtype != self._data.dtype:
            g = g.astype(self._data.dtype)  # float32 parameters keep float32 gradients
        elif _in(passed_on, g) or not g.flags.owndata or not g.flags.writeable:
            g = g.copy()  # .grad owns its memory, so `p.grad += ...` never aliases
        if self.grad is None:
            self.grad = g
        else:
            self.grad += g

    # ------------------------------------------------------------ arithmetic
    def __add__(self, other):
        return apply(ops.Add, self, _lift(other, self))

    def __radd__(self, other):
        return apply(ops.Add, _lift(other, self), self)

    def __sub__(self, other):
        return apply(ops.Sub, self, _lift(other, self))

    def __rsub__(self, other):
        return apply(ops.Sub, _lift(other, self), self)

    def __mul__(self, other):
        return apply(ops.Mul, self, _lift(other, self))

    def __rmul__(self, other):
        return apply(ops.Mul, _lift(other, self), self)

    def __truediv__(self, other):
        return apply(ops.Div, self, _lift(other, self))

    def __rtruediv__(self, other):
        return apply(ops.Div, _lift(other, self), self)

    def __neg__(self):
        return apply(ops.Neg, self)

    def __pow__(self, exponent):
        if isinstance(exponent, Tensor) or not np.isscalar(exponent):
            raise TypeError("Tensor ** p supports a constant scalar exponent p only")
        return apply(ops.Pow, self, exponent=exponent)

    def mm(self, other):
        """Matrix product, (n, k) x (k, m) -> (n, m)."""
        return apply(ops.MM, self, _lift(other, self))

    __matmul__ = mm

    # ---------------------------------------------------------------- shapes
    def transpose(self, *axes):
        """Reverse the axes (the book's ``transpose()``), or permute them by ``axes``."""
        axes = axes[0] if len(axes) == 1 and isinstance(axes[0], (tuple, list)) else axes
        return apply(ops.Transpose, self, axes=tuple(axes) if axes else None)

    @property
    def T(self):
        return self.transpose()

    def reshape(self, *shape):
        shape = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        return apply(ops.Reshape, self, shape=tuple(shape))

    def sum(self, dim=None, keepdims=False):
        """Sum over ``dim`` (all elements when None); the book's ``sum(dim)``."""
        return apply(ops.Sum, self, dim=dim, keepdims=keepdims)

    def mean(self, dim=None, keepdims=False):
        return apply(ops.Mean, self, dim=dim, keepdims=keepdims)

    def expand(self, dim, copies):
        """New axis at ``dim``, repeated ``copies`` times (the book's ``expand``)."""
        return apply(ops.Expand, self, dim=dim, copies=copies)

    def index_select(self, indices, padding_idx=None):
        """Rows at integer ``indices`` (Tensor or array; may repeat): the embedding lookup.

        Row ``padding_idx``, if given, receives no gradient.
        """
        if isinstance(indices, Tensor):
            indices = indices.data
        return apply(ops.IndexSelect, self, indices=indices, padding_idx=padding_idx)

    # --------------------------------------------------------- nonlinearities
    def sigmoid(self):
        return apply(ops.Sigmoid, self)

    def tanh(self):
        return apply(ops.Tanh, self)

    def relu(self):
        return apply(ops.ReLU, self)

    def exp(self):
        return apply(ops.Exp, self)

    def log(self):
        return apply(ops.Log, self)

    # ------------------------------------------- fused ops (fused_ops.py)
    def bce_with_logits(self, target, reduction="mean"):
        """Binary cross-entropy of these logits against 0/1 ``target`` (same shape)."""
        if isinstance(target, Tensor):
            target = target.data
        return apply(fused_ops.BCEWithLogits, self, target=target, reduction=reduction)

    # DeepFM's pieces
    def fm_interaction(self):
        """FM second-order term of field embeddings: (B, F, K) -> (B, 1)."""
        return apply(fused_ops.FMInteraction, self)

    def embedding_bag(self, indices, offsets=None, padding_idx=None):
        """Per-bag sums of this table's rows: (B, S) ids -> (B, F, K); see EmbeddingBag."""
        if isinstance(indices, Tensor):
            indices = indices.data
        return apply(fused_ops.EmbeddingBag, self, indices=indices, offsets=offsets,
                     padding_idx=padding_idx)

    def linear(self, weight, bias=None, activation=None):
        """``x.mm(weight) + bias``, then ReLU if ``activation='relu'``, as one op."""
        inputs = (self, _lift(weight, self)) if bias is None else \
            (self, _lift(weight, self), _lift(bias, self))
        return apply(fused_ops.Linear, *inputs, activation=activation)

    def fm_stats(self, linear):
        """This party's FM share (B, K + 1) from embeddings (B, F, K) and linear (B, 1)."""
        return apply(fused_ops.FMStats, self, _lift(linear, self))

    def fm_from_stats(self):
        """FM term from (summed) shares (B, K + 1) -> (B, 1)."""
        return apply(fused_ops.FMFromStats, self)


def _ref(array):
    """A weak reference to ``array``; a NumPy scalar (no weak references) is held itself."""
    try:
        return weakref.ref(array)
    except TypeError:
        return lambda: array


def _in(passed_on, array):
    """True if ``array`` itself (not an array since allocated at its address) was passed on."""
    ref = passed_on.get(id(array))
    return ref is not None and ref() is array


def concat(tensors, dim=0):
    """Join tensors along ``dim``: the gradient is split back to each."""
    tensors = [t if isinstance(t, Tensor) else Tensor(t) for t in tensors]
    if not tensors:
        raise ValueError("concat: needs at least one tensor")
    return apply(ops.Concat, *tensors, dim=dim)


def _topological_order(root):
    """Nodes reachable from ``root`` that need a gradient, outputs before inputs.

    Iterative depth-first search, so a chain of any length works.
    """
    order = []
    visited = set()
    stack = [(root, False)]
    while stack:
        node, done = stack.pop()
        if done:
            order.append(node)
            continue
        if node in visited:
            continue
        visited.add(node)
        stack.append((node, True))
        if node._ctx is not None:
            for parent in node._ctx.parents:
                if parent.autograd and parent not in visited:
                    stack.append((parent, False))
    order.reverse()
    return order
