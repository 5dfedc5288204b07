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


# ============================================================================ the network drawn
def _neurons(fig, gid="neuron"):
    from matplotlib.patches import Circle, FancyBboxPatch

    kind = Circle if gid == "neuron" else FancyBboxPatch
    return [p for a in fig.axes for p in a.patches if isinstance(p, kind) and p.get_gid() == gid]


def _edge_collections(fig):
    from matplotlib.collections import LineCollection

    return [
        c
        for a in fig.axes
        for c in a.collections
        if isinstance(c, LineCollection) and c.get_gid() == "edges"
    ]


def _texts(fig):
    return [t.get_text() for a in fig.axes for t in a.texts]


def notes_453():
    net = bpcore.Network([4, 5, 3], seed=0)
    x = bpcore.datasets.load_iris().X[0]
    return net, net.trace(x, [1.0, 0.0, 0.0], lr=0.5)


def test_plot_network_453_counts_labels_and_png(tmp_path):
    net = bpcore.Network([4, 5, 3], seed=0)
    out = tmp_path / "net.png"
    fig = plot.plot_network(net, out=out)
    w, h = check_png(out, min_side=200)
    assert w > h  # columns side by side
    assert len(_neurons(fig)) == 4 + 5 + 3
    edges = _edge_collections(fig)
    assert [len(c.get_segments()) for c in edges] == [4 * 5, 5 * 3]
    texts = _texts(fig)
    for label in ("$x_{1}$", "$x_{4}$", "$h_{1}^{[1]}$", "$h_{5}^{[1]}$", "$\\hat{y}_{3}$"):
        assert label in texts
    assert not _neurons(fig, "bias")


def test_plot_network_edges_follow_w():
    net = bpcore.Network([2, 3], seed=0)
    net.weights[0][...] = np.array([[1.0, -1.0, 0.0], [0.5, -0.25, 0.0]])
    fig = plot.plot_network(net)
    (lc,) = _edge_collections(fig)
    widths = np.asarray(lc.get_linewidths())
    colors = np.asarray(lc.get_colors())
    # the segments are (i, j) in row order: W[0,0] = 1 is the widest, red; W[0,1] = -1 as wide, blue
    assert widths[0] == pytest.approx(widths.max()) and widths[1] == pytest.approx(widths.max())
    assert widths[2] == pytest.approx(widths.min())
    assert colors[0][0] > colors[0][2] and colors[1][2] > colors[1][0]
    assert widths[3] > widths[4] > widths[5]


def test_plot_network_bias_nodes():
    net = bpcore.Network([4, 5, 3], seed=0)
    fig = plot.plot_network(net, bias=True)
    assert len(_neurons(fig, "bias")) == 2  # one above the inputs of each layer
    assert [len(c.get_segments()) for c in _edge_collections(fig)] == [4 * 5 + 5, 5 * 3 + 3]


def test_plot_network_with_trace_colours_the_neurons_by_delta(tmp_path):
    net, t = notes_453()
    out = tmp_path / "delta.png"
    fig = plot.plot_network(net, t, out=out)
    check_png(out, min_side=200)
    circles = _neurons(fig)
    inputs, hidden, outputs = circles[:4], circles[4:9], circles[9:]
    white = (1.0, 1.0, 1.0, 1.0)
    assert all(c.get_facecolor() == white for c in inputs)  # no δ^[0]
    assert all(c.get_facecolor() != white for c in outputs)
    # δ^[2] = (0.129, −0.129, −0.119): the first output has the other sign, so another colour
    assert outputs[0].get_facecolor() != outputs[1].get_facecolor()
    # δ^[1]_4 > 0 > δ^[1]_1
    assert hidden[3].get_facecolor() != hidden[0].get_facecolor()
    texts = _texts(fig)
    assert f"{t[2].delta[0, 0]:.3g}" in texts and f"{t[1].delta[0, 3]:.3g}" in texts
    title = fig.axes[0].get_title()
    assert "δ^[l] of sample 1" in title and "0.381" in title
    labels = [a.get_ylabel() for a in fig.axes[1:]]
    assert any("δ^[l]" in s for s in labels) and any("W^[l]" in s for s in labels)


def test_plot_network_edges_by_gradient_and_update():
    net, t = notes_453()
    for show, attr in (("dJ_dW", "dJ_dW"), ("Delta_W", "Delta_W"), ("W_after", "W_after")):
        fig = plot.plot_network(net, t, show=show, neurons="H")
        edges = _edge_collections(fig)
        for lc, layer in zip(edges, t):
            widths = np.asarray(lc.get_linewidths())
            vals = np.abs(getattr(layer, attr)).ravel()
            assert int(np.argmax(widths)) == int(np.argmax(vals))
        # H colours the inputs too (by x)
        assert all(c.get_facecolor() != (1.0, 1.0, 1.0, 1.0) for c in _neurons(fig)[:4])
        plt.close(fig)


def test_plot_network_summarises_large_layers():
    net = bpcore.Network([30, 64, 10], seed=0)
    fig = plot.plot_network(net, max_neurons=12)
    assert len(_neurons(fig)) == 12 + 12 + 10
    assert [len(c.get_segments()) for c in _edge_collections(fig)] == [144, 120]
    texts = _texts(fig)
    assert "18 more" in texts and "52 more" in texts and texts.count("⋮") == 2
    assert "$h_{64}^{[1]}$" in texts and "$x_{30}$" in texts and "$h_{7}^{[1]}$" not in texts


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"show": "Z"}, ValueError, "show must be one of"),
        ({"show": "dJ_dW"}, ValueError, "needs a trace"),
        ({"neurons": "delta"}, ValueError, "needs a trace"),
        ({"trace": "not a trace"}, TypeError, "trace must be a bpcore Trace"),
        ({"max_neurons": 1}, ValueError, "max_neurons"),
        ({"scale": "log"}, ValueError, "scale must be"),
        ({"ax": "axes"}, TypeError, "ax must be"),
    ],
)
def test_plot_network_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        plot.plot_network(bpcore.Network([4, 5, 3]), **kwargs)


def test_plot_network_trace_must_fit_the_network():
    _, t = notes_453()
    with pytest.raises(ValueError, match="other layer sizes"):
        plot.plot_network(bpcore.Network([4, 6, 3]), t)
    with pytest.raises(ValueError, match="sample must be in 0"):
        plot.plot_network(bpcore.Network([4, 5, 3]), t, sample=1)
    with pytest.raises(ValueError, match="neurons must be one of"):
        plot.plot_network(bpcore.Network([4, 5, 3]), t, neurons="E")


# ============================================================================ history, regression
def test_plot_history_draws_the_metrics_panel():
    X, y = bpcore.datasets.make_xor()
    Y = np.eye(2)[y]
    net = bpcore.Network([2, 4, 2], output_activation="softmax", loss="cross_entropy")
    hist = net.fit(X, Y, epochs=7, metrics=["accuracy"], validation_data=(X, Y))
    fig = plot.plot_history(hist)
    assert len(fig.axes) == 2
    lines = {ln.get_label(): ln for ln in fig.axes[1].get_lines()}
    assert set(lines) == {"accuracy", "val_accuracy"}
    np.testing.assert_allclose(lines["accuracy"].get_ydata(), hist.metrics["accuracy"])
    np.testing.assert_array_equal(lines["accuracy"].get_xdata(), np.arange(1, 8))
    # the dict form (History.to_dict(), as saved in history.json) draws the same
    assert len(plot.plot_history(hist.to_dict()).axes) == 2
    # a run's history.json also holds the final evaluation under "metrics": not an epoch series
    d = hist.to_dict()
    d["metrics"] = {"train": {"accuracy": 1.0, "loss": 0.1}}
    assert len(plot.plot_history(d).axes) == 2


def test_plot_predictions_1d(tmp_path):
    x = np.linspace(-2, 2, 40).reshape(-1, 1)
    Y = 0.5 * x
    net = bpcore.Network([1, 4, 1], activation="tanh", output_activation="identity", seed=0)
    net.fit(x, Y, epochs=50, lr=0.1, optimizer="adam", batch_size=8)
    out = tmp_path / "pred.png"
    fig = plot.plot_predictions(net, x, Y, out=out)
    check_png(out)
    assert len(fig.axes) == 2
    points = fig.axes[0].collections[0].get_offsets()
    np.testing.assert_allclose(points[:, 0], Y[:, 0])
    np.testing.assert_allclose(points[:, 1], net.predict(x)[:, 0])
    curve = [ln for ln in fig.axes[1].get_lines() if ln.get_label() == "ŷ = net(x)"][0]
    xs = np.asarray(curve.get_xdata()).reshape(-1, 1)
    np.testing.assert_allclose(curve.get_ydata(), net.predict(xs)[:, 0])
    assert "RMSE" in fig.axes[0].get_title()


def test_plot_predictions_many_inputs_and_errors():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 3))
    Y = X @ np.array([[1.0, 0.0], [0.5, 1.0], [0.0, -1.0]])
    net = bpcore.Network([3, 2], activation="identity", output_activation="identity")
    fig = plot.plot_predictions(net, X, Y)
    assert len(fig.axes) == 1 and len(fig.axes[0].collections) == 2
    with pytest.raises(ValueError, match="Y must have shape"):
        plot.plot_predictions(net, X, Y[:, :1])
    with pytest.raises(ValueError, match="X must have shape"):
        plot.plot_predictions(net, X[:, :2], Y)


# ============================================================================ animation
def _gif_frames(path):
    from PIL import Image

    with Image.open(path) as im:
        return im.n_frames, im.size


def test_animate_training_gif_2d(tmp_path):
    pytest.importorskip("PIL")
    X, y = bpcore.datasets.make_xor()
    X = np.repeat(X, 5, axis=0) + np.random.default_rng(0).normal(scale=0.05, size=(20, 2))
    y = np.repeat(y, 5)
    Y = np.eye(2)[y]
    net = bpcore.Network(
        [2, 4, 2], activation="tanh", output_activation="softmax", loss="cross_entropy", seed=0
    )
    ref = net.copy()
    out = tmp_path / "train.gif"
    hist = plot.animate_training(
        net, X, Y, epochs=12, every=4, out=out, lr=0.05, optimizer="adam", batch_size=4, dpi=40
    )
    assert hist.epochs == 12 and hist.frames == 4  # before training, then epochs 4, 8, 12
    n, size = _gif_frames(out)
    assert n == 4 and size[0] > size[1] > 50
    # the animation trained the network exactly as fit does
    ref_hist = ref.fit(X, Y, epochs=12, lr=0.05, optimizer="adam", batch_size=4)
    np.testing.assert_array_equal(net.parameters, ref.parameters)
    assert hist.loss == ref_hist.loss


def test_animate_training_gif_1d_regression_and_frames_differ(tmp_path):
    pytest.importorskip("PIL")
    from PIL import Image, ImageChops

    x = np.linspace(-2, 2, 30).reshape(-1, 1)
    net = bpcore.Network([1, 5, 1], activation="tanh", output_activation="identity", seed=0)
    out = tmp_path / "fit.gif"
    hist = plot.animate_training(
        net,
        x,
        np.sin(x),
        epochs=30,
        every=10,
        out=out,
        lr=0.05,
        optimizer="adam",
        batch_size=5,
        dpi=40,
    )
    assert hist.frames == 4 and hist.path == out
    with Image.open(out) as im:
        im.seek(0)
        first = im.convert("RGB")
        im.seek(im.n_frames - 1)
        last = im.convert("RGB")
    assert ImageChops.difference(first, last).getbbox() is not None


def test_animate_training_stops_early_and_errors(tmp_path):
    pytest.importorskip("PIL")
    x = np.linspace(-1, 1, 10).reshape(-1, 1)
    net = bpcore.Network([1, 3, 1], output_activation="identity", seed=0)
    hist = plot.animate_training(
        net, x, 0 * x, epochs=50, every=20, out=tmp_path / "a.gif", tol=1e9, dpi=30
    )
    assert hist.epochs == 1 and hist.frames == 2  # before, and the epoch it stopped at
    with pytest.raises(ValueError, match="out must end in .gif or .mp4"):
        plot.animate_training(net, x, x, out=tmp_path / "a.png")
    with pytest.raises(ValueError, match="every must be a positive integer"):
        plot.animate_training(net, x, x, every=0, out=tmp_path / "a.gif")
    with pytest.raises(ValueError, match="2-D decision regions or a 1-D fit"):
        plot.animate_training(
            bpcore.Network([3, 2]), np.zeros((4, 3)), np.zeros((4, 2)), out=tmp_path / "a.gif"
        )
    assert not (tmp_path / "a.png").exists()


def test_animate_training_mp4_when_ffmpeg(tmp_path):
    from matplotlib import animation

    x = np.linspace(-1, 1, 10).reshape(-1, 1)
    net = bpcore.Network([1, 3, 1], output_activation="identity", seed=0)
    out = tmp_path / "a.mp4"
    if animation.writers.is_available("ffmpeg"):
        hist = plot.animate_training(net, x, x, epochs=4, every=2, out=out, dpi=30)
        assert hist.frames == 3 and out.stat().st_size > 0
    else:
        with pytest.raises(RuntimeError, match="needs ffmpeg"):
            plot.animate_training(net, x, x, epochs=4, every=2, out=out)
        assert not out.exists()
