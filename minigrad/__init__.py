"""minigrad: a from-scratch NumPy autograd for privacy-preserving ML lessons.

    from minigrad import Tensor
    from minigrad import nn, optim
    from minigrad.gradcheck import gradcheck
"""

from . import kernels, losses, nn, optim
from .gradcheck import gradcheck
from .rng import seed
from .tensor import Tensor, concat, is_grad_enabled, no_grad

__version__ = "0.1.0"

__all__ = [
    "Tensor",
    "concat",
    "no_grad",
    "is_grad_enabled",
    "gradcheck",
    "seed",
    "kernels",
    "losses",
    "nn",
    "optim",
]

from . import deepfm, metrics  # noqa: E402  (DeepFM layers and NumPy metrics)

__all__ += ["deepfm", "metrics"]
