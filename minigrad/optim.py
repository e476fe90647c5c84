"""Optimizers: update ``p.data`` in place from ``p.grad`` (dtype is preserved).

As in the book, ``step()`` clears the gradients afterwards (``step(zero=False)``
keeps them); ``zero_grad()`` clears them on its own. Hyper-parameters are checked
when the optimizer is made and again at every ``step`` (a schedule may change them),
and every gradient's shape before any parameter moves.
"""

import numbers

import numpy as np

from .tensor import Tensor

__all__ = ["Optimizer", "SGD", "Adam", "adam_step"]


def _check_real(owner, name, value, low, high=np.inf, low_open=False):
    """``value`` as a float in [low, high) ((low, high) if ``low_open``), else ValueError."""
    # plain comparisons: NaN fails both, and +-inf fails one (this runs at every step)
    ok = ((type(value) is float or (isinstance(value, numbers.Real)
                                     and not isinstance(value, (bool, np.bool_))))
          and (value > low if low_open else value >= low) and value < high)
    if not ok:
        bounds = f"{'(' if low_open else '['}{low:g}, {high:g})"
        raise ValueError(f"{owner}: {name}={value!r}; expected a finite number in {bounds}")
    return float(value)


def _check_adam(owner, lr, beta1, beta2, eps):
    _check_real(owner, "lr" if owner == "adam_step" else "alpha", lr, 0.0, low_open=True)
    _check_real(owner, "beta1", beta1, 0.0, 1.0)
    _check_real(owner, "beta2", beta2, 0.0, 1.0)
    # eps = 0 divides 0 by 0 wherever a gradient has always been zero: NaN parameters
    _check_real(owner, "eps", eps, 0.0, low_open=True)


class Optimizer:
    def __init__(self, parameters):
        self.parameters = list(parameters)
        first = {}
        for i, p in enumerate(self.parameters):
            if not isinstance(p, Tensor) or not p.autograd:
                raise TypeError(
                    f"{type(self).__name__}: parameter {i} must be a Tensor with "
                    f"autograd=True, got {type(p).__name__}"
                )
            j = first.setdefault(id(p), i)  # the list holds them all: ids cannot be reused
            if j != i:
                raise ValueError(
                    f"{type(self).__name__}: parameter {i} is the same Tensor as parameter "
                    f"{j}; list each parameter once (it would be stepped twice)"
                )
        self._check_hyper()

    def _check_hyper(self):
        """Raise ValueError if a hyper-parameter is out of range."""

    def zero_grad(self):
        for p in self.parameters:
            p.grad = None

    zero = zero_grad  # the book's name

    def step(self, zero=True):
        self._check_hyper()
        for i, p in enumerate(self.parameters):  # every check before the first update
            if p.grad is not None and np.shape(p.grad) != p.data.shape:
                raise ValueError(
                    f"{type(self).__name__}.step: parameter {i}'s grad has shape "
                    f"{np.shape(p.grad)}, expected {p.data.shape}"
                )
        for p in self.parameters:
            if p.grad is not None:
                self._update(p)
        if zero:
            self.zero_grad()

    def _update(self, p):  # pragma: no cover - abstract
        raise NotImplementedError


class SGD(Optimizer):
    """p <- p - alpha * grad."""

    def __init__(self, parameters, alpha=0.1):
        self.alpha = alpha
        super().__init__(parameters)

    def _check_hyper(self):
        _check_real("SGD", "alpha", self.alpha, 0.0, low_open=True)

    def _update(self, p):
        p.data -= self.alpha * p.grad


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015) with bias correction; state kept per parameter."""

    def __init__(self, parameters, alpha=0.001, beta1=0.9, beta2=0.999, eps=1e-8):
        self.alpha, self.beta1, self.beta2, self.eps = alpha, beta1, beta2, eps
        super().__init__(parameters)
        self.state = {}  # id(p) -> [step, m, v]

    def _check_hyper(self):
        _check_adam("Adam", self.alpha, self.beta1, self.beta2, self.eps)

    def _update(self, p):
        state = self.state.get(id(p))
        if state is None:  # the zeros are made once per parameter, not at every step
            state = self.state[id(p)] = [0, np.zeros_like(p.data), np.zeros_like(p.data)]
        state[0] += 1
        adam_step(p.data, p.grad, state[1], state[2], state[0], self.alpha, self.beta1,
                  self.beta2, self.eps)
        p.bump_version()  # adam_step wrote into p.data's elements: a graph saved the old ones


def adam_step(param, grad, m, v, step, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    """One Adam update of an ndarray, in place: ``param``, ``m`` and ``v`` change; -> None.

    param, m, v: arrays of one shape (0-d allowed), m and v the first and second
    moments (zeros before the first step); grad: that shape; step: this update's
    number, counting from 1 (the bias correction). ``Adam`` and the federated
    servers all step through here, so they share one rounding order. lr and eps
    must be finite and > 0, the betas in [0, 1), step an integer >= 1; nothing is
    written unless every argument is valid.
    """
    _check_adam("adam_step", lr, beta1, beta2, eps)
    if (type(step) is not int and (not isinstance(step, numbers.Integral)
                                   or isinstance(step, (bool, np.bool_)))) or step < 1:
        raise ValueError(f"adam_step: step={step!r}; expected an integer >= 1 (the first is 1)")
    shape = np.shape(param)
    for name, array in (("grad", grad), ("m", m), ("v", v)):
        if np.shape(array) != shape:
            raise ValueError(
                f"adam_step: {name} has shape {np.shape(array)}, expected the parameter's "
                f"{shape}"
            )
    # the textbook update, each operation written into a buffer instead of a new
    # temporary: the same roundings in the same order, so the same bits
    # (out= arrays, so a 0-d parameter gets arrays too, not NumPy scalars)
    tmp = np.multiply(grad, 1.0 - beta1,
                      out=np.empty(np.shape(grad), np.result_type(grad, 1.0 - beta1)))
    m *= beta1
    m += tmp                                   # m = b1 m + (1 - b1) g
    np.multiply(grad, grad, out=tmp)
    tmp *= 1.0 - beta2
    v *= beta2
    v += tmp                                   # v = b2 v + (1 - b2) g^2
    m_hat_scale = lr / (1.0 - beta1**step)
    v_hat_scale = 1.0 / (1.0 - beta2**step)
    denom = np.multiply(v, v_hat_scale, out=np.empty_like(v))
    np.sqrt(denom, out=denom)
    denom += eps
    update = np.multiply(m, m_hat_scale, out=np.empty_like(m))
    update /= denom
    param -= update                            # p -= lr m_hat / (sqrt(v_hat) + eps)
