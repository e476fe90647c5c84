"""Label leakage in two-party split learning: what bob's gradient tells alice, and defences.

alice's attacks (Li et al., ICLR 2022) score each row of the cut gradient bob sends:
``norm_scores``, ``direction_scores``, ``leak_auc`` (0.5 = no leak). bob's defences are
``compression.Codec``s that perturb it before it leaves him: ``GaussianNoise``,
``NormEqualize``. How this follows Li et al.'s code: docs/splitrec.md.

    scores, y: (B,);  g: (B, D) one row per example, as bob sends it.
"""

from dataclasses import dataclass, field

import numpy as np

from .. import metrics
from ..federated.compression import Codec, get_codec
from ..federated.split import batches

__all__ = [
    "norm_scores",
    "gradient_matrix",
    "direction_scores",
    "leak_auc",
    "known_positive",
    "batch_leak_aucs",
    "LeakLog",
    "curious_train_epoch",
    "GradientDefence",
    "GaussianNoise",
    "NormEqualize",
]


def gradient_matrix(grad, what):
    """``grad`` checked: a finite floating 2-D (batch, width) array; ``what`` names the caller."""
    g = np.asarray(grad)
    if g.ndim != 2:
        raise ValueError(f"{what}: expected the cut gradient as a 2-D array (batch, width), "
                         f"one row per example, got shape {g.shape}")
    if not np.issubdtype(g.dtype, np.floating):
        raise TypeError(f"{what}: expected a floating-point gradient, got dtype {g.dtype}")
    if g.size and not np.isfinite(g).all():
        raise ValueError(f"{what}: the gradient holds inf or nan")
    return g


# ---------------------------------------------------------------------------
# alice's scores
# ---------------------------------------------------------------------------
def norm_scores(grad):
    """Li et al.'s norm attack: the L2 norm of each example's gradient, (B, D) -> (B,) float64."""
    return np.linalg.norm(gradient_matrix(grad, "norm_scores").astype(np.float64), axis=1)


def direction_scores(grad, reference):
    """Li et al.'s direction attack: cos(g_i, reference), (B, D), (D,) -> (B,) in [-1, 1].

    reference: the gradient of an example known to be positive. A row of zeros has no
    direction and scores 0 (the middle of the range).
    """
    g = gradient_matrix(grad, "direction_scores").astype(np.float64)
    r = np.asarray(reference, dtype=np.float64).reshape(-1)
    if r.shape != (g.shape[1],):
        raise ValueError(f"direction_scores: the reference has {r.size} entries but each "
                         f"gradient row has {g.shape[1]}")
    r_norm = float(np.linalg.norm(r))
    if not np.isfinite(r_norm) or r_norm == 0.0:
        raise ValueError("direction_scores: the reference gradient must be finite and "
                         "non-zero; a zero vector has no direction")
    row_norms = np.linalg.norm(g, axis=1)
    dots = g @ (r / r_norm)
    return np.divide(dots, row_norms, out=np.zeros_like(dots), where=row_norms > 0)


def leak_auc(y, scores):
    """AUC of ``scores`` (B,) against the true labels ``y`` (B,) 0/1: 1 = every label leaked,
    0.5 = nothing; NaN when the batch holds one class only (``metrics.auc``)."""
    return metrics.auc(y, scores)


def known_positive(y, rng):
    """The example alice knows to be positive: uniform among the positives of ``y`` (B,);
    None if there are none. rng: an np.random.Generator."""
    positives = np.flatnonzero(np.asarray(y).reshape(-1) == 1)
    if positives.size == 0:
        return None
    return int(rng.choice(positives))


def batch_leak_aucs(grad, y, rng=None, reference=None):
    """Both attacks' leak AUCs on one batch: {'norm': auc, 'direction': auc}.

    grad (B, D): what alice received; y (B,): the true labels (for scoring the attack
    only). reference (D,): the known positive's gradient; None -> the received row of a
    positive drawn with ``rng`` (required then), and that example is left out of the
    direction AUC (it would score cos = 1, a "leak" of a label alice already knew).
    NaN for a batch with one class only (for the direction attack: once the known
    positive is left out).
    """
    g = gradient_matrix(grad, "batch_leak_aucs")
    y = np.asarray(y).reshape(-1)
    if len(y) != len(g):
        raise ValueError(f"batch_leak_aucs: {len(g)} gradient rows but {len(y)} labels")
    norm = leak_auc(y, norm_scores(g))
    if np.isnan(norm):                    # one class only: neither attack can be scored
        return {"norm": norm, "direction": norm}
    scored = np.ones(len(y), dtype=bool)
    if reference is None:
        if rng is None:
            raise ValueError("batch_leak_aucs: pass rng (to draw the known positive) or "
                             "an explicit reference gradient")
        known = known_positive(y, rng)
        reference = g[known]
        scored[known] = False  # alice knows its label already: it is not a leak
    if not np.any(reference):
        return {"norm": norm, "direction": float("nan")}
    direction = direction_scores(g[scored], reference)
    return {"norm": norm, "direction": leak_auc(y[scored], direction)}


# ---------------------------------------------------------------------------
# an epoch of split learning with a curious alice
# ---------------------------------------------------------------------------
@dataclass
class LeakLog:
    """Per batch: bob's loss, the batch's positive rate and both attacks' leak AUCs."""

    loss: list = field(default_factory=list)
    positive_rate: list = field(default_factory=list)
    norm: list = field(default_factory=list)
    direction: list = field(default_factory=list)

    def mean(self, attack):
        """Mean leak AUC of ``attack`` ('norm' or 'direction') over the batches with both
        classes (Li et al.'s epoch figure)."""
        if attack not in ("norm", "direction"):
            raise ValueError(f"LeakLog.mean: attack must be 'norm' or 'direction', got "
                             f"{attack!r}")
        values = np.asarray(getattr(self, attack), dtype=np.float64)
        values = values[~np.isnan(values)]
        return float(values.mean()) if values.size else float("nan")

    def __len__(self):
        return len(self.loss)


def curious_train_epoch(alice, bob, rows=None, batch_size=128, rng=None, attack_rng=None,
                        channel=None, log=None):
    """``split.train_epoch`` in which alice scores every gradient she receives -> LeakLog.

    The protocol is unchanged: alice.forward, bob.step (his codec, e.g. a defence, acts
    here), alice.backward. Between the last two, alice decodes the gradient message, as
    her backward will, and the attacks score it; bob's labels are read only to compute
    the leak AUC (the experimenter's answer key, not something alice holds).
    rng shuffles the rows (as in train_epoch); attack_rng draws the known positives.
    """
    attack_rng = np.random.default_rng(0) if attack_rng is None else attack_rng
    log = LeakLog() if log is None else log
    rows = len(bob.X) if rows is None else rows
    for b in batches(rows, batch_size, rng):
        hidden = alice.forward(b, channel)
        reply = bob.step(b, hidden, channel)
        received = reply.decode(alice.dtype)
        y = bob.labels(b)
        aucs = batch_leak_aucs(received, y, attack_rng)
        log.loss.append(bob.last_loss)
        log.positive_rate.append(float(np.mean(y)))
        log.norm.append(aucs["norm"])
        log.direction.append(aucs["direction"])
        alice.backward(reply)
    return log


# ---------------------------------------------------------------------------
# bob's defences, as codecs on his outgoing gradient
# ---------------------------------------------------------------------------
class GradientDefence(Codec):
    """A codec that perturbs the gradient, then encodes it with ``inner`` (default float32).

    ``perturb(grad)`` (B, D) -> (B, D) in grad's dtype is the defence; the bytes on the
    wire are the inner codec's, so a defence costs no bandwidth.
    """

    label = "defence"

    def __init__(self, inner=None):
        self.inner = get_codec(inner)
        if isinstance(self.inner, GradientDefence):
            raise TypeError(f"{type(self).__name__}: inner must be a compression codec, "
                            f"not another defence ({self.inner!r}); apply one defence")
        self.name = f"{self.label}+{self.inner.name}"

    def perturb(self, grad):  # pragma: no cover - abstract
        raise NotImplementedError

    def encode(self, x):
        g = gradient_matrix(x, type(self).__name__)
        return self.inner.encode(self.perturb(g))

    def decode(self, payload, dtype=np.float32):
        return self.inner.decode(payload, dtype)


class GaussianNoise(GradientDefence):
    """g + N(0, sigma^2 I) on every entry: Li et al.'s isotropic ('iso') baseline.

    relative=True: sigma = scale * max_i |g_i|_2 / sqrt(D), so the noise added to a row
    has an expected norm of about ``scale`` times the batch's largest gradient norm,
    whatever the gradients' size (the mean loss makes them shrink with the batch size).
    relative=False: sigma = scale. rng: an np.random.Generator (or an int seed).
    """

    label = "gauss"

    def __init__(self, scale, rng, relative=True, inner=None):
        scale = float(scale)
        if not np.isfinite(scale) or scale < 0:
            raise ValueError(f"GaussianNoise: scale must be a finite number >= 0, got {scale}")
        if rng is None:
            raise ValueError("GaussianNoise: pass rng, an np.random.Generator (or an int "
                             "seed): noise from an unseeded generator cannot be reproduced")
        self.scale, self.relative = scale, bool(relative)
        self.rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        self.label = f"gauss{scale:g}" + ("" if relative else "abs")
        super().__init__(inner)

    def sigma(self, grad):
        """The noise's standard deviation for this gradient (B, D)."""
        g = np.asarray(grad)
        if not self.relative:
            return self.scale
        if g.size == 0:
            return 0.0
        return self.scale * float(np.linalg.norm(g.astype(np.float64), axis=1).max()) \
            / np.sqrt(g.shape[1])

    def perturb(self, grad):
        g = gradient_matrix(grad, "GaussianNoise")
        noise = self.rng.standard_normal(g.shape) * self.sigma(g)
        return (g.astype(np.float64) + noise).astype(g.dtype)

    def __repr__(self):
        return (f"GaussianNoise(scale={self.scale:g}, relative={self.relative}, "
                f"inner={self.inner!r})")


class NormEqualize(GradientDefence):
    """Every row rescaled to one norm: g_i * c / |g_i|; c the batch 'max', 'mean' or a number.

    The norm attack then sees B equal scores (leak AUC exactly 0.5). A positive rescaling
    leaves every direction as it was, so the direction attack is untouched. A row of
    zeros has no direction and stays zero. Deterministic: no rng.
    """

    def __init__(self, target="max", inner=None):
        if isinstance(target, str):
            if target not in ("max", "mean"):
                raise ValueError(f"NormEqualize: target must be 'max', 'mean' or a positive "
                                 f"number, got {target!r}")
        else:
            target = float(target)
            if not np.isfinite(target) or target <= 0:
                raise ValueError(f"NormEqualize: a numeric target must be finite and > 0, "
                                 f"got {target}")
        self.target = target
        self.label = f"norm-{target}" if isinstance(target, str) else f"norm{target:g}"
        super().__init__(inner)

    def common_norm(self, norms):
        """The norm every row is given, from the rows' norms (B,)."""
        if not isinstance(self.target, str):
            return self.target
        nonzero = norms[norms > 0]
        if nonzero.size == 0:
            return 0.0
        return float(nonzero.max() if self.target == "max" else nonzero.mean())

    def perturb(self, grad):
        g = gradient_matrix(grad, "NormEqualize").astype(np.float64)
        norms = np.linalg.norm(g, axis=1)
        factor = np.divide(self.common_norm(norms), norms, out=np.zeros_like(norms),
                           where=norms > 0)
        return (g * factor[:, None]).astype(np.asarray(grad).dtype)

    def __repr__(self):
        return f"NormEqualize(target={self.target!r}, inner={self.inner!r})"
