"""Notebook 05: one plausible wrong answer per exercise, and right answers written differently.

Each value is the whole source of the exercise's answer cell (see ``__init__.py``).
"""

WRONG = {
    # the sign forgotten: every client adds every mask, so nothing cancels
    "try_pairwise_masks": '''\
import numpy as np


def my_masked_input(u, x, pair_seeds):
    """Client u's vector x plus its pairwise masks (signed by the order of the two ids), mod 2^32.

    u: int; x: uint32 (d,); pair_seeds: {v: 32-byte seed s_uv} for every peer v != u
    -> uint32 (d,), arithmetic mod 2^32.
    """
    # BEGIN SOLUTION
    from minigrad.privacy.secure_aggregation import expand_mask

    y = np.array(x, dtype=np.uint32)  # a copy: the client's own input stays as it was
    for v, seed in pair_seeds.items():
        mask = expand_mask(seed, y.size)
        y += mask
    return y
    # END SOLUTION
''',
    # divided by the number of updates received, not the public expected count
    "try_dp_aggregate": '''\
import numpy as np


def my_dp_aggregate(deltas, clip, noise_multiplier, rng, expected_clients):
    """Clip each update to norm clip, sum, add N(0, (noise_multiplier * clip)^2 I), divide.

    deltas: list of {name: ndarray}, same names and shapes; rng: np.random.Generator
    -> {name: float64 ndarray} shaped like the updates: the noisy sum / expected_clients.
    """
    # BEGIN SOLUTION
    keys = list(deltas[0])
    total = {k: np.zeros(np.shape(deltas[0][k])) for k in keys}
    for update in deltas:
        arrays = {k: np.asarray(update[k], dtype=np.float64) for k in keys}
        norm = np.sqrt(sum(np.sum(a * a) for a in arrays.values()))  # one norm for the whole update
        scale = min(1.0, clip / norm) if norm > 0 else 1.0
        for k in keys:
            total[k] += scale * arrays[k]
    noise_std = noise_multiplier * clip  # one client more or less moves the sum by at most clip
    return {k: (total[k] + rng.normal(0.0, noise_std, size=total[k].shape)) / len(deltas)
            for k in keys}
    # END SOLUTION
''',
    # fresh randomness for every value: the right habit, not the mistake asked for
    "encrypt_reusing_noise": '''\
def encrypt_reusing_noise(public_key, values, rng):
    """The mistake: one ciphertext per integer of values, all with the SAME noise factor r^n.

    public_key: paillier.PublicKey; values: sequence of ints; rng: np.random.Generator
    -> list of ints (ciphertexts), one per value.
    """
    # BEGIN SOLUTION
    return [public_key.encrypt(int(v), rng) for v in values]
    # END SOLUTION
''',
    # the first ciphertext taken for E(0)
    "rows_revealed": '''\
def rows_revealed(ciphertexts):
    """Positions whose ciphertext differs from the most frequent one.

    ciphertexts: sequence of ints -> int64 (k,), sorted; empty for no ciphertexts.
    """
    # BEGIN SOLUTION
    import numpy as np

    ciphertexts = list(ciphertexts)
    if not ciphertexts:
        return np.zeros(0, dtype=np.int64)
    common = ciphertexts[0]  # E(0): the untouched rows
    return np.array([i for i, c in enumerate(ciphertexts) if c != common], dtype=np.int64)
    # END SOLUTION
''',
    # the difference left mod n, never read as negative
    "plaintext_difference": '''\
def plaintext_difference(public_key, c1, c2):
    """m1 - m2 from two ciphertexts that share their noise factor, without the key.

    public_key: paillier.PublicKey; c1, c2: ciphertexts (ints) -> int, signed;
    ValueError if c1 and c2 do not share a noise factor.
    """
    # BEGIN SOLUTION
    n, n_square = public_key.n, public_key.n_square
    ratio = c1 * pow(c2, -1, n_square) % n_square  # (1 + m1 n) / (1 + m2 n) = 1 + (m1 - m2) n
    if (ratio - 1) % n:
        raise ValueError("plaintext_difference: these ciphertexts do not share a noise "
                         "factor (c1 / c2 is not of the form 1 + k n)")
    d = (ratio - 1) // n
    return d
    # END SOLUTION
''',
    # the first ciphertext taken for E(0)
    "read_reused_noise": '''\
def read_reused_noise(public_key, ciphertexts):
    """Every plaintext of ciphertexts sharing one noise factor, the most frequent taken as E(0).

    public_key: paillier.PublicKey; ciphertexts: sequence of ints -> list of ints, signed.
    """
    # BEGIN SOLUTION
    ciphertexts = list(ciphertexts)
    zero = ciphertexts[0]
    return [plaintext_difference(public_key, c, zero) for c in ciphertexts]
    # END SOLUTION
''',
    # the bisection returns the end that misses the target
    "noise_multiplier_for_epsilon": '''\
def noise_multiplier_for_epsilon(target_epsilon, sample_rate, steps, delta, *, low=0.05,
                                 high=200.0, tol=1e-4):
    """The smallest noise multiplier z whose epsilon after steps rounds meets the target.

    z in [low, high], to within tol: rdp_epsilon(sample_rate, z, steps, delta)[0] <=
    target_epsilon -> float; ValueError if target_epsilon <= 0 or z = high misses it.
    """
    # BEGIN SOLUTION
    from minigrad.privacy.dp import rdp_epsilon

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
    while high - low > tol:  # epsilon falls as z grows: keep eps(low) > target >= eps(high)
        mid = 0.5 * (low + high)
        if eps(mid) <= target_epsilon:
            high = mid
        else:
            low = mid
    return low
    # END SOLUTION
''',
    # off by one: the first R over the budget
    "max_rounds_for_epsilon": '''\
def max_rounds_for_epsilon(target_epsilon, sample_rate, noise_multiplier, delta):
    """The most rounds R with epsilon(R) <= target_epsilon (0 if one round exceeds it): int."""
    # BEGIN SOLUTION
    import numpy as np

    from minigrad.privacy.dp import DEFAULT_ORDERS, compute_rdp, epsilon_from_rdp

    orders = np.asarray(DEFAULT_ORDERS, dtype=np.float64)
    one = compute_rdp(sample_rate, noise_multiplier, 1, orders)
    limit = 10 ** 6  # the search stops there

    def within(rounds):
        return epsilon_from_rdp(orders, rounds * one, delta)[0] <= target_epsilon

    if not within(1):
        return 0
    good, bad = 1, 2  # epsilon grows with R: double, then bisect
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
    return bad
    # END SOLUTION
''',
    # the shift taken the wrong way
    "membership_tpr": '''\
def membership_tpr(fpr, signal_to_noise):
    """True-positive rate of the best test of "Bob was in" at false-positive rate fpr.

    fpr: float or ndarray in [0, 1]; signal_to_noise: ||u|| / s >= 0 -> float, or ndarray
    shaped like fpr. ValueError if some fpr lies outside [0, 1].
    """
    # BEGIN SOLUTION
    from statistics import NormalDist

    import numpy as np

    standard = NormalDist()
    fpr = np.asarray(fpr, dtype=np.float64)
    if np.any((fpr < 0) | (fpr > 1)):
        raise ValueError("membership_tpr: fpr must lie in [0, 1]")
    inner = np.clip(fpr, 1e-300, 1 - 1e-16)  # inv_cdf needs (0, 1); the ends are set below
    shifted = np.vectorize(standard.inv_cdf)(inner) - signal_to_noise
    out = np.vectorize(standard.cdf)(shifted)
    out = np.where(fpr == 0, 0.0, np.where(fpr == 1, 1.0, out))
    return float(out) if out.ndim == 0 else out
    # END SOLUTION
''',
    # the bound from the complement of S (datasets swapped) forgotten
    "dp_tpr_bound": '''\
def dp_tpr_bound(fpr, epsilon, delta):
    """The largest true-positive rate any test can have at false-positive rate fpr under DP.

    fpr: float or ndarray in [0, 1]; epsilon, delta: the (epsilon, delta) of the mechanism
    -> float, or ndarray shaped like fpr.
    """
    # BEGIN SOLUTION
    import math

    import numpy as np

    fpr = np.asarray(fpr, dtype=np.float64)
    out = np.minimum(1.0, math.exp(epsilon) * fpr + delta)
    out = np.maximum(out, 0.0)
    return float(out) if out.ndim == 0 else out
    # END SOLUTION
''',
}

OTHER_RIGHT = {
    "try_pairwise_masks": '''\
import numpy as np


def my_masked_input(u, x, pair_seeds):
    """Client u's vector x plus its pairwise masks (signed by the order of the two ids), mod 2^32.

    u: int; x: uint32 (d,); pair_seeds: {v: 32-byte seed s_uv} for every peer v != u
    -> uint32 (d,), arithmetic mod 2^32.
    """
    # BEGIN SOLUTION
    from minigrad.privacy.secure_aggregation import expand_mask

    x = np.asarray(x)
    total = x.astype(np.int64)
    for v in sorted(pair_seeds):
        sign = 1 if v > u else -1
        total = total + sign * expand_mask(pair_seeds[v], x.size).astype(np.int64)
    return (total % 2 ** 32).astype(np.uint32)
    # END SOLUTION
''',
    "try_dp_aggregate": '''\
import numpy as np


def my_dp_aggregate(deltas, clip, noise_multiplier, rng, expected_clients):
    """Clip each update to norm clip, sum, add N(0, (noise_multiplier * clip)^2 I), divide.

    deltas: list of {name: ndarray}, same names and shapes; rng: np.random.Generator
    -> {name: float64 ndarray} shaped like the updates: the noisy sum / expected_clients.
    """
    # BEGIN SOLUTION
    names = list(deltas[0])
    shapes = [np.shape(deltas[0][name]) for name in names]
    rows = np.stack([np.concatenate([np.ravel(d[name]).astype(np.float64) for name in names])
                     for d in deltas])
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    factors = np.minimum(1.0, clip / np.maximum(norms, 1e-300))
    flat = (rows * factors).sum(axis=0)
    out, start = {}, 0
    for name, shape in zip(names, shapes, strict=True):
        size = int(np.prod(shape))
        noisy = flat[start:start + size] + rng.normal(0.0, noise_multiplier * clip, size)
        out[name] = noisy.reshape(shape) / expected_clients
        start += size
    return out
    # END SOLUTION
''',
    "encrypt_reusing_noise": '''\
def encrypt_reusing_noise(public_key, values, rng):
    """The mistake: one ciphertext per integer of values, all with the SAME noise factor r^n.

    public_key: paillier.PublicKey; values: sequence of ints; rng: np.random.Generator
    -> list of ints (ciphertexts), one per value.
    """
    # BEGIN SOLUTION
    import math

    n, n_square = public_key.n, public_key.n_square
    r = int(rng.integers(2, 2 ** 62))
    while math.gcd(r, n) != 1:
        r = int(rng.integers(2, 2 ** 62))
    factor = pow(r, n, n_square)
    return [(1 + (int(v) % n) * n) * factor % n_square for v in values]
    # END SOLUTION
''',
    "rows_revealed": '''\
def rows_revealed(ciphertexts):
    """Positions whose ciphertext differs from the most frequent one.

    ciphertexts: sequence of ints -> int64 (k,), sorted; empty for no ciphertexts.
    """
    # BEGIN SOLUTION
    import numpy as np

    ciphertexts = list(ciphertexts)
    counts = {}
    for c in ciphertexts:
        counts[c] = counts.get(c, 0) + 1
    if not counts:
        return np.array([], dtype=np.int64)
    common = max(counts, key=counts.get)
    return np.flatnonzero([c != common for c in ciphertexts]).astype(np.int64)
    # END SOLUTION
''',
    "plaintext_difference": '''\
def plaintext_difference(public_key, c1, c2):
    """m1 - m2 from two ciphertexts that share their noise factor, without the key.

    public_key: paillier.PublicKey; c1, c2: ciphertexts (ints) -> int, signed;
    ValueError if c1 and c2 do not share a noise factor.
    """
    # BEGIN SOLUTION
    n = public_key.n
    k, rest = divmod(c1 * pow(c2, -1, n * n) % (n * n) - 1, n)
    if rest != 0:
        raise ValueError("not the same r^n")
    return k if 2 * k < n else k - n
    # END SOLUTION
''',
    "noise_multiplier_for_epsilon": '''\
def noise_multiplier_for_epsilon(target_epsilon, sample_rate, steps, delta, *, low=0.05,
                                 high=200.0, tol=1e-4):
    """The smallest noise multiplier z whose epsilon after steps rounds meets the target.

    z in [low, high], to within tol: rdp_epsilon(sample_rate, z, steps, delta)[0] <=
    target_epsilon -> float; ValueError if target_epsilon <= 0 or z = high misses it.
    """
    # BEGIN SOLUTION
    import math

    from minigrad.privacy import dp

    if target_epsilon <= 0:
        raise ValueError("no finite noise gives epsilon <= 0")

    def meets(z):
        return dp.rdp_epsilon(sample_rate, z, steps, delta)[0] <= target_epsilon

    if not meets(high):
        raise ValueError(f"the target needs more noise than z = {high}")
    if meets(low):
        return low
    # bisect on log z first (the interval spans four orders of magnitude), then finish in z
    a, b = math.log(low), math.log(high)
    while math.exp(b) - math.exp(a) > tol:
        m = 0.5 * (a + b)
        if meets(math.exp(m)):
            b = m
        else:
            a = m
    return math.exp(b)
    # END SOLUTION
''',
    "max_rounds_for_epsilon": '''\
def max_rounds_for_epsilon(target_epsilon, sample_rate, noise_multiplier, delta):
    """The most rounds R with epsilon(R) <= target_epsilon (0 if one round exceeds it): int."""
    # BEGIN SOLUTION
    from minigrad.privacy import dp

    one = dp.compute_rdp(sample_rate, noise_multiplier, 1)
    rounds = 0
    # RDP of R rounds is R times one round's: walk R up, each step a cheap conversion
    while rounds < 10 ** 6 and dp.epsilon_from_rdp(dp.DEFAULT_ORDERS, (rounds + 1) * one,
                                                   delta)[0] <= target_epsilon:
        rounds += 1
    return rounds
    # END SOLUTION
''',
    "membership_tpr": '''\
def membership_tpr(fpr, signal_to_noise):
    """True-positive rate of the best test of "Bob was in" at false-positive rate fpr.

    fpr: float or ndarray in [0, 1]; signal_to_noise: ||u|| / s >= 0 -> float, or ndarray
    shaped like fpr. ValueError if some fpr lies outside [0, 1].
    """
    # BEGIN SOLUTION
    from statistics import NormalDist

    import numpy as np

    z = NormalDist()
    rates = np.asarray(fpr, dtype=np.float64)
    if ((rates < 0) | (rates > 1)).any():
        raise ValueError(f"fpr outside [0, 1]: {fpr}")
    out = np.empty_like(rates)
    for i, a in np.ndenumerate(rates):
        if a == 0 or a == 1:
            out[i] = a  # never say "in" / always say "in"
        else:
            threshold = z.inv_cdf(1 - a)  # world 0 exceeds it with probability a
            out[i] = 1 - z.cdf(threshold - signal_to_noise)
    return out if out.ndim else float(out)
    # END SOLUTION
''',
    "dp_tpr_bound": '''\
def dp_tpr_bound(fpr, epsilon, delta):
    """The largest true-positive rate any test can have at false-positive rate fpr under DP.

    fpr: float or ndarray in [0, 1]; epsilon, delta: the (epsilon, delta) of the mechanism
    -> float, or ndarray shaped like fpr.
    """
    # BEGIN SOLUTION
    import numpy as np

    a = np.asarray(fpr, dtype=np.float64)
    direct = np.exp(epsilon) * a + delta                    # Pr[M(D) in S] bound
    swapped = 1 - (1 - a - delta) * np.exp(-epsilon)        # from the complement of S
    out = np.fmin(np.fmin(direct, swapped), 1.0)
    return out.item() if out.ndim == 0 else out
    # END SOLUTION
''',
}
