"""Federated learning on minigrad: parameters travel as ``{name: ndarray}`` mappings."""

from . import reconstruction
from .fedavg import (
    History,
    client_update,
    fedavg,
    num_bytes,
    run_round,
    sample_clients,
    weighted_mean,
)

__all__ = ["fedavg", "weighted_mean", "num_bytes", "sample_clients", "client_update", "run_round",
           "History"]
__all__ += ["reconstruction"]  # the module: fr = minigrad.federated.reconstruction

from . import compression, split  # noqa: E402  (split learning and cut-tensor codecs)

__all__ += ["split", "compression"]
