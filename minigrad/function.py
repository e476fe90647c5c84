"""Function: one differentiable op, written on plain ndarrays.

A subclass implements ``forward(*arrays, **options) -> ndarray`` and
``backward(grad) -> tuple`` (one gradient, or ``None``, per array input).
The instance doubles as the *context* of that node in the graph: ``forward``
keeps what ``backward`` will need with ``self.save(...)``. Neither method ever
builds a graph; ``Tensor`` does the bookkeeping (see ``tensor.apply``).
"""

from .kernels import unbroadcast

__all__ = ["Function", "unbroadcast"]


class Function:
    """Base class of every op; see the module docstring."""

    # set by ``tensor.apply`` before ``forward`` runs
    parents = ()
    needs_input_grad = ()
    saved = ()
    # set by ``tensor.apply``: (input index, its version) for each input whose array
    # was saved, and whether the output array was; None when nothing saved is an array
    _saved_versions = None
    _saves_output = False

    def save(self, *values):
        """Keep arrays (or anything) for ``backward``."""
        self.saved = values

    def forward(self, *arrays, **options):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__}.forward")

    def backward(self, grad):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__}.backward")

    @property
    def name(self):
        """Op name as the book prints it (``creation_op``): 'add', 'mm', ..."""
        return type(self).__name__.lower()
