"""Every script in examples/ runs, exits 0, and prints what the notes say.

Each script runs in a subprocess with this interpreter, the source tree's ``python/`` on
PYTHONPATH, matplotlib's Agg backend and a temporary working directory for its outputs.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import bpcore
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def run(script: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    package_dir = str(Path(bpcore.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_dir, env.get("PYTHONPATH")) if p)
    env["MPLBACKEND"] = "Agg"
    env["PYTHONIOENCODING"] = "utf-8"
    return subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=300,
    )


def test_every_example_is_tested():
    scripts = sorted(p.name for p in EXAMPLES.glob("*.py"))
    assert scripts == [
        "activations.py",
        "bp_by_hand.py",
        "optimizers.py",
        "single_layer_is_linear.py",
        "tfidf_text.py",
        "train_iris.py",
    ]
    readme = (EXAMPLES / "README.md").read_text(encoding="utf-8")
    for name in scripts:
        assert name in readme


def test_no_example_imports_a_private_module():
    for script in EXAMPLES.glob("*.py"):
        text = script.read_text(encoding="utf-8")
        for private in ("bpcore._loader", "bpcore._core", "bpcore._names", "from bpcore import _"):
            assert private not in text, f"{script.name} uses {private}"


def test_single_layer_is_linear(tmp_path):
    r = run("single_layer_is_linear.py", cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout
    assert "sigmoid  o = (0.73106, 0.99995, 0.88080)  ->  class 2" in out
    assert "argmax gives class 2" in out
    assert out.count("->  class 2") == 4  # sigmoid, tanh, relu, identity
    best = float(re.search(r"best accuracy over seeds 0-19: ([0-9.]+)", out).group(1))
    assert best <= 0.75
    assert re.search(r"2-2-1 \(one hidden layer of 2\), seed 0: J = [0-9.]+, accuracy 1\.00", out)
    solved = int(re.search(r"2-2-1 solves XOR for (\d+) of the 20 seeds", out).group(1))
    assert 1 <= solved <= 20
    assert "all claims hold" in out


def test_activations_writes_the_png(tmp_path):
    out_png = tmp_path / "figs" / "act.png"
    out_png.parent.mkdir()
    r = run("activations.py", str(out_png), cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    data = out_png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    assert "160 points" in r.stdout
    assert re.search(r"sigmoid +f′\(-8\) = 0\.000335 +f′\(0\) = 0\.25", r.stdout)
    assert re.search(r"tanh +f′\(-8\) = 4\.5e-07 +f′\(0\) = 1 ", r.stdout)
    # the second figure: every hidden activation
    assert (out_png.parent / "act_all.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "every hidden activation, " + ", ".join(bpcore.HIDDEN_ACTIVATIONS) in r.stdout
    # default output path: the working directory
    r = run("activations.py", cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert (tmp_path / "activations.png").read_bytes()[:4] == b"\x89PNG"


def _notes_step():
    """The step bp_by_hand.py shows, taken here in-process."""
    net = bpcore.Network(
        [4, 5, 3],
        activation="sigmoid",
        output_activation="sigmoid",
        loss="mse",
        init="small_uniform",
        seed=0,
    )
    x = bpcore.datasets.load_iris().X[0]
    return net.trace(x, np.array([1.0, 0.0, 0.0]), lr=0.5, update=True)


def test_bp_by_hand(tmp_path):
    r = run("bp_by_hand.py", cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout
    assert "FAIL" not in out
    n_checks = int(re.search(r"All (\d+) checks passed", out).group(1))
    assert n_checks == out.count("[ok]") >= 40
    # every quantity of the derivation is printed and checked
    for quantity in (
        [f"z_{j}^[1] = " for j in range(1, 6)]
        + [f"h_{j}^[1] = σ(" for j in range(1, 6)]
        + [f"z_{k}^[2] = " for k in range(1, 4)]
        + [f"ŷ_{k} = h_{k}^[2] = σ(" for k in range(1, 4)]
        + ["e = (", "J = ½ ("]
        + [f"δ_{k}^[2] = " for k in range(1, 4)]
        + [f"δ_{i}^[1] = (" for i in range(1, 6)]
        + [
            "∂J/∂w_11^[1] = −δ_1^[1] h_1^[0]",
            "∂J/∂W^[1] = −h^[0]ᵀ δ^[1], all 20 entries (4×5)  [ok]",
            "∂J/∂W^[2] = −h^[1]ᵀ δ^[2], all 15 entries (5×3)  [ok]",
            "∂J/∂b^[1] = −δ^[1]",
            "∂J/∂b^[2] = −δ^[2]",
            "w_ij ← w_ij + α δ_j h_i",
            "all of W^[1] (4×5) and b^[1] after the step: W [ok] b [ok]",
            "J after < J before [ok]",
            "gradcheck passed",
        ]
    ):
        assert quantity in out, quantity
    # the printed numbers are the core's
    t = _notes_step()
    assert f"J before = {t.J_before:.6f},  J after = {t.J_after:.6f}" in out
    assert f"= {t[1].Z[0, 0]:.6f}  [ok]" in out
    assert f"= {t[2].delta[0, 2]:.6f}  f′ [ok] δ [ok]" in out
    assert f"e = ({t.E[0, 0]:.6f}, {t.E[0, 1]:.6f}, {t.E[0, 2]:.6f})" in out


def test_docs_show_the_real_output_of_bp_by_hand(tmp_path):
    """Every checked line quoted in docs/backprop.md is a line the script prints today."""
    out = run("bp_by_hand.py", cwd=tmp_path).stdout.splitlines()
    doc = (ROOT / "docs" / "backprop.md").read_text(encoding="utf-8")
    quoted, inside = [], False
    for line in doc.splitlines():
        if line.startswith("```"):
            inside = not inside
        elif inside and "[ok]" in line:
            quoted.append(line)
    assert len(quoted) >= 35
    missing = [line for line in quoted if line not in out]
    assert not missing, missing


def test_bp_by_hand_exits_nonzero_when_a_check_fails(tmp_path):
    # with the notes' printed sign (w ← w − α δ h) the update disagrees with the core and J rises
    r = run("bp_by_hand.py", "--erratum", cwd=tmp_path)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "[FAIL: J falls]" in r.stdout and "[FAIL: W^[2] after]" in r.stdout
    failed = re.search(r"(\d+) of (\d+) checks FAILED: (.*)", r.stdout)
    assert failed and failed.group(3).split(", ") == [
        "W^[1] after",
        "b^[1] after",
        "W^[2] after",
        "b^[2] after",
        "J after",
        "J falls",
    ]


def test_train_iris(tmp_path):
    r = run("train_iris.py", cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout
    assert "Network([4, 5, 3], activation='sigmoid', output_activation='sigmoid', loss='mse'" in out
    m = re.search(r"stopped after (\d+) epochs \(tol\): mean J of the last epoch ([0-9.]+)", out)
    assert m and float(m.group(2)) < 0.02
    acc = re.search(r"accuracy: training ([0-9.]+), test ([0-9.]+)", out)
    assert float(acc.group(1)) >= 0.9 and float(acc.group(2)) >= 0.85


def test_train_iris_reports_when_epsilon_is_not_reached(tmp_path):
    r = run("train_iris.py", "--epochs", "2", "--tol", "0.001", cwd=tmp_path)
    assert r.returncode == 1
    assert "stopped after 2 epochs (max_epochs)" in r.stdout
    assert "J did not fall below ε = 0.001 in 2 epochs" in r.stdout


def test_optimizers_shows_j_per_iteration(tmp_path):
    r = run("optimizers.py", "--plot", "optimizers.png", cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    for name in ("sgd", "adam", "rprop", "lbfgs", "lm"):
        assert re.search(rf"^{name}\s+\d", r.stdout, re.M), name
    assert "FAIL" not in r.stdout
    assert r.stdout.count("ok   ") == 3
    assert (tmp_path / "optimizers.png").stat().st_size > 10_000


def test_tfidf_text_trains_on_sparse_features(tmp_path):
    r = run("tfidf_text.py", cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout
    assert "X is csr_matrix" in out
    density = float(re.search(r"density ([0-9.]+)%", out).group(1))
    assert density < 2.0
    test_acc = float(re.search(r"test accuracy ([0-9.]+)", out).group(1))
    assert test_acc >= 0.9
    gap = float(re.search(r"largest weight difference ([0-9.e+-]+)", out).group(1))
    assert gap < 1e-9
    assert "same test predictions: True" in out
    assert "all claims hold" in out
