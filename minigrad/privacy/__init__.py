"""Privacy in federated learning: what an update leaks, and the defences.

    from minigrad.privacy import attacks, dp, label_leakage, paillier, secure_aggregation
    attacks.leaked_words(sent, received, vocab)        # notebook 02's row-diff attack
    label_leakage.norm_scores(grads)                   # split-learning label leakage (06)
    dp.DPFedAvg(clip, noise_multiplier, q, n)          # an aggregator for run_round (05)
    secure_sums.PaillierFedAvg(pk, sk, encoding)       # an aggregator for run_round (05)
    secure_aggregation.run(vectors, t, rng)            # Bonawitz et al. pairwise masking (05)
    dp.rdp_epsilon(q, noise_multiplier, steps, delta)  # the RDP accountant (05)
"""

from . import attacks, dp, label_leakage, paillier, secure_aggregation, secure_sums

__all__ = ["attacks", "dp", "label_leakage", "paillier", "secure_aggregation", "secure_sums"]
