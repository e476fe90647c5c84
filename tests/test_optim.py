"""Optimizers against steps computed by hand; zeroing; skipped params; float32."""

import numpy as np
import pytest

from minigrad import Tensor, nn, optim


def test_sgd_one_step_on_literal_numbers():
    p = Tensor([1.0, 2.0], autograd=True)
    p.grad = np.array([0.5, -1.0])
    opt = optim.SGD([p], alpha=0.1)

    opt.step()

    np.testing.assert_allclose(p.data, [0.95, 2.1], rtol=1e-15)


def test_sgd_step_after_backward():
    w = Tensor([[1.0], [-1.0]], autograd=True)
    X = Tensor([[2.0, 3.0]])
    opt = optim.SGD([w], 0.5)  # the book's positional alpha

    X.mm(w).sum().backward()  # d/dw = X^T = [[2], [3]]
    opt.step()

    np.testing.assert_allclose(w.data, [[0.0], [-2.5]])


def test_adam_two_steps_match_hand_computed_formulas():
    alpha, beta1, beta2, eps = 0.1, 0.9, 0.999, 1e-8
    p = Tensor([1.0, -2.0], autograd=True)
    opt = optim.Adam([p], alpha=alpha, beta1=beta1, beta2=beta2, eps=eps)
    g1 = np.array([0.5, -1.0])
    g2 = np.array([0.1, 0.2])

    # step 1: m = 0.1 g1, v = 0.001 g1^2; bias correction turns them back into g1, g1^2,
    # so the step is alpha * g1 / |g1| = alpha * sign(g1) (up to eps)
    p.grad = g1.copy()
    opt.step()
    p1 = np.array([1.0 - 0.1 * 0.5 / (0.5 + eps), -2.0 + 0.1 * 1.0 / (1.0 + eps)])
    np.testing.assert_allclose(p.data, p1, rtol=1e-14)
    np.testing.assert_allclose(p.data, [0.9, -1.9], rtol=1e-7)

    # step 2, moments by hand:
    #   m2 = 0.9 * [0.05, -0.1] + 0.1 * [0.1, 0.2]             = [0.055, -0.07]
    #   v2 = 0.999 * [0.00025, 0.001] + 0.001 * [0.01, 0.04]   = [0.00025975, 0.001039]
    p.grad = g2.copy()
    opt.step()
    m2 = np.array([0.055, -0.07])
    v2 = np.array([0.00025975, 0.001039])
    m_hat = m2 / (1 - 0.9**2)  # / 0.19
    v_hat = v2 / (1 - 0.999**2)  # / 0.001999
    p2 = p1 - alpha * m_hat / (np.sqrt(v_hat) + eps)
    np.testing.assert_allclose(p.data, p2, rtol=1e-12)
    np.testing.assert_allclose(p.data, [0.8196960, -1.8488974], rtol=1e-6)


def test_step_zeroes_grads_by_default():
    p = Tensor([1.0], autograd=True)
    opt = optim.SGD([p], alpha=0.1)
    (p * 2.0).sum().backward()

    opt.step()

    assert p.grad is None


def test_step_zero_false_keeps_grads():
    p = Tensor([1.0], autograd=True)
    opt = optim.SGD([p], alpha=0.1)
    (p * 2.0).sum().backward()

    opt.step(zero=False)

    np.testing.assert_array_equal(p.grad, [2.0])
    np.testing.assert_allclose(p.data, [0.8])


@pytest.mark.parametrize("method", ["zero_grad", "zero"])
def test_optimizer_zero_grad_clears(method):
    p = Tensor([1.0], autograd=True)
    p.grad = np.array([3.0])
    opt = optim.SGD([p])

    getattr(opt, method)()

    assert p.grad is None


def test_sgd_skips_params_whose_grad_is_none():
    a = Tensor([1.0, 2.0], autograd=True)
    b = Tensor([3.0, 4.0], autograd=True)
    a.grad = np.array([1.0, 1.0])
    opt = optim.SGD([a, b], alpha=0.5)

    opt.step()

    np.testing.assert_array_equal(a.data, [0.5, 1.5])
    np.testing.assert_array_equal(b.data, [3.0, 4.0])


def test_adam_skips_params_whose_grad_is_none_and_keeps_their_step_count():
    a = Tensor([1.0], autograd=True)
    b = Tensor([1.0], autograd=True)
    opt = optim.Adam([a, b], alpha=0.1)

    a.grad = np.array([2.0])
    opt.step()  # b has no grad: untouched, and its Adam clock does not advance
    b_after_skip = b.data.copy()
    a.grad = np.array([2.0])
    b.grad = np.array([2.0])
    opt.step()

    np.testing.assert_array_equal(b_after_skip, [1.0])
    # b's first real step is bias-corrected as step 1: exactly alpha * sign(grad)
    np.testing.assert_allclose(b.data, [0.9], rtol=1e-7)


def test_optimizer_rejects_non_autograd_parameter():
    with pytest.raises(TypeError, match="parameter 1"):
        optim.SGD([Tensor([1.0], autograd=True), Tensor([1.0])])


# ---------------------------------------------------------------------------
# float32 parameters stay float32 through training
# ---------------------------------------------------------------------------
def _float32_model(seed):
    rng = np.random.default_rng(seed)
    emb = nn.Embedding(10, 4, rng=rng, dtype=np.float32)
    lin = nn.Linear(4, 1, rng=rng, dtype=np.float32)
    return emb, lin


@pytest.mark.parametrize(
    "make_opt",
    [lambda p: optim.SGD(p, alpha=0.1), lambda p: optim.Adam(p, alpha=0.01)],
    ids=["SGD", "Adam"],
)
@pytest.mark.parametrize(
    ("criterion", "as_tensor"),
    [(nn.MSELoss(), False), (nn.MSELoss(), True), (nn.BCELoss(), False), (nn.BCELoss(), True)],
    ids=["MSE", "MSE_float64_tensor_target", "BCE", "BCE_float64_tensor_target"],
)
def test_float32_parameters_stay_float32_through_training(make_opt, criterion, as_tensor):
    rng = np.random.default_rng(0)
    emb, lin = _float32_model(seed=1)
    params = emb.get_parameters() + lin.get_parameters()
    opt = make_opt(params)
    ids = rng.integers(0, 10, 8)
    y = rng.integers(0, 2, (8, 1)).astype(np.float64)  # labels as datasets give them
    target = Tensor(y) if as_tensor else y
    start = [p.data.copy() for p in params]

    for _ in range(5):
        loss = criterion(lin(emb(ids)), target)
        loss.backward()
        assert [p.grad.dtype for p in params] == [np.float32] * 3
        opt.step()
        assert [p.data.dtype for p in params] == [np.float32] * 3

    assert all(not np.array_equal(p.data, s) for p, s in zip(params, start, strict=True))


def test_float32_training_reduces_the_loss():
    emb, lin = _float32_model(seed=1)
    opt = optim.Adam(emb.get_parameters() + lin.get_parameters(), alpha=0.05)
    ids = np.arange(10)
    y = (ids % 2).astype(np.float32).reshape(-1, 1)
    criterion = nn.BCELoss()

    losses = []
    for _ in range(30):
        loss = criterion(lin(emb(ids)), y)
        losses.append(loss.item())
        loss.backward()
        opt.step()

    assert loss.dtype == np.float32
    assert losses[-1] < 0.5 * losses[0]


# the speed-ups of the embedding backward and Adam keep every result bit for bit
def _textbook_adam(p, g, m, v, step, alpha=1e-2, b1=0.9, b2=0.999, eps=1e-8):
    m *= b1
    m += (1.0 - b1) * g
    v *= b2
    v += (1.0 - b2) * (g * g)
    p -= alpha / (1.0 - b1**step) * m / (np.sqrt(v * (1.0 / (1.0 - b2**step))) + eps)


@pytest.mark.parametrize("shape", [(7, 3), ()])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_adam_with_buffers_is_the_textbook_update_bit_for_bit(dtype, shape):
    rng = np.random.default_rng(1)
    start = np.asarray(rng.standard_normal(shape), dtype=dtype)
    param = Tensor(start.copy(), autograd=True)
    opt = optim.Adam([param], alpha=1e-2)
    p, m, v = start.copy(), np.zeros_like(start), np.zeros_like(start)

    for step in range(1, 31):
        g = np.asarray(rng.standard_normal(shape) * 10.0 ** rng.uniform(-6, 2), dtype=dtype)
        param.grad = g.copy()
        opt.step()
        _textbook_adam(p, g, m, v, step)

    assert np.array_equal(param.data, p)
    assert opt.state[id(param)][0] == 30


@pytest.mark.parametrize("shape", [(4, 2), ()])
def test_adam_step_on_plain_arrays_is_the_textbook_update_and_changes_only_its_arguments(shape):
    rng = np.random.default_rng(2)
    param = np.asarray(rng.standard_normal(shape))
    m, v = np.zeros(shape), np.zeros(shape)
    p_ref, m_ref, v_ref = param.copy(), m.copy(), v.copy()

    for step in range(1, 6):
        g = np.asarray(rng.standard_normal(shape))
        kept = g.copy()
        optim.adam_step(param, g, m, v, step, lr=1e-2)
        _textbook_adam(p_ref, g, m_ref, v_ref, step)
        assert np.array_equal(g, kept)                   # the gradient is only read

    assert np.array_equal(param, p_ref)
    assert np.array_equal(m, m_ref) and np.array_equal(v, v_ref)
    assert isinstance(param, np.ndarray) and param.shape == shape


# ----------------------------------------------- hyper-parameters and parameters (issue 17)
def _snapshot(opt):
    return ([(p, p.data.copy(), None if p.grad is None else p.grad.copy())
             for p in opt.parameters],
            {k: [s[0], s[1].copy(), s[2].copy()] for k, s in getattr(opt, "state", {}).items()})


def _assert_unchanged(opt, snapshot):
    params, state = snapshot
    for p, data, grad in params:
        np.testing.assert_array_equal(p.data, data)
        if grad is None:
            assert p.grad is None
        else:
            np.testing.assert_array_equal(p.grad, grad)
    assert getattr(opt, "state", {}).keys() == state.keys()
    for k, (step, m, v) in state.items():
        assert opt.state[k][0] == step
        np.testing.assert_array_equal(opt.state[k][1], m)
        np.testing.assert_array_equal(opt.state[k][2], v)


@pytest.mark.parametrize("alpha", [-0.1, 0.0, np.nan, np.inf, -np.inf, "0.1", True, None])
@pytest.mark.parametrize("cls", [optim.SGD, optim.Adam])
def test_bad_learning_rate_is_refused(cls, alpha):
    with pytest.raises(ValueError, match=f"{cls.__name__}: alpha="):
        cls([Tensor([1.0], autograd=True)], alpha=alpha)


@pytest.mark.parametrize("kwargs", [
    {"beta1": 1.0}, {"beta1": -0.1}, {"beta1": np.nan}, {"beta2": 1.5}, {"beta2": 1.0},
    {"beta2": np.nan}, {"eps": 0.0}, {"eps": -1e-8}, {"eps": np.inf}, {"eps": np.nan},
])
def test_bad_adam_hyper_parameters_are_refused(kwargs):
    with pytest.raises(ValueError, match=f"Adam: {next(iter(kwargs))}="):
        optim.Adam([Tensor([1.0], autograd=True)], **kwargs)


def test_adam_with_eps_zero_used_to_make_nan_on_a_zero_gradient():
    p = Tensor([1.0, 2.0], autograd=True)
    with pytest.raises(ValueError, match="eps"):
        optim.Adam([p], eps=0.0)
    opt = optim.Adam([p], eps=1e-8)  # the default: a zero gradient moves nothing

    p.grad = np.zeros(2)
    opt.step()

    np.testing.assert_array_equal(p.data, [1.0, 2.0])


@pytest.mark.parametrize("cls", [optim.SGD, optim.Adam])
def test_a_parameter_listed_twice_is_refused(cls):
    a, b = Tensor([1.0], autograd=True), Tensor([2.0], autograd=True)

    with pytest.raises(ValueError, match="parameter 2 is the same Tensor as parameter 0"):
        cls([a, b, a])


@pytest.mark.parametrize("cls", [optim.SGD, optim.Adam])
def test_a_hyper_parameter_changed_to_nan_is_refused_at_step_and_changes_nothing(cls):
    p = Tensor([1.0, 2.0], autograd=True)
    opt = cls([p], alpha=0.1)
    p.grad = np.array([0.5, 0.5])
    opt.step(zero=False)  # Adam now has moments to protect
    snapshot = _snapshot(opt)
    opt.alpha = float("nan")

    with pytest.raises(ValueError, match="alpha=nan"):
        opt.step()

    _assert_unchanged(opt, snapshot)


@pytest.mark.parametrize("cls", [optim.SGD, optim.Adam])
def test_a_wrongly_shaped_grad_is_refused_before_any_parameter_moves(cls):
    a = Tensor([1.0, 2.0], autograd=True)
    b = Tensor([[1.0, 2.0]], autograd=True)
    opt = cls([a, b], alpha=0.1)
    a.grad = np.array([0.5, 0.5])  # fine, and listed first
    b.grad = np.array([0.5])       # would broadcast over (1, 2)
    snapshot = _snapshot(opt)

    with pytest.raises(ValueError, match="parameter 1's grad has shape"):
        opt.step()

    _assert_unchanged(opt, snapshot)


@pytest.mark.parametrize("kwargs, words", [
    ({"lr": -1e-3}, "lr="), ({"lr": np.nan}, "lr="), ({"beta1": 1.0}, "beta1="),
    ({"beta2": 1.5}, "beta2="), ({"eps": 0.0}, "eps="), ({"step": 0}, "step="),
    ({"step": 1.5}, "step="), ({"step": True}, "step="),
    ({"grad": np.ones(1)}, "grad has shape"), ({"m": np.zeros((3, 1))}, "m has shape"),
])
def test_adam_step_refuses_bad_arguments_and_writes_nothing(kwargs, words):
    args = {"param": np.array([1.0, 2.0, 3.0]), "grad": np.array([0.1, -0.2, 0.3]),
            "m": np.array([0.01, 0.02, 0.03]), "v": np.array([1e-4, 2e-4, 3e-4]),
            "step": 2, "lr": 1e-3}
    args.update(kwargs)
    before = {k: np.array(v, copy=True) for k, v in args.items() if isinstance(v, np.ndarray)}

    with pytest.raises(ValueError, match=f"adam_step: {words}"):
        optim.adam_step(**args)

    for k, v in before.items():
        np.testing.assert_array_equal(args[k], v)
