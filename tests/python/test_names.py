"""The Python name tables (``bpcore/_names.py``) are the core's own tables, in order, with their
properties; the option defaults are those of the core's structs."""

from __future__ import annotations

import bpcore
import numpy as np
import pytest
from bpcore import _names
from bpcore._loader import core


def test_python_tables_are_the_cores():
    assert list(_names.ACTIVATIONS) == [e["name"] for e in core.activation_table()]
    assert list(_names.HIDDEN_ACTIVATIONS) == [
        e["name"] for e in core.activation_table() if e["hidden"]
    ]
    assert list(_names.LOSSES) == [e["name"] for e in core.loss_table()]
    assert list(_names.OPTIMIZERS) == [e["name"] for e in core.optimizer_table()]
    assert list(_names.INITS) == core.init_names()
    assert list(_names.SCHEDULES) == core.schedule_names()
    for python_name in (
        "ACTIVATIONS",
        "HIDDEN_ACTIVATIONS",
        "LOSSES",
        "INITS",
        "OPTIMIZERS",
        "SCHEDULES",
    ):
        ours = getattr(_names, python_name)
        assert isinstance(ours, tuple)
        assert len(set(ours)) == len(ours)
        # the package re-exports the same table
        assert getattr(bpcore, python_name) is ours


def test_hidden_activations_are_the_activations_without_softmax():
    # and without exp, the output of the poisson loss
    assert set(_names.ACTIVATIONS) - set(_names.HIDDEN_ACTIVATIONS) == {"softmax", "exp"}


def test_the_new_activations_are_in_the_table():
    assert {"leaky_relu", "elu", "softplus", "gelu", "silu"} <= set(_names.HIDDEN_ACTIVATIONS)


def test_activation_properties():
    info = _names.ACTIVATION_INFO
    assert list(info) == list(_names.ACTIVATIONS)
    assert [n for n, a in info.items() if a.learnable] == ["prelu"]
    assert {n for n, a in info.items() if a.from_output} == {
        "sigmoid",
        "tanh",
        "elu",
        "softplus",
        "exp",
    }
    for name, a in info.items():
        assert a.name == name
        assert a.formula and a.derivative_formula
    with pytest.raises(AttributeError):
        info["relu"].hidden = False  # frozen


@pytest.mark.parametrize("name", [n for n, a in _names.ACTIVATION_INFO.items() if a.from_output])
def test_from_output_means_f_prime_is_a_function_of_h(name):
    """The f′ of an activation marked from_output is its formula in H = f(z)."""
    z = np.linspace(-4, 4, 41)
    h = bpcore.activate(name, z)
    d = bpcore.derivative(name, z)
    formulas = {
        "sigmoid": h * (1 - h),
        "tanh": 1 - h**2,
        "elu": np.where(h > 0, 1.0, h + 1),
        "softplus": -np.expm1(-h),
        "exp": h,
    }
    np.testing.assert_allclose(d, formulas[name], rtol=1e-12, atol=1e-15)


def test_loss_properties():
    info = _names.LOSS_INFO
    assert list(info) == list(_names.LOSSES)
    assert info["mse"].output_activation is None and not info["mse"].delta_is_error
    assert info["cross_entropy"].output_activation == "softmax"
    assert info["binary_cross_entropy"].output_activation == "sigmoid"
    for name, loss in info.items():
        assert loss.name == name
        assert loss.task in ("regression", "classification", "multilabel")
        assert loss.formula.startswith("J = ")
        # δ^[L] = Y − Ŷ only holds for the loss's own output activation
        assert not loss.delta_is_error or loss.output_activation in _names.ACTIVATIONS


def test_optimizer_options_are_config_fields():
    config = core.OptimizerConfig()
    assert list(_names.OPTIMIZER_INFO) == list(_names.OPTIMIZERS)
    for name, opt in _names.OPTIMIZER_INFO.items():
        assert opt.name == name
        if name not in ("lbfgs", "lm"):  # the two that take no learning rate
            assert opt.options[0] == "lr"
        for field in opt.options:
            assert hasattr(config, field), field
    assert _names.OPTIMIZER_INFO["adam"].options == ("lr", "beta1", "beta2", "epsilon")
    assert _names.COMMON_OPTIMIZER_OPTIONS == (
        "weight_decay",
        "schedule",
        "power_t",
        "step_size",
        "gamma",
    )
    # every field but kind is read by some rule
    read = {f for o in _names.OPTIMIZER_INFO.values() for f in o.options}
    assert read | set(_names.COMMON_OPTIMIZER_OPTIONS) | {"kind"} == set(_names.OPTIMIZER_DEFAULTS)


def test_option_defaults_are_the_cores():
    assert _names.OPTIMIZER_DEFAULTS == {
        "kind": "sgd",
        "lr": 0.5,
        "momentum": 0.9,
        "beta1": 0.9,
        "beta2": 0.999,
        "epsilon": 1e-8,
        "weight_decay": 0.0,
        "schedule": "constant",
        "power_t": 0.5,
        "step_size": 10,
        "gamma": 0.1,
        "etas": (0.5, 1.2),
        "step_sizes": (1e-6, 50.0),
        "history_size": 10,
        "max_fun": 20,
        "grad_tol": 1e-5,
        "loss_tol": 1e-12,
    }
    assert _names.EPOCH_DEFAULTS == {
        "batch_size": 1,
        "shuffle": True,
        "drop_last": False,
        "seed": 0,
        "epoch": 0,
        "n_threads": 0,
        "global_rows": 0,
        "row_offset": 0,
    }
    # a fresh struct, its fields writable
    config = core.OptimizerConfig()
    config.lr = 0.25
    config.kind = "adam"
    assert (config.lr, config.kind) == (0.25, "adam")
    assert core.OptimizerConfig().lr == 0.5
    options = core.EpochOptions()
    options.batch_size = 7
    assert options.batch_size == 7


def test_optimizer_config_sets_fields_and_the_core_validates():
    config = _names.optimizer_config(kind="adam", lr=0.1, schedule="step", step_size=3)
    assert (config.kind, config.lr, config.schedule, config.step_size) == ("adam", 0.1, "step", 3)
    assert config.beta2 == _names.OPTIMIZER_DEFAULTS["beta2"]
    assert _names.optimizer_config().lr == 0.5
    with pytest.raises(ValueError, match=r"^lr must be a positive number; got 0$"):
        _names.optimizer_config(lr=0)
    with pytest.raises(ValueError, match=r"^beta1 must be a number in \[0, 1\); got 1$"):
        _names.optimizer_config(beta1=1.0)
    with pytest.raises(ValueError, match=r"^gamma must be a number in \(0, 1\]; got 2$"):
        _names.optimizer_config(gamma=2.0)
    with pytest.raises(ValueError, match="^unknown optimizer 'rmsprop'"):
        _names.optimizer_config(kind="rmsprop")
    with pytest.raises(TypeError, match="unexpected keyword argument 'foo'"):
        _names.optimizer_config(foo=1)
    with pytest.raises(TypeError, match="^lr "):
        _names.optimizer_config(lr="fast")
    # validate_config is the one range check: a bad value set by hand is caught there
    config = core.OptimizerConfig()
    config.momentum = 1.0
    with pytest.raises(ValueError, match=r"^momentum must be a number in \[0, 1\); got 1$"):
        core.validate_config(config)
    with pytest.raises(ValueError, match="^momentum"):
        core.Optimizer64(config, 3)


def test_every_name_is_accepted_where_it_belongs():
    """Each table's names construct, and each core name reaches the core unchanged."""
    for f in _names.HIDDEN_ACTIVATIONS:
        net = bpcore.Network([2, 3, 1], activation=f, output_activation="identity")
        assert net.activations[0] == f
    for f in _names.ACTIVATIONS:
        # an output-only f^[L] with the loss that names it (softmax, exp), any other with mse
        loss = next((n for n, i in _names.LOSS_INFO.items() if i.output_activation == f), "mse")
        assert bpcore.Network([2, 2], output_activation=f, loss=loss).activations == [f]
    for init in _names.INITS:
        assert bpcore.Network([2, 1], init=init).init == init
    for loss, info in _names.LOSS_INFO.items():
        out = info.output_activation or "identity"
        assert bpcore.Network([2, 2], output_activation=out, loss=loss).loss_name == loss


def test_every_optimizer_and_schedule_name_trains():
    X = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    Y = np.array([[1.0], [1.0], [0.0]])
    for opt in _names.OPTIMIZERS:
        for schedule in _names.SCHEDULES:
            net = bpcore.Network([2, 1], output_activation="identity", seed=1)
            hist = net.fit(
                X, Y, epochs=2, batch_size=None, lr=0.01, optimizer=opt, lr_schedule=schedule
            )
            assert hist.epochs == 2


def test_epoch_result_status_is_a_core_name():
    net = core.Network64([2, 1], ["identity"], "mse")
    opt = core.Optimizer64(core.OptimizerConfig(), net.n_params)
    X = np.ones((3, 2))
    result = core.train_epoch64(net, opt, X, np.ones((3, 1)), None, core.EpochOptions())
    assert result.status == "ok"
    with pytest.raises(AttributeError):
        result.status = "nonfinite"  # read-only
