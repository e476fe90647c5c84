"""Real datasets for the notebooks, their federated partitions, and synthetic stand-ins.

    from minigrad.datasets import load_enron_spam, load_movielens
    spam = load_enron_spam()            # reads $MINIGRAD_DATA/enron-spam/enron1..6
    ml = load_movielens("ml-100k")      # reads $MINIGRAD_DATA/ml-100k

Data is never in git: set ``MINIGRAD_DATA`` (see data/README.md), fetch it with
``python -m minigrad.datasets download ml-100k enron-spam``, or opt in to the
generated stand-ins with ``MINIGRAD_DATA=synthetic``.
"""

from . import partitions
from .enron_spam import load_enron_spam
from .movielens import load_movielens
from .partitions import *  # noqa: F403  (its __all__: one list of the partition functions)
from .paths import SYNTHETIC, DatasetError, data_root
from .synthetic import synthetic_movielens, synthetic_spam
from .text import PAD, PAD_INDEX, UNK, UNK_INDEX, TokenIndices, Vocabulary, tokenize
from .types import MovieLens, SpamCorpus

__all__ = [
    "DatasetError",
    "SYNTHETIC",
    "data_root",
    "load_enron_spam",
    "load_movielens",
    "synthetic_spam",
    "synthetic_movielens",
    "SpamCorpus",
    "MovieLens",
    "tokenize",
    "Vocabulary",
    "TokenIndices",
    "PAD",
    "UNK",
    "PAD_INDEX",
    "UNK_INDEX",
    *partitions.__all__,
]
