"""Differential privacy for federated learning: DP-FedAvg and its RDP accountant.

    aggregator = DPFedAvg(clip=1.0, noise_multiplier=1.0, sample_rate=q, num_clients=N)
    new_params, record = run_round(server, clients, update_fn, rng=rng, aggregator=aggregator)
    eps, order = rdp_epsilon(q, noise_multiplier=1.0, steps=num_rounds, delta=1e-5)

What the guarantee covers, and where the accountant comes from: docs/dp.md.
"""

import math
import numbers
from dataclasses import dataclass

import numpy as np

from ..federated.aggregator import Aggregator
from ..federated.params import check_same_keys, check_update, num_bytes
from ..federated.round import PoissonSample
from ..rng import check_generator

__all__ = [
    "global_norm",
    "clip_update",
    "dp_aggregate",
    "poisson_sample",
    "DPFedAvg",
    "Clipped",
    "compute_rdp",
    "epsilon_from_rdp",
    "rdp_epsilon",
    "TF_PRIVACY_ORDERS",
    "OPACUS_ORDERS",
    "DEFAULT_ORDERS",
]

# The orders of TF Privacy's compute_dp_sgd_privacy (and its RDP accountant's default).
TF_PRIVACY_ORDERS = ((1.25, 1.5, 1.75, 2.0, 2.25, 2.5, 3.0, 3.5, 4.0, 4.5)
                     + tuple(float(a) for a in range(5, 64)) + (128.0, 256.0, 512.0))
# The orders of Opacus's RDPAccountant.DEFAULT_ALPHAS: 1.1, 1.2, ..., 10.9, then 12 ... 63.
OPACUS_ORDERS = tuple(1 + x / 10.0 for x in range(1, 100)) + tuple(float(a) for a in range(12, 64))
DEFAULT_ORDERS = TF_PRIVACY_ORDERS

CONVERSIONS = ("improved", "classic")
MAX_STEPS = 2 ** 53  # the largest step count float64 holds exactly


# ---------------------------------------------------------------------------
# clipping and the noisy sum
# ---------------------------------------------------------------------------
def _check_clip(clip, who):
    if not isinstance(clip, numbers.Real) or not math.isfinite(clip) or clip <= 0:
        raise ValueError(f"{who}: clip={clip!r} must be a finite L2 norm > 0")


def _check_noise(noise_multiplier, who):
    if (not isinstance(noise_multiplier, numbers.Real) or math.isnan(noise_multiplier)
            or noise_multiplier < 0 or math.isinf(noise_multiplier)):
        raise ValueError(f"{who}: noise_multiplier={noise_multiplier!r} must be a finite "
                         f"number >= 0 (the noise std is noise_multiplier * clip)")


def _flat_rows(updates, names):
    """{name: (K, size) float64}: each client's parameters as one row per name."""
    return {name: np.stack([np.asarray(u[name], dtype=np.float64).ravel() for u in updates])
            for name in names}


def _row_norms(rows, num_rows):
    """L2 norm of each client's whole update, all parameters together: (K,).

    Rows whose sum of squares overflows (entries near 1e155 and up) are measured again
    scaled by their largest |entry|, so a huge update gets its true, finite norm (and is
    clipped, not zeroed); every other row keeps the plain sum of squares, bit for bit.
    """
    squares = np.zeros(num_rows)
    for flat in rows.values():
        squares += np.einsum("ij,ij->i", flat, flat)
    norms = np.sqrt(squares)
    overflow = np.flatnonzero(np.isinf(norms))
    if overflow.size:
        top = np.zeros(overflow.size)
        for flat in rows.values():
            if flat.shape[1]:
                top = np.maximum(top, np.abs(flat[overflow]).max(axis=1))
        scaled = np.zeros(overflow.size)
        for flat in rows.values():
            part = flat[overflow] / top[:, None]
            scaled += np.einsum("ij,ij->i", part, part)
        norms[overflow] = top * np.sqrt(scaled)
    return norms


def _check_finite_rows(rows, who):
    """ValueError naming the first client (row) with a NaN or inf entry."""
    for name, flat in rows.items():
        bad = ~np.isfinite(flat).all(axis=1)
        if bad.any():
            raise ValueError(f"{who} {int(np.flatnonzero(bad)[0])}: '{name}' holds nan or inf; "
                             f"clipping cannot bound a non-finite update, and one would turn "
                             f"the whole average into nan")


def _clip_rows(rows, num_rows, clip):
    """Scale each client's rows by min(1, clip / norm); returns (clipped rows, norms before).

    The bound ``norm <= clip`` is the sensitivity the noise is calibrated to, so it
    is checked in floating point after scaling, not trusted to algebra: a factor
    that rounds up is nudged down one ulp at a time.
    """
    norms = _row_norms(rows, num_rows)
    over = norms > clip
    factors = np.ones(num_rows)
    factors[over] = clip / norms[over]
    clipped = {name: flat * factors[:, None] for name, flat in rows.items()}
    for _ in range(8):
        after = _row_norms(clipped, num_rows)
        still = over & (after > clip)
        if not still.any():
            break
        factors[still] = np.nextafter(factors[still], 0.0)
        for name, flat in rows.items():
            clipped[name][still] = flat[still] * factors[still, None]
    return clipped, norms


def global_norm(update):
    """L2 norm of a whole parameter mapping, all arrays flattened into one vector -> float."""
    if not update:
        raise ValueError("global_norm: the update has no parameters")
    # an overflowing norm is computed scaled, so it stays finite (see _row_norms)
    return float(_row_norms(_flat_rows([update], list(update)), 1)[0])


def clip_update(update, clip):
    """Scale ``update`` so its global L2 norm is at most ``clip``: {name: ndarray} -> same.

    ``update * min(1, clip / ||update||)``, the norm taken over all parameters
    flattened together (one vector per client, as in DP-FedAvg), so the direction
    is kept. An update already inside the ball comes back unchanged. Arrays come
    back as new float64 arrays: casting a clipped float64 vector to float32 could
    push its norm back above ``clip``.
    """
    _check_clip(clip, "clip_update")
    if not update:
        raise ValueError("clip_update: the update has no parameters")
    names = list(update)
    rows = _flat_rows([update], names)
    _check_finite_rows(rows, "clip_update: update")
    clipped, _ = _clip_rows(rows, 1, clip)
    return {name: clipped[name][0].reshape(np.shape(update[name])) for name in names}


def dp_aggregate(deltas, clip, noise_multiplier, rng, expected_clients, *, template=None):
    """Clip each update, sum, add Gaussian noise, divide by the expected client count.

    deltas: [{name: ndarray}, ...], one update (client - server) per sampled client,
    all with the names and shapes of the first (or of ``template``) -> {name: ndarray}
    in the dtype of ``template`` (else of the first update):

        (sum_k clip_update(delta_k, clip) + N(0, (noise_multiplier * clip)^2 I))
        / expected_clients

    The sum has L2 sensitivity ``clip`` when one client is added or removed, so the
    noise std on the average is ``noise_multiplier * clip / expected_clients``.
    ``expected_clients`` is ``q * num_clients``, a public constant: the
    fixed-denominator estimator of McMahan et al. (2018). Dividing by the number of
    clients actually sampled would make the denominator itself depend on whether a
    client took part, so the sensitivity would no longer be ``clip / denominator``
    and the accountant's analysis would not apply; the fixed denominator is also
    unbiased, at the price of a little extra variance from the random count.
    With no deltas (nobody sampled) the result is pure noise, shaped like
    ``template``; it must still be released for the accounting to hold.
    """
    _check_clip(clip, "dp_aggregate")
    _check_noise(noise_multiplier, "dp_aggregate")
    check_generator(rng, "dp_aggregate", "the noise is reproducible")
    if (not isinstance(expected_clients, numbers.Real) or not math.isfinite(expected_clients)
            or expected_clients <= 0):
        raise ValueError(f"dp_aggregate: expected_clients={expected_clients!r} must be > 0 "
                         f"(q * num_clients, a public constant)")
    deltas = list(deltas)
    reference = template if template is not None else (deltas[0] if deltas else None)
    if reference is None:
        raise ValueError("dp_aggregate: no updates and no template; pass template= (the "
                         "server's parameters) so an empty round can still add the noise")
    for i, delta in enumerate(deltas):
        check_same_keys(reference, delta, f"dp_aggregate: update {i}")
    names = list(reference)
    if deltas:
        rows = _flat_rows(deltas, names)
        _check_finite_rows(rows, "dp_aggregate: update")
        clipped, _ = _clip_rows(rows, len(deltas), clip)
        sums = {name: clipped[name].sum(axis=0) for name in names}
    else:
        sums = {name: np.zeros(np.size(reference[name])) for name in names}
    std = noise_multiplier * clip
    out = {}
    for name in names:
        shape = np.shape(reference[name])
        noisy = (sums[name].reshape(shape) + rng.normal(0.0, std, size=shape)) / expected_clients
        out[name] = noisy.astype(np.asarray(reference[name]).dtype, copy=False)
    return out


def poisson_sample(num_clients, sample_rate, rng):
    """Each of ``num_clients`` clients joins independently with probability ``sample_rate``.

    -> int64 (num_sampled,) sorted indices; may be empty. This is the sampling the
    RDP accountant assumes; a fixed-size sample (``sample_clients``) is not covered
    by it.
    """
    check_generator(rng, "poisson_sample", "the sample is reproducible")
    if not isinstance(num_clients, numbers.Integral) or num_clients < 1:
        raise ValueError(f"poisson_sample: num_clients={num_clients!r} must be an int >= 1")
    _check_rate(sample_rate, "poisson_sample: sample_rate")
    return np.flatnonzero(rng.random(num_clients) < sample_rate)


def _check_rate(q, field):
    if isinstance(q, bool) or not isinstance(q, numbers.Real) or not 0 <= q <= 1:
        raise ValueError(f"{field}={q!r} must be a probability in [0, 1]")


@dataclass(frozen=True)
class Clipped:
    """A DP-FedAvg message: the update clipped to L2 norm ``clip`` (float64).

    ``norm_before`` is for the course's diagnostics (how many updates clipping
    bit); it is not covered by the DP guarantee and a deployment does not send it.
    """

    delta: dict
    norm_before: float


class DPFedAvg(Aggregator):
    """DP-FedAvg (McMahan et al. 2018): each client clips its delta to L2 norm ``clip``;
    the server adds N(0, (noise_multiplier * clip)^2) to the sum and divides by the
    expected client count ``sample_rate * num_clients``. Clients are Poisson-sampled
    (``self.sampler``), which the RDP accountant (``dp.rdp_epsilon``) assumes. Every
    client counts the same: a weight by example count would scale the sensitivity.

    Record fields: ``num_sampled``, ``num_clipped``, ``mean_update_norm`` (NaN when
    nobody was sampled), ``noise_std`` (per coordinate of the average).
    """

    def __init__(self, clip, noise_multiplier, sample_rate, num_clients):
        _check_clip(clip, "DPFedAvg")
        _check_noise(noise_multiplier, "DPFedAvg")
        _check_rate(sample_rate, "DPFedAvg: sample_rate")
        if sample_rate == 0:
            raise ValueError("DPFedAvg: sample_rate=0 samples nobody; use a rate in (0, 1]")
        if isinstance(num_clients, bool) or not isinstance(num_clients, (int, np.integer)) \
                or num_clients < 1:
            raise ValueError(f"DPFedAvg: num_clients={num_clients!r} must be an int >= 1")
        self.clip, self.noise_multiplier = float(clip), float(noise_multiplier)
        self.sample_rate, self.num_clients = float(sample_rate), int(num_clients)
        self.sampler = PoissonSample(self.sample_rate)

    def __repr__(self):
        return (f"DPFedAvg(clip={self.clip}, noise_multiplier={self.noise_multiplier}, "
                f"sample_rate={self.sample_rate}, num_clients={self.num_clients})")

    @property
    def expected_clients(self):
        return self.sample_rate * self.num_clients

    def encode(self, update, rng):
        delta = update.delta
        return Clipped(clip_update(delta, self.clip), global_norm(delta))

    def message_bytes(self, message):
        return num_bytes(message.delta)

    def aggregate(self, messages, template, rng):
        for i, m in enumerate(messages):  # every message checked before the noise is drawn
            if not isinstance(m, Clipped):
                raise TypeError(f"DPFedAvg: message {i} is a {type(m).__name__}, expected "
                                f"a Clipped")
            check_update(template, m.delta, f"DPFedAvg: message {i}")
            if (isinstance(m.norm_before, bool) or not isinstance(m.norm_before, numbers.Real)
                    or not math.isfinite(m.norm_before) or m.norm_before < 0):
                raise ValueError(f"DPFedAvg: message {i}'s norm_before={m.norm_before!r}; "
                                 f"expected a finite norm >= 0")
        norms = np.array([m.norm_before for m in messages])
        mean = dp_aggregate([m.delta for m in messages], self.clip, self.noise_multiplier,
                               rng, self.expected_clients,
                               template={k: np.asarray(v, dtype=np.float64)
                                         for k, v in template.items()})
        return mean, {
            "num_sampled": len(messages),
            "num_clipped": int((norms > self.clip).sum()),
            "mean_update_norm": float(norms.mean()) if len(norms) else float("nan"),
            "noise_std": self.noise_multiplier * self.clip / self.expected_clients,
        }



# ---------------------------------------------------------------------------
# RDP accountant for the sampled Gaussian mechanism
# ---------------------------------------------------------------------------
def _logsumexp_signed(logs, signs):
    """log(sum_k signs_k * exp(logs_k)) for a sum known to be positive."""
    top = np.max(logs)
    total = np.sum(signs * np.exp(logs - top))
    if not total > 0:
        raise FloatingPointError("compute_rdp: the series for log(A_alpha) lost all precision")
    return float(top + np.log(total))


def _log_erfc(x):
    """log(erfc(x)) elementwise, accurate where erfc(x) itself would underflow."""
    x = np.asarray(x, dtype=np.float64)
    out = np.empty_like(x)
    big = x > 26.0
    if big.any():  # asymptotic series: relative error below 1e-16 for x > 26
        xb = x[big]
        u = 0.5 / (xb * xb)
        series = 1 - u * (1 - 3 * u * (1 - 5 * u * (1 - 7 * u * (1 - 9 * u * (1 - 11 * u)))))
        out[big] = -xb * xb - np.log(xb) - 0.5 * math.log(math.pi) + np.log(series)
    small = ~big
    if small.any():  # only O(sigma) indices land here: math.erfc is exact to an ulp
        out[small] = np.log([math.erfc(v) for v in x[small]])
    return out


def _log_expm1(x):
    """log(exp(x) - 1) elementwise for x > 0, without overflow for large x."""
    out = np.empty_like(x)
    big = x > 30.0
    out[big] = x[big] + np.log1p(-np.exp(-x[big]))
    out[~big] = np.log(np.expm1(x[~big]))
    return out


def _log_a_int(q, sigma, alpha):
    """log A_alpha for integer alpha >= 2, 0 < q < 1: the binomial expansion.

    A_alpha = sum_{i=0}^{alpha} C(alpha, i) (1-q)^(alpha-i) q^i exp((i^2 - i) / (2 sigma^2)).
    The binomial weights sum to 1, so A_alpha - 1 is the same sum with exp(.) - 1 in
    place of exp(.): every term positive, the i = 0, 1 terms exactly 0. Summing that
    in log space keeps full relative precision when A_alpha is barely above 1 (large
    sigma, small q, where the accountant is mostly used) and cannot overflow when it
    is huge (the terms reach exp(1e7) for small sigma).
    """
    i = np.arange(alpha + 1, dtype=np.float64)
    log_binom = np.concatenate([[0.0], np.cumsum(np.log(alpha - i[1:] + 1) - np.log(i[1:]))])
    i, log_binom = i[2:], log_binom[2:]
    logs = (log_binom + i * math.log(q) + (alpha - i) * math.log1p(-q)
            + _log_expm1((i * i - i) / (2 * sigma ** 2)))
    log_a_minus_1 = _logsumexp_signed(logs, np.ones_like(logs))
    return float(np.logaddexp(0.0, log_a_minus_1))


def _log_a_frac(q, sigma, alpha, chunk=1024, max_terms=10_000_000):
    """log A_alpha for fractional alpha > 1, 0 < q < 1 (Mironov et al. 2019, section 3.3).

    Split the integral at z0 = sigma^2 log(1/q - 1) + 1/2, where the two Gaussians'
    mixture ratio crosses 1, and expand each half in a binomial series with
    generalized coefficients C(alpha, i) (alternating in sign once i > alpha + 1).
    The series is cut after the first index whose two terms are both below exp(-30)
    (TF Privacy's and Opacus's cut-off): the error in log A_alpha stays below ~1e-13
    (tests/test_dp_oracles.py checks it against a 60-digit integral). The terms are added
    with their signs, the exact series; dp-accounting 0.6 adds their absolute values, an
    upper bound (654.8 against the exact 469.8 for q = 0.5, sigma = 0.3, 100 steps,
    delta = 1e-6), so at fractional orders the two no longer agree.
    """
    z0 = sigma ** 2 * math.log(1 / q - 1) + 0.5
    log_q, log_1mq = math.log(q), math.log1p(-q)
    root2_sigma = math.sqrt(2) * sigma
    all_logs, all_signs = [], []
    log_coef, sign = 0.0, 1.0  # C(alpha, 0) = 1
    start = 0
    while start < max_terms:
        i = np.arange(start, start + chunk, dtype=np.float64)
        # C(alpha, i) = C(alpha, i-1) * (alpha - i + 1) / i, as a running log-magnitude and sign
        ratio = (alpha - i + 1) / np.where(i == 0, 1.0, i)
        ratio[i == 0] = 1.0
        log_coefs = log_coef + np.cumsum(np.log(np.abs(ratio)))
        signs = sign * np.cumprod(np.sign(ratio))
        log_coef, sign = log_coefs[-1], signs[-1]
        j = alpha - i
        log_s0 = (log_coefs + i * log_q + j * log_1mq + (i * i - i) / (2 * sigma ** 2)
                  + math.log(0.5) + _log_erfc((i - z0) / root2_sigma))
        log_s1 = (log_coefs + j * log_q + i * log_1mq + (j * j - j) / (2 * sigma ** 2)
                  + math.log(0.5) + _log_erfc((z0 - j) / root2_sigma))
        small = np.flatnonzero(np.maximum(log_s0, log_s1) < -30)
        stop = small[0] + 1 if len(small) else chunk
        all_logs += [log_s0[:stop], log_s1[:stop]]
        all_signs += [signs[:stop], signs[:stop]]
        if len(small):
            return _logsumexp_signed(np.concatenate(all_logs), np.concatenate(all_signs))
        start += chunk
    raise FloatingPointError(f"compute_rdp: the series for alpha={alpha} did not converge "
                             f"in {max_terms} terms")


def _rdp_one_step(q, sigma, alpha):
    """RDP at order ``alpha`` of one step of the sampled Gaussian mechanism."""
    if q == 0 or math.isinf(sigma):  # infinite noise: the output says nothing, RDP 0
        return 0.0
    if sigma == 0 or math.isinf(alpha):
        return math.inf
    if q == 1:  # the plain Gaussian mechanism
        return alpha / (2 * sigma ** 2)
    if float(alpha).is_integer():
        return _log_a_int(q, sigma, int(alpha)) / (alpha - 1)
    # A_alpha >= 1 exactly; the alternating series' rounding (~1e-16 absolute) can dip
    # below when the privacy loss is that small, so clip at 0
    return max(0.0, _log_a_frac(q, sigma, alpha) / (alpha - 1))


def _orders_array(orders, who):
    orders = np.atleast_1d(np.asarray(DEFAULT_ORDERS if orders is None else orders,
                                      dtype=np.float64))
    if orders.ndim != 1 or len(orders) == 0:
        raise ValueError(f"{who}: orders must be a non-empty 1-D sequence of numbers > 1")
    if np.any(np.isnan(orders)) or np.any(orders <= 1):
        raise ValueError(f"{who}: every order must be > 1 (or inf); got "
                         f"{orders[np.isnan(orders) | (orders <= 1)].tolist()}")
    return orders


def compute_rdp(q, noise_multiplier, steps, orders=None):
    """RDP of ``steps`` rounds of the Poisson-sampled Gaussian mechanism at each order.

    q: sampling rate in [0, 1]; noise_multiplier: noise std / L2 sensitivity (>= 0;
    0 means no privacy, RDP inf; inf means the output is pure noise, RDP 0);
    steps: int in [0, 2**53]; orders: a sequence of orders > 1
    (inf allowed) -> float64 (len(orders),), or a float for a scalar order.
    Default orders: ``DEFAULT_ORDERS`` (TF Privacy's list).

    One step at order alpha is log(A_alpha) / (alpha - 1) with
    A_alpha = E_{z ~ N(0, sigma^2)} [((1 - q) + q exp((2z - 1) / (2 sigma^2)))^alpha];
    ``steps`` rounds compose by adding: RDP is linear in ``steps``. q = 1 gives the
    Gaussian mechanism's alpha / (2 sigma^2); q = 0 gives 0.
    """
    _check_rate(q, "compute_rdp: q")
    if (isinstance(noise_multiplier, bool) or not isinstance(noise_multiplier, numbers.Real)
            or math.isnan(noise_multiplier) or noise_multiplier < 0):
        raise ValueError(f"compute_rdp: noise_multiplier={noise_multiplier!r} must be >= 0 "
                         f"(inf allowed: infinite noise, RDP 0)")
    if (isinstance(steps, bool) or not isinstance(steps, numbers.Real)
            or not (isinstance(steps, numbers.Integral) or math.isfinite(steps))
            or not 0 <= steps <= MAX_STEPS or not float(steps).is_integer()):
        raise ValueError(f"compute_rdp: steps={steps!r} must be an integer >= 0 and <= 2**53 "
                         f"(RDP is linear in steps, computed in float64)")
    scalar = np.ndim(orders) == 0 and orders is not None
    alphas = _orders_array(orders, "compute_rdp")
    rdp = np.array([_rdp_one_step(float(q), float(noise_multiplier), float(a)) for a in alphas])
    if steps == 0:  # 0 * inf is 0 here: no step, no privacy loss
        rdp = np.zeros_like(rdp)
    else:
        rdp = rdp * int(steps)
    return float(rdp[0]) if scalar else rdp


def _check_delta(delta, who):
    if not isinstance(delta, numbers.Real) or not 0 < delta < 1:
        raise ValueError(f"{who}: delta={delta!r} must be in (0, 1)")


def epsilon_from_rdp(orders, rdp, delta, conversion="improved"):
    """The smallest epsilon over the orders such that the mechanism is (epsilon, delta)-DP.

    orders, rdp: equal-length sequences (RDP at each order, e.g. a sum of
    ``compute_rdp`` results) -> (epsilon, best order); (inf, nan) if every order is inf.

    conversion="classic": Mironov (2017), Proposition 3:
        epsilon = rdp + log(1 / delta) / (alpha - 1).
    conversion="improved" (default): Balle et al. (2020), Theorem 21, the bound also
    given by Canonne, Kamath & Steinke (2020), Proposition 12:
        epsilon = rdp + log((alpha - 1) / alpha) - (log delta + log alpha) / (alpha - 1),
    always smaller than the classic one. It is what the current TF Privacy
    (dp_accounting) and Opacus use, so it is the default; the classic one is what
    TF Privacy's ``get_privacy_spent`` used until 2021 (e.g. the MNIST tutorial's 2.92).

    With either, an order whose RDP is tiny enough that delta >= sqrt(1 - exp(-rdp))
    gives epsilon = 0: the KL divergence is at most the RDP, and total variation at
    most sqrt(1 - exp(-KL)) (Bretagnolle-Huber), so the two outputs are delta-close
    (TF Privacy's dp_accounting applies the same rule). Epsilon is clipped below at 0.
    """
    if conversion not in CONVERSIONS:
        raise ValueError(f"epsilon_from_rdp: conversion={conversion!r}; expected one of "
                         f"{list(CONVERSIONS)}")
    _check_delta(delta, "epsilon_from_rdp")
    alphas = _orders_array(orders, "epsilon_from_rdp")
    rdp = np.atleast_1d(np.asarray(rdp, dtype=np.float64))
    if rdp.shape != alphas.shape:
        raise ValueError(f"epsilon_from_rdp: {len(alphas)} orders but rdp has shape {rdp.shape}")
    if np.any(np.isnan(rdp)) or np.any(rdp < 0):
        raise ValueError("epsilon_from_rdp: RDP values must be >= 0 (inf allowed)")
    eps = np.full(len(alphas), np.inf)
    ok = np.isfinite(alphas) & np.isfinite(rdp)
    a, r = alphas[ok], rdp[ok]
    if conversion == "classic":
        eps[ok] = r - math.log(delta) / (a - 1)
    else:
        eps[ok] = r + np.log1p(-1 / a) - (math.log(delta) + np.log(a)) / (a - 1)
    eps[ok & (delta ** 2 + np.expm1(-np.where(ok, rdp, 0.0)) > 0)] = 0.0
    if not np.isfinite(eps).any():
        return math.inf, math.nan
    best = int(np.argmin(eps))
    return max(0.0, float(eps[best])), float(alphas[best])


def rdp_epsilon(q, noise_multiplier, steps, delta, orders=None, conversion="improved"):
    """(epsilon, best order) after ``steps`` rounds of the sampled Gaussian mechanism.

    ``compute_rdp`` then ``epsilon_from_rdp``; see both for the arguments. For
    DP-FedAvg: q = sample_rate, steps = number of rounds, delta ~ 1 / num_clients or
    smaller.
    """
    _check_delta(delta, "rdp_epsilon")
    alphas = _orders_array(orders, "rdp_epsilon")
    rdp = compute_rdp(q, noise_multiplier, steps, alphas)
    return epsilon_from_rdp(alphas, rdp, delta, conversion=conversion)
