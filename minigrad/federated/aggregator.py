"""What crosses a federated round's boundary: a client's update, and the aggregator contract.

A client's update is always a **delta**, ``trained - received``, with the number of
examples it trained on. What leaves the client is ``aggregator.encode(update, rng)``,
a form of that delta each aggregator states (FedAvg: the trained parameters, from which
the server, knowing what it sent, recovers the delta exactly; DP-FedAvg: the clipped
delta; Paillier: the encrypted delta). The server sees only those messages, and
``aggregator.aggregate`` turns them into one mean delta.
"""

from dataclasses import dataclass

from .params import delta

__all__ = ["ClientUpdate", "Aggregator"]


@dataclass(frozen=True)
class ClientUpdate:
    """One client's training result, before anything leaves the client.

    ``received``/``trained``: {name: ndarray} before and after local training;
    ``num_examples``: how many examples it trained on; ``client``: its index.
    """

    client: int
    received: dict
    trained: dict
    num_examples: int

    @property
    def delta(self):
        """{name: trained - received} in float64 (exact for float32 models)."""
        return delta(self.received, self.trained, f"client {self.client}")


class Aggregator:
    """How clients' updates become one mean delta. Subclass and override three methods.

    encode(update, rng) -> message          runs on each client; the message is all it sends
    message_bytes(message) -> int           what the message weighs on the wire
    aggregate(messages, template, rng) -> (mean_delta, info)
                                            runs on the server, messages in client order;
                                            mean_delta {name: float64 array shaped like
                                            template}; info: extra record fields
    ``sampler``: the client sampling the aggregator's guarantee needs (e.g. DP's Poisson
    sampling), or None for the round's default.
    """

    sampler = None

    def encode(self, update, rng):
        raise NotImplementedError

    def message_bytes(self, message):
        raise NotImplementedError

    def aggregate(self, messages, template, rng):
        raise NotImplementedError
