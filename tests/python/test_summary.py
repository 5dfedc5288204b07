"""Network.summary(), the notebook view of a network, and the estimators' summary."""

from __future__ import annotations

import bpcore
import numpy as np
import pytest


def test_summary_text_of_the_453_network():
    net = bpcore.Network([4, 5, 3], seed=0)
    s = net.summary()
    text = str(s)
    lines = text.splitlines()
    assert lines[0] == "Network 4-5-3 (2 layers with weights)"
    assert lines[1] == "loss mse, dtype float64"
    assert lines[2].split() == ["layer", "n_in", "→", "n_out", "f", "W^[l]", "b^[l]", "parameters"]
    assert lines[4].split() == ["1", "4", "→", "5", "sigmoid", "4×5", "5", "25"]
    assert lines[5].split() == ["2", "5", "→", "3", "sigmoid", "5×3", "3", "18"]
    assert lines[7].split() == ["total", "35", "weights", "8", "biases", "43"]
    assert s.total_params == net.n_params == 43
    assert repr(s) == text


def test_summary_counts_prelu_alpha_and_mixed_activations():
    net = bpcore.Network(
        [3, 8, 6, 2],
        activation=["prelu", "tanh"],
        output_activation="softmax",
        loss="cross_entropy",
        dtype="float32",
    )
    s = net.summary()
    assert [r.activation for r in s.rows] == ["prelu", "tanh", "softmax"]
    assert [r.n_params for r in s.rows] == [3 * 8 + 8 + 1, 8 * 6 + 6, 6 * 2 + 2]
    assert s.total_params == net.n_params
    assert "(α: 1)" in str(s) and "dtype float32" in str(s)


def test_html_repr_is_a_table():
    net = bpcore.Network([4, 5, 3])
    html = net._repr_html_()
    assert html.startswith("<div>") and html.endswith("</div>")
    assert html.count("<tr>") == 1 + 2 + 1  # head, two layers, total
    assert "<td>4 → 5</td>" in html and "<th>43</th>" in html
    assert html == net.summary()._repr_html_() == net.summary().to_html()


def test_html_escapes():
    from bpcore._summary import summarize

    html = summarize(bpcore.Network([2, 1]), title="<b>&").to_html()
    assert "&lt;b&gt;&amp;" in html and "<b><b>" not in html


def test_repr_is_unchanged():
    net = bpcore.Network([4, 5, 3])
    assert repr(net).startswith("Network([4, 5, 3], activation=")


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("kind", ["MLPClassifier", "MLPRegressor"])
def test_sklearn_estimators_summary(kind):
    pytest.importorskip("sklearn")
    est = getattr(bpcore, kind)(hidden_layer_sizes=(6,), max_iter=3, random_state=0)
    with pytest.raises(AttributeError, match="not fitted"):
        est.summary()
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 4))
    y = (X[:, 0] > 0).astype(int) if kind == "MLPClassifier" else X[:, 0]
    est.fit(X, y)
    s = est.summary()
    assert [(r.n_in, r.n_out) for r in s.rows] == [(4, 6), (6, est.network_.sizes[-1])]
    assert s.total_params == est.network_.n_params
    assert str(s) == str(est.network_.summary())
