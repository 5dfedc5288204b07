"""Figures: the curves drawn are the core's values; PNGs are valid images; no show()."""

from __future__ import annotations

import struct

import matplotlib

matplotlib.use("Agg")

import bpcore  # noqa: E402
import matplotlib.image as mpimg  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from bpcore import plot  # noqa: E402
from bpcore._loader import core  # noqa: E402
from bpcore.preprocessing import Preprocessing  # noqa: E402


@pytest.fixture(autouse=True)
def _no_show_and_close(monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("library code must not call show()")

    monkeypatch.setattr(plt, "show", forbidden)
    yield
    plt.close("all")


def check_png(path, min_side=100):
    """A real, non-blank PNG: signature, IHDR size, and pixels that are not all the same."""
    raw = path.read_bytes()
    assert raw[:8] == b"\x89PNG\r\n\x1a\n"
    assert raw[12:16] == b"IHDR"
    width, height = struct.unpack(">II", raw[16:24])
    assert width >= min_side and height >= min_side
    img = mpimg.imread(path)
    assert img.shape[:2] == (height, width)
    assert img.std() > 0.01
    return width, height


def test_plot_activations_draws_the_cores_values(tmp_path):
    out = tmp_path / "act.png"
    fig = plot.plot_activations(out=out)
    x = np.arange(-8, 8, 0.1)
    axes = [a for a in fig.axes if a.get_visible()]
    assert [a.get_title() for a in axes] == ["relu", "sigmoid", "tanh"]
    for a, name in zip(axes, ("relu", "sigmoid", "tanh")):
        f_line, d_line = a.get_lines()[:2]
        assert np.array_equal(f_line.get_xdata(), x)
        # the SIMD builds of the core can differ by one ulp between calls on the same input
        np.testing.assert_allclose(
            f_line.get_ydata(), core.activate(name, x, 0.25), rtol=1e-14, atol=1e-300
        )
        np.testing.assert_allclose(
            d_line.get_ydata(), core.derivative(name, x, 0.25), rtol=1e-14, atol=1e-300
        )
    # the notes' formulas, as an independent check of what is drawn
    sig = axes[1].get_lines()[0].get_ydata()
    np.testing.assert_allclose(sig, 1 / (1 + np.exp(-x)), rtol=1e-12)
    np.testing.assert_allclose(axes[2].get_lines()[1].get_ydata(), 1 - np.tanh(x) ** 2, atol=1e-12)
    check_png(out)


@pytest.mark.parametrize("name", bpcore.HIDDEN_ACTIVATIONS)
def test_plotted_derivative_matches_finite_differences(name):
    fig = plot.plot_activations([name], alpha=0.3)
    f_line, d_line = fig.axes[0].get_lines()[:2]
    x, fx, dx = f_line.get_xdata(), f_line.get_ydata(), d_line.get_ydata()
    h = 1e-6
    fd = (core.activate(name, x + h, 0.3) - core.activate(name, x - h, 0.3)) / (2 * h)
    away_from_kink = np.abs(x) > 1e-3
    np.testing.assert_allclose(dx[away_from_kink], fd[away_from_kink], rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(fx, core.activate(name, x, 0.3), rtol=1e-14, atol=1e-300)


def test_all_five_with_prelu_alpha_and_one_axes(tmp_path):
    fig = plot.plot_activations(
        ("relu", "sigmoid", "tanh", "prelu", "identity"), out=tmp_path / "all.png"
    )
    titles = [a.get_title() for a in fig.axes if a.get_visible()]
    assert titles == ["relu", "sigmoid", "tanh", "prelu (α = 0.25)", "identity"]
    prelu = fig.axes[3].get_lines()[0]
    assert prelu.get_ydata()[0] == pytest.approx(0.25 * -8)
    check_png(tmp_path / "all.png")
    fig2, ax = plt.subplots()
    got = plot.plot_activations(("relu", "tanh"), x=[-1.0, 0.5, 2.0], ax=ax, derivative=False)
    assert got is fig2
    assert [ln.get_label() for ln in ax.get_lines()] == ["relu(x)", "tanh(x)"]
    assert ax.get_lines()[0].get_ydata().tolist() == [0.0, 0.5, 2.0]


def test_every_hidden_activation_in_one_figure(tmp_path):
    """The list comes from the core's table: a new activation appears without editing plot.py."""
    assert not hasattr(plot, "ALL_ACTIVATIONS")
    fig = plot.plot_activations(bpcore.HIDDEN_ACTIVATIONS, out=tmp_path / "hidden.png")
    titles = [a.get_title() for a in fig.axes if a.get_visible()]
    assert titles == [f"{n} (α = 0.25)" if n == "prelu" else n for n in bpcore.HIDDEN_ACTIVATIONS]
    assert {"leaky_relu", "elu", "softplus", "gelu", "silu"} <= set(titles)
    x = np.arange(-8, 8, 0.1)
    for a, name in zip([a for a in fig.axes if a.get_visible()], bpcore.HIDDEN_ACTIVATIONS):
        f_line, d_line = a.get_lines()[:2]
        np.testing.assert_allclose(
            f_line.get_ydata(), bpcore.activate(name, x), rtol=1e-14, atol=1e-300
        )
        np.testing.assert_allclose(
            d_line.get_ydata(), bpcore.derivative(name, x), rtol=1e-14, atol=1e-300
        )
    check_png(tmp_path / "hidden.png")


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        ({"names": ["softmax"]}, ValueError, "softmax acts on whole rows"),
        ({"names": ["swish"]}, ValueError, "names must be among"),
        ({"names": []}, ValueError, "at least one"),
        ({"x": [1.0]}, ValueError, "at least two"),
        ({"x": [0.0, np.nan]}, ValueError, "finite"),
        ({"ax": "not axes"}, TypeError, "ax must be"),
        ({"out": "/tmp/act.gif"}, ValueError, "out must end in"),
    ],
)
def test_plot_activations_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        plot.plot_activations(**kwargs)


def test_plot_history_from_history_and_dict(tmp_path):
    X = np.random.default_rng(0).normal(size=(40, 2))
    Y = (X[:, :1] > 0).astype(float)
    net = bpcore.Network([2, 4, 1], seed=0)
    hist = net.fit(
        X, Y, epochs=15, lr=0.5, validation_fraction=0.25, early_stopping=True, patience=50
    )
    fig = plot.plot_history(hist, out=tmp_path / "h.png")
    ax = fig.axes[0]
    train_line, val_line = ax.get_lines()[:2]
    assert np.array_equal(train_line.get_xdata(), np.arange(1, 16))
    assert np.array_equal(train_line.get_ydata(), hist.loss)
    assert np.array_equal(val_line.get_ydata(), hist.val_loss)
    assert ax.get_ylabel() == "J"
    check_png(tmp_path / "h.png")
    fig2 = plot.plot_history({"loss": [3.0, 2.0, 1.0]}, log_scale=True)
    assert fig2.axes[0].get_yscale() == "log"
    assert len(fig2.axes[0].get_lines()) == 1
    with pytest.raises(TypeError, match="History or a dict"):
        plot.plot_history([1, 2])
    with pytest.raises(ValueError, match="no epochs"):
        plot.plot_history({"loss": []})


def test_plot_decision_regions(tmp_path):
    ds = bpcore.datasets.make_moons(120, noise=0.1, seed=0)
    prep = Preprocessing.fit(ds.X, ds.y)
    net = bpcore.Network(
        [2, 12, 2],
        activation="tanh",
        output_activation="softmax",
        loss="cross_entropy",
        init="xavier",
        seed=0,
    )
    net.fit(
        prep.transform(ds.X),
        prep.encode(ds.y),
        epochs=60,
        batch_size=8,
        lr=0.2,
        optimizer="momentum",
    )
    net.preprocessing = prep
    fig = plot.plot_decision_regions(net, ds.X, ds.y, out=tmp_path / "r.png", resolution=50)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["0", "1"]
    check_png(tmp_path / "r.png")
    assert ax.get_xlabel() == "x1" and "2-12-2" in ax.get_title()
    # without preprocessing: raw argmax
    bare = bpcore.Network([2, 3], seed=1)
    fig = plot.plot_decision_regions(bare, ds.X, resolution=20)
    assert fig.axes[0].get_xlabel() == "x1"
    with pytest.raises(ValueError, match="2 inputs"):
        plot.plot_decision_regions(bpcore.Network([3, 2]), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="shape \\(n, 2\\)"):
        plot.plot_decision_regions(bare, np.zeros((4, 3)))
    with pytest.raises(ValueError, match="resolution"):
        plot.plot_decision_regions(bare, ds.X, resolution=1)


def test_decision_regions_follow_the_network():
    # a linear network whose boundary is x1 = 0: left of it class 0, right class 1
    net = bpcore.Network([2, 2], output_activation="sigmoid")
    net.weights[0][...] = [[-5.0, 5.0], [0.0, 0.0]]
    net.biases[0][...] = 0.0
    X = np.array([[-1.0, -1.0], [1.0, 1.0]])
    fig = plot.plot_decision_regions(net, X, [0, 1], resolution=11)
    cs = fig.axes[0].collections[0]  # the filled regions; allsegs[k] are the polygons of class k
    x0 = np.concatenate([seg[:, 0] for seg in cs.allsegs[0]])
    x1 = np.concatenate([seg[:, 0] for seg in cs.allsegs[1]])
    # grid x from -1.2 to 1.2 in steps of 0.24; the painted boundary lies between 0 and 0.24
    assert x0.min() == pytest.approx(-1.2) and 0 < x0.max() < 0.24
    assert 0 < x1.min() < 0.24 and x1.max() == pytest.approx(1.2)


def test_pngs_are_written_atomically(tmp_path, monkeypatch):
    out = tmp_path / "a.png"
    plot.plot_activations(out=out)
    before = out.read_bytes()

    def boom(fd):
        raise OSError("no space")

    monkeypatch.setattr("bpcore._atomic.os.fsync", boom)
    with pytest.raises(OSError, match="no space"):
        plot.plot_activations(["tanh"], out=out)
    monkeypatch.undo()
    assert out.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["a.png"]
