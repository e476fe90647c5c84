"""Shared test data: three clients of literal emails over a 12-row vocabulary, and
insecure 256-bit Paillier keys (tests only)."""

import numpy as np

from minigrad.datasets import Vocabulary
from minigrad.federated import client_update
from minigrad.privacy import paillier
from minigrad.recipes import private_spam as ps
from minigrad.recipes import spam

WORDS = ["my", "computer", "password", "is", "pizza", "free", "money", "meeting", "at", "noon"]


def paillier_test_keys():
    # tests only: insecure
    return paillier.generate_keypair(256, rng=np.random.default_rng(7), insecure_demo=True)


def tiny_spam_clients():
    """(vocab, clients, update): a 12-row vocabulary, three clients of literal emails
    (3, 2 and 4 emails), and one half-step SGD epoch of the book's model as the update."""
    vocab = Vocabulary(WORDS)
    emails = [[["free", "money"], ["meeting", "at", "noon"], ["free", "pizza"]],
              [["my", "password", "is", "pizza"], ["money", "money", "free"]],
              [["computer", "meeting"], ["at", "noon", "is"], ["free"], ["my", "computer"]]]
    labels = [[1, 0, 1], [0, 1], [0, 0, 1, 0]]
    clients = [(vocab.to_indices(e, max_len=5).indices, np.array(lab, float).reshape(-1, 1))
               for e, lab in zip(emails, labels, strict=True)]
    model = spam.spam_model(len(vocab))

    def update(params, data):
        return client_update(model, params, ps.local_trainer(alpha=0.5), data)

    return vocab, clients, update
