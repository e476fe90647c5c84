"""Paillier encryption: the server adds encrypted models it cannot read (a teaching scheme).

    public_key, private_key = generate_keypair(512, rng=np.random.default_rng(0),
                                               insecure_demo=True)  # a demo size
    enc = [encrypt_params(public_key, params, rng) for params in client_models]
    aggregate = encrypted_fedavg(zip(enc, num_examples))      # the server: sums only
    average = decrypt_average(private_key, aggregate)         # the key holder: the mean only

``scheme``: primes, keys, one ciphertext at a time; ``arrays``: fixed point, packing,
encrypted arrays and FedAvg. Not for production; the scheme and its limits: docs/privacy.md.
"""

from . import arrays, scheme
from .arrays import *  # noqa: F403  (the names in arrays.__all__)
from .scheme import *  # noqa: F403  (the names in scheme.__all__)

__all__ = [*scheme.__all__, *arrays.__all__]
