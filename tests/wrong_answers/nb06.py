"""Plausible wrong answers to notebook 06's exercises (each must lose points), and right
answers written differently from the reference (each must score full marks)."""

WRONG = {
    # the squared norm: the square root forgotten
    "try_norm_scores": '''
import numpy as np


def my_norm_scores(grad):
    g = np.asarray(grad, dtype=np.float64)
    return (g ** 2).sum(axis=1)
''',
    # divides by the reference's length only, not by each row's
    "try_direction_scores": '''
import numpy as np


def my_direction_scores(grad, reference):
    g = np.asarray(grad, dtype=np.float64)
    r = np.asarray(reference, dtype=np.float64)
    return g @ r / np.linalg.norm(r)
''',
    # the last column as it arrives: the mean loss's 1/B not undone
    "residuals": '''
import numpy as np


def residuals(grad):
    return np.asarray(grad, dtype=np.float64)[:, -1]
''',
    # the sign read the wrong way round: a positive residual taken for a positive label
    "residual_labels": '''
import numpy as np


def residual_labels(grad):
    return (residuals(grad) > 0).astype(np.int64)
''',
    # one draw per entry instead of one per row: the rows' directions change
    "max_norm_noise": '''
import numpy as np

from minigrad.privacy.label_leakage import GradientDefence


class MaxNormNoise(GradientDefence):
    label = "max_norm"

    def __init__(self, rng, inner=None):
        if rng is None:
            raise ValueError("MaxNormNoise: pass rng, an np.random.Generator (or an int seed)")
        self.rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        super().__init__(inner)

    @staticmethod
    def sigmas(grad):
        norms_sq = np.square(np.asarray(grad, dtype=np.float64)).sum(axis=1)
        if norms_sq.size == 0:
            return norms_sq
        ratio = np.divide(norms_sq.max(), norms_sq, out=np.ones_like(norms_sq),
                          where=norms_sq > 0)
        return np.sqrt(np.maximum(ratio - 1.0, 0.0))

    def perturb(self, grad):
        g = np.asarray(grad)
        factor = 1.0 + self.sigmas(g)[:, None] * self.rng.standard_normal(g.shape)
        return (g * factor).astype(g.dtype)
''',
    # the projection as the SVD returns it: its sign is arbitrary
    "unsupervised_scores": '''
import numpy as np


def unsupervised_scores(grad):
    g = np.asarray(grad, dtype=np.float64)
    if not np.any(g):
        return np.zeros(len(g))
    _, _, vt = np.linalg.svd(g, full_matrices=False)
    return g @ vt[0]
''',
}

OTHER_RIGHT = {
    "try_direction_scores": '''
import numpy as np


def my_direction_scores(grad, reference):
    g = np.asarray(grad, dtype=np.float64)
    unit = np.asarray(reference, dtype=np.float64) / np.linalg.norm(reference)
    norms = np.linalg.norm(g, axis=1)
    safe = np.where(norms > 0, norms, 1.0)
    return np.where(norms > 0, g @ unit / safe, 0.0)
''',
    "residual_labels": '''
import numpy as np


def residual_labels(grad):
    # the sign of the last column alone: multiplying by B does not change it
    last = np.asarray(grad, dtype=np.float64)[:, -1]
    return np.where(last < 0, 1, 0).astype(np.int64)
''',
    "max_norm_noise": '''
import numpy as np

from minigrad.privacy.label_leakage import GradientDefence


class MaxNormNoise(GradientDefence):
    label = "max_norm"

    def __init__(self, rng, inner=None):
        if rng is None:
            raise ValueError("an rng is required")
        self.rng = np.random.default_rng(rng)
        super().__init__(inner)

    @staticmethod
    def sigmas(grad):
        norms = np.linalg.norm(np.asarray(grad, dtype=np.float64), axis=1)
        out = np.zeros(len(norms))
        if len(norms):
            keep = norms > 0
            out[keep] = np.sqrt(np.clip((norms.max() / norms[keep]) ** 2 - 1.0, 0.0, None))
        return out

    def perturb(self, grad):
        g = np.asarray(grad)
        z = self.rng.standard_normal(len(g))
        return (g * (1.0 + self.sigmas(g) * z)[:, None]).astype(g.dtype)
''',
    "unsupervised_scores": '''
import numpy as np


def unsupervised_scores(grad):
    # the top right singular vector is the top eigenvector of g^T g
    g = np.asarray(grad, dtype=np.float64)
    if not g.any():
        return np.zeros(g.shape[0])
    _, vectors = np.linalg.eigh(g.T @ g)
    scores = g @ vectors[:, -1]
    return -scores if (scores > 0).sum() > (scores < 0).sum() else scores
''',
}
