"""Secure aggregation (Bonawitz et al. 2017): the server learns the sum of the clients' vectors.

    result = run(vectors, t=3, rng=np.random.default_rng(0), dropout={2})

``primitives``: Diffie-Hellman, Shamir sharing, fixed point mod 2^32, PRG masks, sealing;
``protocol``: the four rounds, the parties and ``run``; ``stats``: notebook 05's uniformity
test. The protocol, its choices and its limits: docs/privacy.md.
"""

from .primitives import (
    FIELD_PRIME,
    ID_BYTES,
    MODP_2048,
    SHARE_BYTES,
    DHGroup,
    Quantizer,
    ThresholdError,
    expand_mask,
    id_pair,
    lagrange_coefficients,
    open_sealed,
    pair_mask_key,
    pairwise_mask,
    reconstruct_secret,
    seal,
    self_mask_key,
    share_secret,
)
from .protocol import ROUNDS, SERVER, Client, Message, Result, Server, Transcript, run
from .stats import uniformity_chi_square

__all__ = [
    "MODP_2048",
    "FIELD_PRIME",
    "DHGroup",
    "ThresholdError",
    "share_secret",
    "lagrange_coefficients",
    "reconstruct_secret",
    "Quantizer",
    "expand_mask",
    "pairwise_mask",
    "Message",
    "Transcript",
    "Client",
    "Server",
    "Result",
    "ROUNDS",
    "SERVER",
    "run",
    "uniformity_chi_square",
    "SHARE_BYTES",
    "ID_BYTES",
    "id_pair",
    "pair_mask_key",
    "self_mask_key",
    "seal",
    "open_sealed",
]
