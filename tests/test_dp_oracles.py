"""The RDP accountant against independent references: Google's dp-accounting at integer
orders (the same closed-form series, written independently), and a 60-digit numerical
integral (mpmath) at fractional orders, where dp-accounting sums the absolute values of the
alternating series (an upper bound) and so is no reference.

    pip install "dp-accounting==0.6.*" "mpmath>=1.3,<1.4"   # test-only (requirements.txt)
"""

import functools
import itertools
import math

import numpy as np
import pytest

from minigrad.privacy import dp

dp_accounting = pytest.importorskip("dp_accounting", reason="dp-accounting is not installed")
mpmath = pytest.importorskip("mpmath", reason="mpmath is not installed")
from dp_accounting.rdp import rdp_privacy_accountant  # noqa: E402

INTEGER_ORDERS = [2, 3, 4, 5, 8, 12, 16, 24, 32, 48, 64, 128, 256]
GRID = list(itertools.product([1e-5, 1e-3, 0.01, 0.1, 0.5, 1.0],   # q, 1 = no sampling
                              [0.5, 0.8, 1.0, 2.0, 10.0],          # sigma
                              [1, 1000, 10 ** 6]))                 # steps


def oracle(q, sigma, steps, orders):
    accountant = rdp_privacy_accountant.RdpAccountant(orders=orders)
    event = dp_accounting.PoissonSampledDpEvent(q, dp_accounting.GaussianDpEvent(sigma))
    accountant.compose(event, count=steps)
    return accountant


@functools.cache
def exact_integer_rdp(q, sigma):
    """One step's RDP at INTEGER_ORDERS from the binomial sum
    A_alpha = sum_k C(alpha, k) (1 - q)^(alpha - k) q^k exp((k^2 - k) / (2 sigma^2)), 80 digits."""
    out = []
    with mpmath.workdps(80):
        q_, s2 = mpmath.mpf(q), 2 * mpmath.mpf(sigma) ** 2
        for alpha in INTEGER_ORDERS:
            a = mpmath.fsum(mpmath.binomial(alpha, k) * (1 - q_) ** (alpha - k) * q_ ** k
                            * mpmath.exp(mpmath.mpf(k * k - k) / s2) for k in range(alpha + 1))
            out.append(float(mpmath.log(a) / (alpha - 1)))
    return np.array(out)


@pytest.mark.parametrize("q,sigma,steps", GRID)
def test_integer_orders_agree_with_dp_accounting_and_the_exact_sum(q, sigma, steps):
    ours = dp.compute_rdp(q, sigma, steps, INTEGER_ORDERS)
    theirs = np.asarray(oracle(q, sigma, steps, INTEGER_ORDERS)._rdp, dtype=np.float64)
    exact = steps * exact_integer_rdp(q, sigma)
    assert np.isfinite(ours).all() and np.isfinite(theirs).all()
    np.testing.assert_allclose(ours, exact, rtol=1e-13, atol=0)
    # dp-accounting sums the series' terms directly, so where the RDP is tiny (large sigma,
    # small q: A_alpha - 1 ~ 1e-12) it loses digits to cancellation; there, agreement to
    # 1e-10 is not possible, and ours must be the closer of the two to the exact sum
    their_error = np.abs(theirs - exact) / exact
    close = their_error <= 1e-10
    np.testing.assert_allclose(ours[close], theirs[close], rtol=1e-10, atol=0)
    assert (np.abs(ours - exact)[~close] < np.abs(theirs - exact)[~close]).all()


@pytest.mark.parametrize("q,sigma,steps", GRID[::4])
@pytest.mark.parametrize("delta", [1e-5, 1e-9])
def test_epsilon_at_integer_orders_agrees_with_dp_accounting(q, sigma, steps, delta):
    eps, order = dp.rdp_epsilon(q, sigma, steps, delta, orders=INTEGER_ORDERS)
    accountant = oracle(q, sigma, steps, INTEGER_ORDERS)
    their_eps, their_order = accountant.get_epsilon_and_optimal_order(delta)
    assert order == their_order
    assert eps == pytest.approx(their_eps, rel=1e-10, abs=1e-12)


def log_a_mpmath(q, sigma, alpha):
    """log A_alpha = log E_{z ~ N(0, sigma^2)}[((1 - q) + q exp((2z - 1) / (2 sigma^2)))^alpha],
    integrated numerically with 60 significant digits."""
    with mpmath.workdps(60):
        q, s, a = mpmath.mpf(q), mpmath.mpf(sigma), mpmath.mpf(alpha)

        def integrand(z):
            return mpmath.npdf(z, 0, s) * ((1 - q) + q * mpmath.exp((2 * z - 1) / (2 * s * s))) ** a

        # split where the integrand changes shape: 0, the mixture's crossing point, and alpha
        # (the peak of the shifted Gaussian raised to the power alpha)
        z0 = s ** 2 * mpmath.log(1 / q - 1) + mpmath.mpf(1) / 2
        points = sorted({-mpmath.inf, mpmath.mpf(0), z0, a, mpmath.inf})
        return mpmath.log(mpmath.quad(integrand, points))


FRACTIONAL = [(0.5, 0.3, 1.5), (0.5, 0.3, 2.5), (0.5, 0.3, 4.75), (0.01, 1.1, 3.5),
              (0.1, 4.0, 10.5), (0.3, 2.0, 20.5), (0.001, 0.8, 1.25), (0.05, 1.0, 1.1),
              (0.2, 0.7, 6.5), (0.01, 0.5, 2.25)]


@pytest.mark.parametrize("q,sigma,alpha", FRACTIONAL)
def test_fractional_orders_match_a_60_digit_integral(q, sigma, alpha):
    # the series is cut once its terms fall below exp(-30) ~ 1e-13 of A ~ 1: an absolute
    # error of about 1e-13 in log A, which is also a relative 1e-10 wherever log A > 1e-3
    ours = dp.compute_rdp(q, sigma, 1, [alpha])[0] * (alpha - 1)
    exact = float(log_a_mpmath(q, sigma, alpha))
    assert abs(ours - exact) <= max(1e-10 * abs(exact), 2e-13), (ours, exact)


def test_the_review_case_where_dp_accounting_overstates_epsilon():
    # q = 0.5, sigma = 0.3, 100 steps, delta = 1e-6 at fractional orders: the exact series
    # (ours, checked against the integral above) against dp-accounting's bound
    orders = [1.25, 1.5, 1.75, 2.5, 3.5]
    rdp = dp.compute_rdp(0.5, 0.3, 100, orders)
    exact = np.array([100 * float(log_a_mpmath(0.5, 0.3, a)) / (a - 1) for a in orders])
    np.testing.assert_allclose(rdp, exact, rtol=1e-10)
    theirs = np.asarray(oracle(0.5, 0.3, 100, orders)._rdp)
    assert (theirs >= rdp * (1 - 1e-12)).all()  # an upper bound: never below the exact value
    assert theirs.max() > 1.2 * rdp[np.argmax(theirs)]  # ... and a loose one at some order
    eps_ours, _ = dp.rdp_epsilon(0.5, 0.3, 100, 1e-6, orders=orders)
    eps_theirs, _ = oracle(0.5, 0.3, 100, orders).get_epsilon_and_optimal_order(1e-6)
    assert math.isfinite(eps_ours) and eps_ours < eps_theirs
