"""Secure aggregation (Bonawitz et al. 2017): the server learns the sum of the clients' vectors.

    result = run(vectors, t=3, rng=np.random.default_rng(0), dropout={2})

``primitives``: Diffie-Hellman, Shamir sharing, fixed point mod 2^32, PRG masks, sealing;
``protocol``: the four rounds, the parties and ``run``; ``stats``: notebook 05's uniformity
test. The protocol, its choices and its limits: docs/privacy.md.
"""

from . import primitives, protocol, stats
from .primitives import *  # noqa: F403  (the names in primitives.__all__)
from .protocol import *  # noqa: F403  (the names in protocol.__all__)
from .stats import *  # noqa: F403  (the names in stats.__all__)

__all__ = [*primitives.__all__, *protocol.__all__, *stats.__all__]
