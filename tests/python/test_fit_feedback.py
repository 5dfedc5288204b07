"""What fit shows while it trains: the progress bar, the verbose lines, metrics per epoch, and
bpcore.LivePlot; and that ``import bpcore`` stays light."""

from __future__ import annotations

import logging
import subprocess
import sys

import bpcore
import numpy as np
import pytest
from bpcore.datasets import load_iris, one_hot


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris()
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    return X, y, one_hot(y, 3)


def notes_network():
    return bpcore.Network([4, 5, 3], activation="sigmoid", output_activation="sigmoid", seed=0)


def test_metrics_accuracy_per_epoch_equals_a_recomputation(iris):
    X, y, Y = iris
    net = notes_network()
    seen = []

    def rec(n, epoch, logs):
        seen.append((logs["accuracy"], float(np.mean(n.predict(X).argmax(axis=1) == y))))

    hist = net.fit(X, Y, epochs=6, batch_size=10, lr=0.5, metrics=["accuracy"], callbacks=[rec])
    assert list(hist.metrics) == ["accuracy"] and len(hist.metrics["accuracy"]) == 6
    for (logged, recomputed), recorded in zip(seen, hist.metrics["accuracy"]):
        assert logged == recorded == pytest.approx(recomputed, abs=0)
    d = hist.to_dict()
    assert d["accuracy"] == hist.metrics["accuracy"] and "val_accuracy" not in d


def test_metrics_do_not_change_training(iris):
    X, _, Y = iris
    a, b = notes_network(), notes_network()
    ha = a.fit(X, Y, epochs=4, batch_size=8, lr=0.3)
    hb = b.fit(X, Y, epochs=4, batch_size=8, lr=0.3, metrics=["accuracy", "mae"])
    np.testing.assert_array_equal(a.parameters, b.parameters)
    assert ha.loss == hb.loss and ha.metrics == {}


def test_val_metrics_with_validation_data(iris):
    X, y, Y = iris
    net = notes_network()
    hist = net.fit(
        X[:120], Y[:120], epochs=3, lr=0.5, metrics="accuracy", validation_data=(X[120:], Y[120:])
    )
    assert set(hist.metrics) == {"accuracy", "val_accuracy"}
    assert len(hist.metrics["val_accuracy"]) == 3
    assert hist.metrics["val_accuracy"][-1] == pytest.approx(
        float(np.mean(net.predict(X[120:]).argmax(axis=1) == y[120:]))
    )


def test_mae_and_single_output_accuracy():
    X = np.array([[0.0], [1.0], [2.0], [3.0]])
    Y = np.array([[0.0], [0.0], [1.0], [1.0]])
    net = bpcore.Network([1, 1], output_activation="sigmoid", seed=0)
    hist = net.fit(X, Y, epochs=2, metrics=["accuracy", "mae"])
    Y_hat = net.predict(X)
    assert hist.metrics["mae"][-1] == pytest.approx(float(np.mean(np.abs(Y - Y_hat))))
    assert hist.metrics["accuracy"][-1] == pytest.approx(float(np.mean((Y_hat > 0.5) == (Y > 0.5))))


@pytest.mark.parametrize(
    "metrics, error, match",
    [
        (["f1"], ValueError, "metrics must be among accuracy, mae; got 'f1'"),
        (3, TypeError, "metrics must be a list"),
        ([None], ValueError, "metrics must be among"),
    ],
)
def test_bad_metrics(metrics, error, match, iris):
    X, _, Y = iris
    with pytest.raises(error, match=match):
        notes_network().fit(X, Y, epochs=1, metrics=metrics)


def test_verbose_prints_one_line_per_epoch_without_logging(iris, capsys):
    X, _, Y = iris
    logger = logging.getLogger("bpcore")
    assert not logger.handlers  # nothing configured
    notes_network().fit(
        X, Y, epochs=3, lr=0.5, verbose=True, metrics=["accuracy"], validation_fraction=0.2
    )
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("epoch 1/3: J = ") and "J_val = " in lines[0]
    assert "accuracy = " in lines[2] and "val_accuracy = " in lines[2]


def test_verbose_uses_logging_when_set_up(iris, capsys, caplog):
    X, _, Y = iris
    with caplog.at_level(logging.INFO, logger="bpcore"):
        notes_network().fit(X, Y, epochs=2, verbose=True)
    assert capsys.readouterr().out == ""
    msgs = [r.getMessage() for r in caplog.records if r.name == "bpcore"]
    assert [m.split(":")[0] for m in msgs] == ["epoch 1/2", "epoch 2/2"]


def test_not_verbose_prints_nothing(iris, capsys):
    X, _, Y = iris
    notes_network().fit(X, Y, epochs=2)
    assert capsys.readouterr().out == ""


def test_progress_bar_shows_j_and_j_val(iris, capsys):
    pytest.importorskip("tqdm")
    X, _, Y = iris
    hist = notes_network().fit(X, Y, epochs=5, lr=0.5, progress=True, validation_fraction=0.2)
    err = capsys.readouterr().err
    assert "5/5" in err and "epoch" in err
    assert f"J={hist.loss[-1]:.4g}" in err and f"J_val={hist.val_loss[-1]:.4g}" in err


def test_progress_bar_closes_on_early_stop(iris, capsys):
    pytest.importorskip("tqdm")
    X, _, Y = iris
    hist = notes_network().fit(X, Y, epochs=50, progress=True, tol=1e9)
    err = capsys.readouterr().err
    assert hist.epochs == 1 and "1/50" in err


def test_progress_must_be_a_flag(iris):
    X, _, Y = iris
    with pytest.raises(TypeError, match="progress"):
        notes_network().fit(X, Y, epochs=1, progress="yes")


# ============================================================================ LivePlot
def test_liveplot_outside_a_notebook_records_and_shows_nothing(iris, capsys):
    X, _, Y = iris
    live = bpcore.LivePlot(every=2)
    assert live.display is False
    hist = notes_network().fit(X, Y, epochs=5, metrics=["accuracy"], callbacks=[live])
    assert live.loss == hist.loss and live.metrics["accuracy"] == hist.metrics["accuracy"]
    assert live.draws == 0 and capsys.readouterr().out == ""


def test_liveplot_saves_figures_and_draws_the_regions(tmp_path, iris):
    pytest.importorskip("matplotlib")
    X, y, Y = iris
    X2 = X[:, 2:4]
    out = tmp_path / "live.png"
    live = bpcore.LivePlot(every=3, data=(X2, y), out=out)
    net = bpcore.Network([2, 4, 3], output_activation="softmax", loss="cross_entropy")
    net.fit(X2, Y, epochs=6, metrics=["accuracy"], validation_fraction=0.2, callbacks=[live])
    assert live.draws == 2 and out.stat().st_size > 1000
    fig = live.figure()
    assert len(fig.axes) == 3
    assert {ln.get_label() for ln in fig.axes[1].get_lines()} == {"accuracy", "val_accuracy"}
    assert "decision regions" in fig.axes[2].get_title()


def test_liveplot_in_a_kernel_updates_one_display(monkeypatch, iris):
    """With display on, the first draw makes one output and later draws update it in place."""
    pytest.importorskip("IPython")
    import IPython.display as ipd

    calls = []

    class Handle:
        def update(self, obj):
            calls.append(("update", type(obj).__name__))

    def fake_display(obj, display_id=False):
        calls.append(("display", type(obj).__name__, display_id))
        return Handle()

    monkeypatch.setattr(ipd, "display", fake_display)
    X, _, Y = iris
    live = bpcore.LivePlot(every=2, display=True)
    notes_network().fit(X, Y, epochs=6, callbacks=[live])
    assert calls == [("display", "Image", True), ("update", "Image"), ("update", "Image")]


def test_liveplot_errors():
    with pytest.raises(ValueError, match="every must be a positive integer"):
        bpcore.LivePlot(every=0)
    with pytest.raises(ValueError, match=r"shape \(n, 2\)"):
        bpcore.LivePlot(data=(np.zeros((3, 4)), np.zeros(3)))
    with pytest.raises(RuntimeError, match="seen no epoch"):
        bpcore.LivePlot().figure()


def test_import_bpcore_stays_light():
    code = (
        "import sys, bpcore\n"
        "net = bpcore.Network([2, 3, 1]); net.summary(); bpcore.LivePlot\n"
        "heavy = [m for m in ('matplotlib', 'tqdm', 'IPython', 'PIL') if m in sys.modules]\n"
        "print(heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
