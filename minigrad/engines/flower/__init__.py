"""minigrad's rounds on Flower (``pip install "minigrad[flower]"``): the same client code.

    client = client_app(make_update, aggregator, data_dir)   # a flwr ClientApp
    server = server_app(params, num_rounds, num_clients=..., aggregator=..., rng=rng)
    simulate(server, client, num_nodes)                      # Flower's Simulation Engine
    server.result["params"], server.result["history"]

The node runs ``run_round``'s client piece (``client_message``) on its own data
partition; the server runs the sampler and ``server_step`` on the replies in client
order, so a Flower run gives the same bits as ``run_round`` with the same seeds.
``fedrecon``: Federated Reconstruction, with each user's factors kept in its node's
state. ``secagg``: Bonawitz secure aggregation, one message exchange per protocol
round. ``partitions``: one file per client, read by the node that owns it.
"""

from . import secagg
from .apps import ClientReplyError, client_app, run_rounds, server_app
from .partitions import read_partition, write_partitions
from .simulation import simulate

__all__ = ["client_app", "server_app", "simulate", "write_partitions", "read_partition",
           "ClientReplyError", "run_rounds", "secagg"]
