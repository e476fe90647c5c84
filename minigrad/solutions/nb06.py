"""Reference solutions to the exercises of notebook 06 (label leakage in split learning).

1. ``residuals`` + ``residual_labels``: one column of alice's cut gradient in the split
   DeepFM is the residual (p - y) / B itself, so its sign is every label, exactly.
2. ``MaxNormNoise``: Li et al.'s randomized ``max_norm`` heuristic as a defence codec.
3. ``unsupervised_scores``: the direction attack without a single known label: score
   along the top singular direction of the batch's gradients, minority side up.
"""

import numpy as np

from ..privacy.label_leakage import GradientDefence, gradient_matrix

__all__ = ["residuals", "residual_labels", "MaxNormNoise", "unsupervised_scores"]


# ---------------------------------------------------------------------------
# 1. the FM share's last column
# ---------------------------------------------------------------------------
def residuals(grad):
    """p_i - y_i for every example, read off alice's cut gradient (B, D) -> (B,) float64.

    alice's FM share ends with fm_linear = first order - 1/2 sum_f |v_f|^2, and bob's
    fuse adds it straight into the logit: logit = DNN(deep) + 1/2 |sum of fm_sum|^2 +
    sum of the parties' fm_linear. So dlogit/dfm_linear = 1 and, for the mean loss over
    B examples, the last column of the gradient is dL/dlogit_i = (p_i - y_i) / B.
    """
    g = gradient_matrix(grad, "residuals")
    return g[:, -1].astype(np.float64) * len(g)


def residual_labels(grad):
    """Every label of the batch: 1 where the residual is negative (p < 1 = y) -> (B,) int64.

    Exact while the gradient is undefended or only rescaled per row (NormEqualize keeps
    signs); a residual of exactly 0 (a saturated sigmoid) is read as 0.
    """
    return (residuals(grad) < 0).astype(np.int64)


# ---------------------------------------------------------------------------
# 2. Li et al.'s max_norm
# ---------------------------------------------------------------------------
class MaxNormNoise(GradientDefence):
    """Li et al.'s ``max_norm``: g_i (1 + sigma_i z_i), z_i ~ N(0, 1), one draw per row.

    sigma_i = sqrt(max_j |g_j|^2 / |g_i|^2 - 1), so E |g~_i|^2 = |g_i|^2 (1 + sigma_i^2) =
    max_j |g_j|^2 for every row: equal norms *on average*. The noise lies along g_i, so a
    row keeps its direction up to sign; it flips when 1 + sigma_i z_i < 0, which is
    likely for the small rows (sigma_i large) and impossible for the largest (sigma = 0).
    A row of zeros stays zero.
    """

    label = "max_norm"

    def __init__(self, rng, inner=None):
        if rng is None:
            raise ValueError("MaxNormNoise: pass rng, an np.random.Generator (or an int seed)")
        self.rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        super().__init__(inner)

    @staticmethod
    def sigmas(grad):
        """sigma_i (B,) for the rows of ``grad`` (0 for zero rows)."""
        norms_sq = np.square(np.asarray(grad, dtype=np.float64)).sum(axis=1)
        if norms_sq.size == 0:
            return norms_sq
        ratio = np.divide(norms_sq.max(), norms_sq, out=np.ones_like(norms_sq),
                          where=norms_sq > 0)
        return np.sqrt(np.maximum(ratio - 1.0, 0.0))

    def perturb(self, grad):
        g = gradient_matrix(grad, "MaxNormNoise")
        factor = 1.0 + self.sigmas(g) * self.rng.standard_normal(len(g))
        return (g.astype(np.float64) * factor[:, None]).astype(g.dtype)

    def __repr__(self):
        return f"MaxNormNoise(inner={self.inner!r})"


# ---------------------------------------------------------------------------
# 3. no known label at all
# ---------------------------------------------------------------------------
def unsupervised_scores(grad):
    """Scores (B,) from the gradient alone: the projection on its top singular direction.

    Rows are (p_i - y_i) / B times dlogit_i/dh_i, and if those Jacobians share a main
    direction u, positives sit on one side of u and negatives on the other. The top
    right singular vector of g (B, D) estimates u up to sign; the sign is chosen so that
    the *smaller* side scores high, i.e. assuming, as Li et al. do, that positives are
    the minority. When they are the majority the ranking comes out reversed.
    """
    g = gradient_matrix(grad, "unsupervised_scores").astype(np.float64)
    if not np.any(g):
        return np.zeros(len(g))
    _, _, vt = np.linalg.svd(g, full_matrices=False)
    scores = g @ vt[0]
    if np.count_nonzero(scores > 0) > np.count_nonzero(scores < 0):
        scores = -scores
    return scores
