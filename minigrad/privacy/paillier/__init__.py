"""Paillier encryption: the server adds encrypted models it cannot read (a teaching scheme).

    public_key, private_key = generate_keypair(512, rng=np.random.default_rng(0))
    enc = [encrypt_params(public_key, params, rng) for params in client_models]
    aggregate = encrypted_fedavg(zip(enc, num_examples))      # the server: sums only
    average = decrypt_average(private_key, aggregate)         # the key holder: the mean only

``scheme``: primes, keys, one ciphertext at a time; ``arrays``: fixed point, packing,
encrypted arrays and FedAvg. Not for production; the scheme and its limits: docs/privacy.md.
"""

from .arrays import (
    Encoding,
    EncryptedAggregate,
    EncryptedArray,
    decrypt_average,
    decrypt_params,
    encrypt_array,
    encrypt_params,
    encrypted_fedavg,
    params_nbytes,
    sum_params,
)
from .scheme import (
    SMALL_PRIMES,
    NoisePool,
    PrivateKey,
    PublicKey,
    generate_keypair,
    is_probable_prime,
    random_prime,
)

__all__ = [
    "is_probable_prime",
    "random_prime",
    "generate_keypair",
    "PublicKey",
    "PrivateKey",
    "NoisePool",
    "Encoding",
    "EncryptedArray",
    "encrypt_array",
    "encrypt_params",
    "sum_params",
    "decrypt_params",
    "EncryptedAggregate",
    "encrypted_fedavg",
    "decrypt_average",
    "params_nbytes",
    "SMALL_PRIMES",
]
