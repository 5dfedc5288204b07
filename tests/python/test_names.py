"""The Python name tables (``bpcore/_names.py``) mirror the core's own tables, in order."""

from __future__ import annotations

import bpcore
import pytest
from bpcore import _names
from bpcore._loader import core


@pytest.mark.parametrize(
    "python_name, core_function",
    [
        ("ACTIVATIONS", "activation_names"),
        ("HIDDEN_ACTIVATIONS", "hidden_activation_names"),
        ("LOSSES", "loss_names"),
        ("INITS", "init_names"),
        ("OPTIMIZERS", "optimizer_names"),
        ("SCHEDULES", "schedule_names"),
    ],
)
def test_python_table_matches_the_core(python_name, core_function):
    ours = getattr(_names, python_name)
    theirs = getattr(core, core_function)()
    assert isinstance(ours, tuple)
    assert list(ours) == list(theirs)
    assert len(set(ours)) == len(ours)
    # the package re-exports the same table
    assert getattr(bpcore, python_name) is ours


def test_hidden_activations_are_the_activations_without_softmax():
    assert set(_names.ACTIVATIONS) - set(_names.HIDDEN_ACTIVATIONS) == {"softmax"}


def test_every_name_is_accepted_where_it_belongs():
    """Each table's names construct, and each core name reaches the core unchanged."""
    for f in core.hidden_activation_names():
        net = bpcore.Network([2, 3, 1], activation=f, output_activation="identity")
        assert net.activations[0] == f
    for f in core.activation_names():
        loss = "cross_entropy" if f == "softmax" else "mse"
        assert bpcore.Network([2, 2], output_activation=f, loss=loss).activations == [f]
    for init in core.init_names():
        assert bpcore.Network([2, 1], init=init).init == init
    for loss in core.loss_names():
        out = {"cross_entropy": "softmax", "binary_cross_entropy": "sigmoid"}.get(loss, "identity")
        assert bpcore.Network([2, 2], output_activation=out, loss=loss).loss_name == loss


def test_every_optimizer_and_schedule_name_trains():
    import numpy as np

    X = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    Y = np.array([[1.0], [1.0], [0.0]])
    for opt in core.optimizer_names():
        for schedule in core.schedule_names():
            net = bpcore.Network([2, 1], output_activation="identity", seed=1)
            hist = net.fit(X, Y, epochs=2, batch_size=None, lr=0.01, optimizer=opt,
                           lr_schedule=schedule)
            assert hist.epochs == 2
