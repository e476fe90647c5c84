"""Reference solutions to the exercises of notebook 05 (secure aggregation and DP).

1. ``encrypt_reusing_noise``, ``rows_revealed``, ``plaintext_difference``,
   ``read_reused_noise``: Paillier with one noise factor reused for every value hands
   the server, without the key, which rows moved and then every value.
2. ``noise_multiplier_for_epsilon``, ``max_rounds_for_epsilon``: the accountant run
   backwards (the noise for a privacy budget, the rounds a budget buys).
3. ``membership_tpr``, ``dp_tpr_bound``, ``simulate_membership_test``: the best test of
   "did Bob take part in this round?" against one clipped, noised update, and the
   limit (epsilon, delta)-DP puts on every such test.
"""

import math
from collections import Counter
from statistics import NormalDist

import numpy as np

from ..privacy.dp import DEFAULT_ORDERS, clip_update, compute_rdp, epsilon_from_rdp, rdp_epsilon
from ..rng import check_generator

__all__ = [
    "encrypt_reusing_noise",
    "rows_revealed",
    "plaintext_difference",
    "read_reused_noise",
    "noise_multiplier_for_epsilon",
    "max_rounds_for_epsilon",
    "membership_tpr",
    "dp_tpr_bound",
    "simulate_membership_test",
]

_STANDARD = NormalDist()


# ---------------------------------------------------------------------------
# 1. fresh randomness: what one reused noise factor gives away
# ---------------------------------------------------------------------------
def encrypt_reusing_noise(public_key, values, rng):
    """The mistake: one ciphertext per integer of ``values``, all with the SAME r^n.

    values: sequence of ints (fixed-point, e.g. rint(x * 2**frac_bits)) -> list of
    ciphertexts. Computing r^n once is the whole saving: it is the costly half of
    Paillier encryption.
    """
    factor = public_key.random_factors(1, rng)[0]
    return [public_key.encrypt(int(v), noise_factor=factor) for v in values]


def rows_revealed(ciphertexts):
    """Positions whose ciphertext differs from the most frequent one: int64 (k,), sorted.

    With a reused noise factor equal plaintexts give equal ciphertexts, so the many
    rows of an update that hold 0 all encrypt to one number; the others are the rows
    the client's data moved: notebook 02's attack, through the encryption.
    """
    ciphertexts = list(ciphertexts)
    if not ciphertexts:
        return np.zeros(0, dtype=np.int64)
    common, _ = Counter(ciphertexts).most_common(1)[0]
    return np.array([i for i, c in enumerate(ciphertexts) if c != common], dtype=np.int64)


def plaintext_difference(public_key, c1, c2):
    """m1 - m2 from two ciphertexts that share their noise factor (no key needed).

    c1 / c2 = (1 + n)^(m1 - m2) r^n / r^n = 1 + (m1 - m2) n  (mod n^2), so
    (c1 c2^-1 mod n^2 - 1) / n is the difference mod n; read as signed (|.| < n/2).
    """
    n, n_square = public_key.n, public_key.n_square
    ratio = c1 * pow(c2, -1, n_square) % n_square
    if (ratio - 1) % n:
        raise ValueError("plaintext_difference: these ciphertexts do not share a noise "
                         "factor (c1 / c2 is not of the form 1 + k n)")
    d = (ratio - 1) // n
    return d - n if d > n // 2 else d


def read_reused_noise(public_key, ciphertexts):
    """Every plaintext of ciphertexts sharing one noise factor, taking the most frequent
    ciphertext to be E(0) (an update's untouched rows): list of ints."""
    ciphertexts = list(ciphertexts)
    zero, _ = Counter(ciphertexts).most_common(1)[0]
    return [plaintext_difference(public_key, c, zero) for c in ciphertexts]


# ---------------------------------------------------------------------------
# 2. the accountant, backwards
# ---------------------------------------------------------------------------
def noise_multiplier_for_epsilon(target_epsilon, sample_rate, steps, delta, *, low=0.05,
                                 high=200.0, tol=1e-4):
    """The smallest noise multiplier z (to ``tol``) with rdp_epsilon(q, z, steps, delta) <=
    target. Epsilon falls as z grows, so bisection finds it; ValueError if even ``high``
    does not reach the target (a target of 0 needs infinite noise)."""
    if not target_epsilon > 0:
        raise ValueError(f"noise_multiplier_for_epsilon: target_epsilon={target_epsilon!r} "
                         f"must be > 0")

    def eps(z):
        return rdp_epsilon(sample_rate, z, steps, delta)[0]

    if eps(high) > target_epsilon:
        raise ValueError(f"noise_multiplier_for_epsilon: even z={high} gives epsilon "
                         f"{eps(high):.4g} > {target_epsilon}; raise high")
    if eps(low) <= target_epsilon:
        return low
    while high - low > tol:
        mid = 0.5 * (low + high)
        if eps(mid) <= target_epsilon:
            high = mid
        else:
            low = mid
    return high


def max_rounds_for_epsilon(target_epsilon, sample_rate, noise_multiplier, delta, orders=None,
                           limit=10 ** 6):
    """The most rounds R with epsilon(R) <= target: int (0 if even one round exceeds it).

    RDP adds up over rounds, so one call to ``compute_rdp`` for a single round gives
    every R: epsilon(R) = epsilon_from_rdp(orders, R * rdp_one_round). Epsilon grows
    with R; doubling then bisection finds the last R within the budget (``limit``
    caps the search).
    """
    orders = np.asarray(DEFAULT_ORDERS if orders is None else orders, dtype=np.float64)
    one = compute_rdp(sample_rate, noise_multiplier, 1, orders)

    def within(rounds):
        return epsilon_from_rdp(orders, rounds * one, delta)[0] <= target_epsilon

    if not within(1):
        return 0
    good, bad = 1, 2
    while within(bad):
        good, bad = bad, 2 * bad
        if good >= limit:
            return limit
    while bad - good > 1:
        mid = (good + bad) // 2
        if within(mid):
            good = mid
        else:
            bad = mid
    return good


# ---------------------------------------------------------------------------
# 3. the best attack against one clipped, noised update, and DP's limit on it
# ---------------------------------------------------------------------------
def membership_tpr(fpr, signal_to_noise):
    """True-positive rate of the best test of N(0, s^2 I) against N(u, s^2 I) at false-positive
    rate ``fpr``, with ||u|| / s = ``signal_to_noise``: Phi(Phi^-1(fpr) + ||u|| / s).

    (Neyman-Pearson: the likelihood ratio depends only on the projection of the
    observation on u, a one-dimensional Gaussian shifted by ||u|| / s.) For an update
    clipped to C and noised with std z C, signal_to_noise <= 1 / z.
    """
    fpr = np.asarray(fpr, dtype=np.float64)
    if np.any((fpr < 0) | (fpr > 1)):
        raise ValueError("membership_tpr: fpr must lie in [0, 1]")
    inner = np.clip(fpr, 1e-300, 1 - 1e-16)
    shifted = np.vectorize(_STANDARD.inv_cdf)(inner) + signal_to_noise
    out = np.vectorize(_STANDARD.cdf)(shifted)
    out = np.where(fpr == 0, 0.0, np.where(fpr == 1, 1.0, out))
    return float(out) if out.ndim == 0 else out


def dp_tpr_bound(fpr, epsilon, delta):
    """The largest true-positive rate any test may have at false-positive rate ``fpr``
    against an (epsilon, delta)-DP mechanism: min(1, e^eps fpr + delta,
    1 - e^-eps (1 - delta - fpr)) (Kairouz, Oh, Viswanath 2015)."""
    fpr = np.asarray(fpr, dtype=np.float64)
    out = np.minimum.reduce([np.ones_like(fpr), math.exp(epsilon) * fpr + delta,
                             1 - math.exp(-epsilon) * (1 - delta - fpr)])
    out = np.maximum(out, 0.0)
    return float(out) if out.ndim == 0 else out


def simulate_membership_test(update, clip, noise_multiplier, rng, trials=200, fpr=0.01):
    """Empirical (fpr, tpr) of the projection test for "is ``update`` in what I see?".

    World 0: the attacker sees N(0, (z C)^2) noise alone (Bob sat the round out);
    world 1: Bob's update clipped to ``clip`` plus fresh noise. The statistic is the
    projection of what it sees on Bob's clipped update direction, thresholded at the
    world-0 quantile 1 - ``fpr`` (known exactly: the projection is N(0, (z C)^2)).
    ``trials`` draws of each world, noise on every coordinate. -> (fpr, tpr) measured.
    """
    check_generator(rng, "simulate_membership_test")
    clipped = clip_update(update, clip)
    u = np.concatenate([np.ravel(v) for v in clipped.values()])
    norm = float(np.linalg.norm(u))
    if norm == 0:
        raise ValueError("simulate_membership_test: the update is zero; nothing to detect")
    direction = u / norm
    std = noise_multiplier * clip
    threshold = std * _STANDARD.inv_cdf(1 - fpr)
    stats = {0: [], 1: []}
    for world in (0, 1):
        for _ in range(trials):
            seen = rng.normal(0.0, std, u.shape) + (u if world else 0.0)
            stats[world].append(float(seen @ direction))
    measured_fpr = float(np.mean(np.array(stats[0]) > threshold))
    measured_tpr = float(np.mean(np.array(stats[1]) > threshold))
    return measured_fpr, measured_tpr
