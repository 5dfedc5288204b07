"""scikit-learn's own estimator checks on bpcore.MLPClassifier and bpcore.MLPRegressor.

``parametrize_with_checks`` generates every API and legacy check that scikit-learn applies to a
classifier or regressor (input validation messages, cloning, pickling, fitted attributes,
sample weights, multilabel and multi-output targets, float32 and integer inputs, learning on easy
data, …). Each configuration below runs the whole suite. No check is expected to fail: the
``EXPECTED_FAILED_CHECKS`` table is empty, and with ``xfail_strict=True`` an entry that started
to pass would fail the run.
"""

from __future__ import annotations

import inspect

import pytest

sklearn = pytest.importorskip("sklearn", reason="scikit-learn is the optional peer bpcore[sklearn]")

from bpcore import MLPClassifier, MLPRegressor  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

# max_iter is kept small on purpose: "not converged" is expected here
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

# Small networks and few epochs keep the suite fast; the checks that assert learning
# (check_classifiers_train, check_regressors_train, …) still pass with these.
ESTIMATORS = [
    MLPClassifier(hidden_layer_sizes=(20,), max_iter=100, random_state=0),
    MLPRegressor(hidden_layer_sizes=(20,), max_iter=100, random_state=0),
    # plain SGD with Nesterov momentum, bpcore's per-layer activations and prelu, the adaptive
    # learning rate implemented between epochs
    MLPClassifier(
        hidden_layer_sizes=(16, 8),
        activation=["tanh", "prelu"],
        solver="sgd",
        learning_rate="adaptive",
        learning_rate_init=0.05,
        max_iter=100,
        random_state=0,
    ),
    MLPRegressor(
        hidden_layer_sizes=(16,),
        activation="logistic",
        solver="sgd",
        momentum=0.0,
        learning_rate="invscaling",
        learning_rate_init=0.2,
        power_t=0.1,
        max_iter=150,
        random_state=0,
    ),
    # the notes' loss: sigmoid outputs with J = ½ Σ_j (y_j − ŷ_j)² on one-hot targets
    MLPClassifier(
        hidden_layer_sizes=(20,), loss="mse", learning_rate_init=0.01, max_iter=100, random_state=0
    ),
]

# check name -> reason. Empty: every check passes. An entry must name what scikit-learn
# requires and why bpcore differs.
EXPECTED_FAILED_CHECKS: dict[str, dict[str, str]] = {}


def _expected_failed_checks(estimator) -> dict[str, str]:
    return EXPECTED_FAILED_CHECKS.get(type(estimator).__name__, {})


_strict = (
    {"xfail_strict": True}
    if "xfail_strict" in inspect.signature(parametrize_with_checks).parameters
    else {}
)
_expected = (
    {"expected_failed_checks": _expected_failed_checks}
    if "expected_failed_checks" in inspect.signature(parametrize_with_checks).parameters
    else {}
)


def _check_name(check) -> str:
    func = getattr(check, "func", check)
    while hasattr(func, "func"):
        func = func.func
    return func.__name__


@parametrize_with_checks(ESTIMATORS, **_expected, **_strict)
def test_sklearn_estimator_checks(estimator, check, monkeypatch):
    name = _check_name(check)
    if name in (
        "check_decision_proba_consistency",
        "check_classifiers_multilabel_output_format_decision_function",
    ):
        # These checks test decision_function and skip estimators without one. Like
        # scikit-learn's MLPClassifier, bpcore's has none: assert that instead of skipping.
        assert not hasattr(estimator, "decision_function")
        return
    if name == "check_array_api_input":
        # scikit-learn skips its array-API check unless this variable is set; with NumPy inputs
        # the check only compares results with array_api_dispatch on and off, which needs no
        # other package.
        monkeypatch.setenv("SCIPY_ARRAY_API", "1")
    check(estimator)
