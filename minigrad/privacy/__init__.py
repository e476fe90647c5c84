"""Privacy in federated learning: what an update leaks, and (later) the defences.

    from minigrad.privacy import attacks
    attacks.leaked_words(sent, received, vocab)
"""

from . import attacks

__all__ = ["attacks"]
