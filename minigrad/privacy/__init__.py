"""Privacy in federated learning: what an update leaks, and the defences.

    from minigrad.privacy import attacks, dp
    attacks.leaked_words(sent, received, vocab)        # notebook 02's row-diff attack
    dp.rdp_epsilon(q, noise_multiplier, steps, delta)  # the RDP accountant
"""

from . import attacks, dp

__all__ = ["attacks", "dp"]
