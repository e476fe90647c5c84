"""Privacy in federated learning: what an update leaks, and the defences.

    from minigrad.privacy import attacks, dp, paillier, secure_aggregation
    attacks.leaked_words(sent, received, vocab)        # notebook 02's row-diff attack
    attacks.norm_scores(grads)                         # split-learning label leakage (06)
    paillier.encrypted_fedavg(results)                 # additively homomorphic FedAvg (05)
    secure_aggregation.run(vectors, t, rng)            # Bonawitz et al. pairwise masking (05)
    dp.rdp_epsilon(q, noise_multiplier, steps, delta)  # the RDP accountant (05)
"""

from . import attacks, dp, label_leakage, paillier, secure_aggregation

__all__ = ["attacks", "dp", "label_leakage", "paillier", "secure_aggregation"]
