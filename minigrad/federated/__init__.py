"""Federated learning on minigrad: parameters travel as ``{name: ndarray}`` mappings."""

from . import compression, params, reconstruction, split
from .aggregator import Aggregator, ClientUpdate
from .fedavg import FedAvg, fedavg, weighted_mean
from .params import num_bytes
from .round import (
    AllClients,
    History,
    PoissonSample,
    ServerAdam,
    ServerSGD,
    UniformSample,
    client_update,
    run_round,
    sample_clients,
)

__all__ = [
    "run_round", "client_update", "History",
    "Aggregator", "ClientUpdate", "FedAvg", "fedavg", "weighted_mean",
    "AllClients", "UniformSample", "PoissonSample", "sample_clients", "ServerSGD",
    "ServerAdam",
    "num_bytes", "params", "reconstruction", "split", "compression",
]
