"""Optimizers: update ``p.data`` in place from ``p.grad`` (dtype is preserved).

As in the book, ``step()`` clears the gradients afterwards (``step(zero=False)``
keeps them); ``zero_grad()`` clears them on its own.
"""

import numpy as np

from .tensor import Tensor

__all__ = ["Optimizer", "SGD", "Adam", "adam_step"]


class Optimizer:
    def __init__(self, parameters):
        self.parameters = list(parameters)
        for i, p in enumerate(self.parameters):
            if not isinstance(p, Tensor) or not p.autograd:
                raise TypeError(
                    f"{type(self).__name__}: parameter {i} must be a Tensor with "
                    f"autograd=True, got {type(p).__name__}"
                )

    def zero_grad(self):
        for p in self.parameters:
            p.grad = None

    zero = zero_grad  # the book's name

    def step(self, zero=True):
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
        super().__init__(parameters)
        self.alpha = alpha

    def _update(self, p):
        p.data -= self.alpha * p.grad


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015) with bias correction; state kept per parameter."""

    def __init__(self, parameters, alpha=0.001, beta1=0.9, beta2=0.999, eps=1e-8):
        super().__init__(parameters)
        self.alpha, self.beta1, self.beta2, self.eps = alpha, beta1, beta2, eps
        self.state = {}  # id(p) -> [step, m, v]

    def _update(self, p):
        state = self.state.get(id(p))
        if state is None:  # the zeros are made once per parameter, not at every step
            state = self.state[id(p)] = [0, np.zeros_like(p.data), np.zeros_like(p.data)]
        state[0] += 1
        adam_step(p.data, p.grad, state[1], state[2], state[0], self.alpha, self.beta1,
                  self.beta2, self.eps)


def adam_step(param, grad, m, v, step, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    """One Adam update of an ndarray, in place: ``param``, ``m`` and ``v`` change; -> None.

    param, m, v: arrays of one shape (0-d allowed), m and v the first and second
    moments (zeros before the first step); grad: that shape; step: this update's
    number, counting from 1 (the bias correction). ``Adam`` and the federated
    servers all step through here, so they share one rounding order.
    """
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
