"""Layers and losses: gradchecks, embedding gradients, parameters and state_dict."""

import numpy as np
import pytest

from minigrad import Tensor, nn
from minigrad.gradcheck import gradcheck


def make_mlp(seed=0):
    rng = np.random.default_rng(seed)
    return nn.Sequential(
        [nn.Linear(3, 4, rng=rng), nn.Tanh(), nn.Linear(4, 1, rng=rng), nn.Sigmoid()]
    )


# ---------------------------------------------------------------------------
# gradcheck of every layer and loss (float64), w.r.t. input AND parameters
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no_bias"])
def test_gradcheck_linear(rng, bias):
    layer = nn.Linear(3, 2, bias=bias, rng=rng)
    x = Tensor(rng.standard_normal((4, 3)), autograd=True)
    params = layer.get_parameters()

    result = gradcheck(lambda x, *p: layer(x), [x, *params])

    assert len(params) == (2 if bias else 1)
    assert result, repr(result)


def test_gradcheck_embedding_with_repeated_indices(rng):
    emb = nn.Embedding(5, 3, rng=rng)
    ids = np.array([[4, 1], [4, 4], [0, 1]])

    result = gradcheck(lambda w: emb(ids), [emb.weight])

    assert result, repr(result)


def test_gradcheck_sequential(rng):
    model = nn.Sequential(
        [nn.Linear(3, 4, rng=rng), nn.Tanh(), nn.Linear(4, 2, rng=rng), nn.Sigmoid()]
    )
    x = Tensor(rng.standard_normal((5, 3)), autograd=True)

    result = gradcheck(lambda x, *p: model(x), [x, *model.get_parameters()])

    assert result, repr(result)


@pytest.mark.parametrize(
    "layer", [nn.ReLU(), nn.Sigmoid(), nn.Tanh()], ids=["ReLU", "Sigmoid", "Tanh"]
)
def test_gradcheck_activation_layers(rng, layer):
    # |x| >= 0.1 keeps central differences off ReLU's kink
    x = Tensor(rng.uniform(0.1, 2.0, (3, 4)) * rng.choice([-1.0, 1.0], (3, 4)), autograd=True)

    result = gradcheck(layer, [x])

    assert result, repr(result)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_gradcheck_mse_loss(rng, reduction):
    criterion = nn.MSELoss(reduction=reduction)
    y_hat = Tensor(rng.standard_normal((4, 1)), autograd=True)
    y = Tensor(rng.standard_normal((4, 1)), autograd=True)  # gradient w.r.t. the target too

    result = gradcheck(criterion, [y_hat, y])

    assert result, repr(result)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_gradcheck_bce_loss(rng, reduction):
    criterion = nn.BCELoss(reduction=reduction)
    logits = Tensor(np.array([[-30.0], [-0.4], [1.3], [30.0]]), autograd=True)
    y = np.array([[1.0], [0.0], [1.0], [0.0]])

    result = gradcheck(lambda z: criterion(z, y), [logits])

    assert result, repr(result)


def test_gradcheck_model_with_loss(rng):
    model = make_mlp()
    X = Tensor(rng.standard_normal((6, 3)))
    y = rng.integers(0, 2, (6, 1)).astype(np.float64)
    mse = nn.MSELoss()

    result = gradcheck(lambda *p: mse(model(X), y), model.get_parameters())

    assert result, repr(result)


# ---------------------------------------------------------------------------
# losses: values and errors
# ---------------------------------------------------------------------------
def test_mse_loss_values():
    y_hat = Tensor([[1.0], [2.0], [4.0]], autograd=True)
    y = np.array([[1.0], [0.0], [1.0]])

    assert nn.MSELoss()(y_hat, y).item() == pytest.approx((0 + 4 + 9) / 3)
    assert nn.MSELoss(reduction="sum")(y_hat, y).item() == pytest.approx(13.0)


def test_bce_loss_takes_logits():
    logits = Tensor([[0.0], [2.0]], autograd=True)
    y = np.array([[1.0], [0.0]])

    loss = nn.BCELoss()(logits, y)

    expected = (np.log(2.0) + np.log1p(np.exp(2.0))) / 2
    assert loss.item() == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("criterion", [nn.MSELoss(), nn.BCELoss()], ids=["MSE", "BCE"])
def test_loss_target_shape_mismatch_names_both_shapes(criterion):
    y_hat = Tensor(np.zeros((4, 1)), autograd=True)

    with pytest.raises(ValueError) as err:
        criterion(y_hat, np.zeros(4))

    assert "(4,)" in str(err.value)
    assert "(4, 1)" in str(err.value)


def test_loss_rejects_unknown_reduction():
    with pytest.raises(ValueError, match="reduction"):
        nn.MSELoss(reduction="max")


# ---------------------------------------------------------------------------
# embedding gradients
# ---------------------------------------------------------------------------
def test_embedding_grad_is_nonzero_exactly_on_looked_up_rows(rng):
    emb = nn.Embedding(6, 3, rng=rng)
    ids = np.array([4, 1, 4, 4])

    emb(ids).backward(rng.standard_normal((4, 3)))

    touched = np.flatnonzero(np.any(emb.weight.grad != 0.0, axis=1))
    np.testing.assert_array_equal(touched, [1, 4])


def test_embedding_repeated_index_accumulates(rng):
    emb = nn.Embedding(6, 3, rng=rng)
    ids = np.array([4, 1, 4, 4])
    row_grad = np.array([0.5, -1.0, 2.0])

    emb(ids).backward(np.tile(row_grad, (4, 1)))  # the same upstream row for each lookup

    np.testing.assert_allclose(emb.weight.grad[1], row_grad)
    np.testing.assert_allclose(emb.weight.grad[4], 3.0 * row_grad)


def test_embedding_grad_sums_the_rows_of_each_lookup():
    emb = nn.Embedding(3, 2, rng=0)
    ids = np.array([[2, 0], [2, 2]])
    g = np.array([[[1.0, 2.0], [3.0, 4.0]], [[10.0, 20.0], [100.0, 200.0]]])

    emb(ids).backward(g)

    np.testing.assert_array_equal(emb.weight.grad, [[3.0, 4.0], [0.0, 0.0], [111.0, 222.0]])


def test_embedding_weight_shape_and_init_range():
    emb = nn.Embedding(10, 4, rng=0)

    assert emb.weight.shape == (10, 4)
    assert emb.weight.autograd
    assert np.all(np.abs(emb.weight.data) < 0.5 / 4)


def test_embedding_forward_looks_up_rows():
    emb = nn.Embedding(4, 2, rng=0)

    out = emb(np.array([3, 0, 3]))

    np.testing.assert_array_equal(out.data, emb.weight.data[[3, 0, 3]])


def test_embedding_out_of_range_id_names_the_index():
    emb = nn.Embedding(4, 2, rng=0)

    with pytest.raises(IndexError, match="index 9"):
        emb(np.array([1, 9]))


# ---------------------------------------------------------------------------
# parameters and state_dict
# ---------------------------------------------------------------------------
def test_sequential_parameter_names_and_order():
    model = make_mlp()

    names = list(model.state_dict())
    params = model.get_parameters()

    assert names == ["layers.0.weight", "layers.0.bias", "layers.2.weight", "layers.2.bias"]
    assert [p.shape for p in params] == [(3, 4), (4,), (4, 1), (1,)]
    assert params[0] is model.layers[0].weight
    assert params[3] is model.layers[2].bias
    for name, p in zip(names, params, strict=True):
        np.testing.assert_array_equal(model.state_dict()[name], p.data)


def test_linear_parameter_names():
    assert list(nn.Linear(3, 2, rng=0).state_dict()) == ["weight", "bias"]


def test_linear_without_bias_has_no_bias_parameter():
    layer = nn.Linear(3, 2, bias=False, rng=0)

    assert layer.bias is None
    assert list(layer.state_dict()) == ["weight"]
    assert layer.get_parameters() == [layer.weight]
    assert layer.weight.shape == (3, 2)


def test_linear_forward_is_x_w_plus_b():
    layer = nn.Linear(2, 1, rng=0)
    layer.load_state_dict({"weight": np.array([[2.0], [-1.0]]), "bias": np.array([0.5])})

    out = layer(Tensor([[1.0, 3.0]]))

    np.testing.assert_array_equal(out.data, [[2.0 - 3.0 + 0.5]])


def test_state_dict_returns_copies():
    model = make_mlp()
    before = model.layers[0].weight.data.copy()

    state = model.state_dict()
    state["layers.0.weight"][...] = 123.0

    np.testing.assert_array_equal(model.layers[0].weight.data, before)


def test_load_state_dict_roundtrip():
    source, target = make_mlp(seed=0), make_mlp(seed=1)
    X = Tensor(np.random.default_rng(2).standard_normal((5, 3)))

    state = source.state_dict()
    target.load_state_dict(state)
    state["layers.0.weight"][...] = 0.0  # the loaded model does not share the mapping's arrays

    np.testing.assert_array_equal(target(X).data, source(X).data)
    for name, value in source.state_dict().items():
        np.testing.assert_array_equal(target.state_dict()[name], value)


def test_load_state_dict_keeps_parameter_objects_and_dtype():
    layer = nn.Linear(2, 1, rng=0, dtype=np.float32)
    weight = layer.weight

    layer.load_state_dict({"weight": np.ones((2, 1)), "bias": np.zeros(1)})

    assert layer.weight is weight
    assert layer.weight.dtype == np.float32
    np.testing.assert_array_equal(layer.weight.data, [[1.0], [1.0]])


def test_load_state_dict_missing_key_raises_and_changes_nothing():
    model = make_mlp()
    before = model.state_dict()
    state = {name: value + 1.0 for name, value in before.items()}
    del state["layers.2.bias"]

    with pytest.raises(KeyError, match="layers.2.bias"):
        model.load_state_dict(state)

    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[name])


def test_load_state_dict_unexpected_key_raises():
    layer = nn.Linear(2, 1, rng=0)
    state = {**layer.state_dict(), "extra": np.zeros(1)}

    with pytest.raises(KeyError, match="extra"):
        layer.load_state_dict(state)


def test_load_state_dict_wrong_shape_raises_and_changes_nothing():
    model = make_mlp()
    before = model.state_dict()
    state = {name: value + 1.0 for name, value in before.items()}  # all keys valid...
    state["layers.2.weight"] = np.zeros((1, 4))  # ...but one shape is wrong

    with pytest.raises(ValueError) as err:
        model.load_state_dict(state)

    message = str(err.value)
    assert "layers.2.weight" in message
    assert "(1, 4)" in message and "(4, 1)" in message
    for name, value in model.state_dict().items():  # nothing half-written
        np.testing.assert_array_equal(value, before[name])


def test_layers_built_with_the_same_seed_are_identical():
    a = nn.Linear(3, 2, rng=np.random.default_rng(7))
    b = nn.Linear(3, 2, rng=np.random.default_rng(7))
    c = nn.Linear(3, 2, rng=np.random.default_rng(8))
    e1 = nn.Embedding(5, 2, rng=np.random.default_rng(7))
    e2 = nn.Embedding(5, 2, rng=np.random.default_rng(7))

    np.testing.assert_array_equal(a.weight.data, b.weight.data)
    np.testing.assert_array_equal(e1.weight.data, e2.weight.data)
    assert not np.array_equal(a.weight.data, c.weight.data)
    for name, value in make_mlp(seed=3).state_dict().items():
        np.testing.assert_array_equal(make_mlp(seed=3).state_dict()[name], value)


def test_int_seed_equals_generator_with_that_seed():
    a = nn.Linear(3, 2, rng=5)
    b = nn.Linear(3, 2, rng=np.random.default_rng(5))

    np.testing.assert_array_equal(a.weight.data, b.weight.data)


def test_shared_parameter_is_listed_once():
    emb = nn.Embedding(4, 2, rng=0)
    model = nn.Sequential([emb, emb])

    assert model.get_parameters() == [emb.weight]
    assert list(model.state_dict()) == ["layers.0.weight"]


def test_sequential_zero_grad_clears_every_parameter(rng):
    model = make_mlp()
    model(Tensor(rng.standard_normal((2, 3)))).sum().backward()
    assert all(p.grad is not None for p in model.get_parameters())

    model.zero_grad()

    assert all(p.grad is None for p in model.get_parameters())


# issue 8: the speed-ups of the embedding backward and Adam keep every result bit for bit
def test_embedding_with_padding_learns_as_before_and_owns_its_gradient():
    emb = nn.Embedding(5, 1, padding_idx=0, dtype=np.float32)
    ids = np.array([[3, 1, 0, 0], [1, 0, 0, 0]])

    emb(ids).sum(1).sum().backward()

    assert emb.weight.grad.tolist() == [[0.0], [2.0], [0.0], [1.0], [0.0]]
    assert emb.weight.grad.flags.owndata


# ------------------------------------------- load_state_dict refuses bad values (issue 17)
def _float32_mlp():
    rng = np.random.default_rng(0)
    return nn.Sequential([nn.Linear(3, 4, rng=rng, dtype=np.float32), nn.Tanh(),
                          nn.Linear(4, 1, rng=rng, dtype=np.float32)])


def _snapshot(model):
    return {name: (p, p.data.copy()) for name, p in model.named_parameters()}


def _assert_unchanged(model, snapshot):
    now = dict(model.named_parameters())
    assert now.keys() == snapshot.keys()
    for name, (param, data) in snapshot.items():
        assert now[name] is param
        assert now[name].data.dtype == data.dtype
        np.testing.assert_array_equal(now[name].data, data)


_BAD_LAST_VALUES = {
    # the last key in definition order is bad; every earlier one is a valid new value
    "strings": (np.array(["a"]), TypeError, "dtype <U1"),
    "objects": (np.array([None], dtype=object), TypeError, "dtype object"),
    "complex": (np.array([1.0 + 2.0j]), TypeError, "complex128"),
    "bool": (np.array([True]), TypeError, "dtype bool"),
    "nan": (np.array([np.nan]), ValueError, "is not finite"),
    "inf": (np.array([-np.inf]), ValueError, "is not finite"),
    "overflow": (np.array([1e40]), ValueError, "overflows float32"),
    "ragged": ([[1.0], [2.0, 3.0]], TypeError, "not an array"),
}


@pytest.mark.parametrize("case", sorted(_BAD_LAST_VALUES))
def test_load_state_dict_bad_value_in_the_last_key_changes_nothing(case):
    model = _float32_mlp()
    snapshot = _snapshot(model)
    state = {name: data + 1.0 for name, (_, data) in snapshot.items()}
    assert list(state)[-1] == "layers.2.bias"
    value, error, words = _BAD_LAST_VALUES[case]
    state["layers.2.bias"] = value

    with pytest.raises(error, match="load_state_dict: 'layers.2.bias'") as err:
        model.load_state_dict(state)

    assert words in str(err.value)
    _assert_unchanged(model, snapshot)


def test_load_state_dict_refuses_a_non_mapping_and_changes_nothing():
    model = _float32_mlp()
    snapshot = _snapshot(model)

    with pytest.raises(TypeError, match="mapping"):
        model.load_state_dict([("layers.0.weight", np.zeros((3, 4)))])

    _assert_unchanged(model, snapshot)


def test_load_state_dict_converts_ints_and_float64_exactly():
    model = _float32_mlp()
    state = {name: np.ones(p.shape, dtype=np.int64) for name, p in model.named_parameters()}
    state["layers.2.bias"] = np.array([0.25])  # float64, exactly representable in float32

    model.load_state_dict(state)

    assert model.layers[2].bias.data.dtype == np.float32
    np.testing.assert_array_equal(model.layers[2].bias.data, [0.25])
    np.testing.assert_array_equal(model.layers[0].weight.data, np.ones((3, 4)))


@pytest.mark.parametrize("bad", [2.0, -1.0, np.nan, np.inf])
def test_bce_loss_refuses_targets_outside_0_1(bad):
    # target 2 used to give a loss below 0, unbounded below as the logit grows
    logits = Tensor([[0.5], [-1.0], [3.0]], autograd=True)
    y = np.array([[1.0], [bad], [0.0]])

    for criterion in (nn.BCELoss(), nn.BCEWithLogitsLoss(reduction="none")):
        with pytest.raises(ValueError, match=r"BCE: target\[1, 0\] is .*\[0, 1\]"):
            criterion(logits, y)
    with pytest.raises(ValueError, match="BCE: target"):
        logits.bce_with_logits(y)


def test_bce_loss_refuses_non_numeric_targets_and_keeps_soft_and_bool_labels():
    logits = Tensor([0.5, -1.0], autograd=True)
    with pytest.raises(TypeError, match="BCE: target has dtype"):
        nn.BCELoss()(logits, np.array(["1", "0"]))
    with pytest.raises(TypeError, match="BCE: target has dtype"):
        nn.BCELoss()(logits, np.array([1 + 1j, 0]))
    soft = nn.BCELoss()(logits, np.array([0.25, 1.0])).item()
    hard = nn.BCELoss()(logits, np.array([True, False])).item()
    assert soft > 0 and hard > 0
