"""The structure of the package python/bpcore, read from its source with ``ast``.

Rules checked here:

1. **No import cycle** among the modules of ``bpcore``, counting imports inside functions. An edge
   A → B is any ``import bpcore.B``, ``from bpcore.B import …``, ``from .B import …`` or
   ``from . import B`` anywhere in A; ``from . import name`` of a name that is not a module is an
   edge to the package ``__init__``. Imports under ``if TYPE_CHECKING:`` are left out: they never
   run.
2. **No cross-module private read**: no ``x._name`` attribute access where ``x`` is not ``self``
   or ``cls``, whatever ``x`` is (another object, a sibling module). Dunder names
   (``__getstate__``, ``__dict__``) are not private. The one exception is ``core``, the compiled
   module ``bpcore._core`` (private to the package as a whole): its attributes may be read. The
   other is scikit-learn's ``_label_binarizer``: a fitted ``MLPClassifier`` keeps its label
   encoding there, its ``predict`` needs it, and scikit-learn has no public way to set it, so the
   conversion to a scikit-learn estimator writes it (``THIRD_PARTY_PRIVATE``).
3. **No private name imported from a public module**: ``from .m import _name`` is allowed only
   when ``m`` is itself private (``_modelfile``, ``_validation``, ...), i.e. a module made to be
   used by its siblings.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "python" / "bpcore"
MODULES = {p.stem: p for p in sorted(PACKAGE.glob("*.py"))}


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    ids: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for stmt in node.body:
                ids.update(id(sub) for sub in ast.walk(stmt))
    return ids


def _imports(name: str, tree: ast.AST) -> list[tuple[str, list[str], int]]:
    """(target module, names imported, line) of every bpcore import of module ``name``."""
    skip = _type_checking_nodes(tree)
    out = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.ImportFrom):
            names = [a.name for a in node.names]
            if node.level == 1 and node.module:
                out.append((node.module.split(".")[0], names, node.lineno))
            elif node.level == 1:
                for n in names:
                    out.append((n if n in MODULES else "__init__", [n], node.lineno))
            elif node.module and node.module.split(".")[0] == "bpcore":
                parts = node.module.split(".")
                out.append((parts[1] if len(parts) > 1 else "__init__", names, node.lineno))
        elif isinstance(node, ast.Import):
            for a in node.names:
                parts = a.name.split(".")
                if parts[0] == "bpcore":
                    out.append((parts[1] if len(parts) > 1 else "__init__", [], node.lineno))
    return [(m, n, line) for m, n, line in out if m in MODULES and m != name]


def _trees() -> dict[str, ast.AST]:
    return {name: ast.parse(path.read_text(encoding="utf-8")) for name, path in MODULES.items()}


def import_graph() -> dict[str, set[str]]:
    """Module → the bpcore modules it imports (also inside functions, not TYPE_CHECKING-only)."""
    return {name: {m for m, _, _ in _imports(name, tree)} for name, tree in _trees().items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of ``graph`` as a list of modules (first = last), or None."""
    state: dict[str, int] = {}  # 1: on the path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state:
            found = visit(start)
            if found:
                return found
    return None


THIRD_PARTY_PRIVATE = {"_label_binarizer"}


def private_reads() -> list[str]:
    """``module:line: expression`` of every ``x._name`` with x not self/cls (nor ``core``)."""
    found = []
    for name, tree in _trees().items():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Attribute):
                continue
            attr = node.attr
            if not attr.startswith("_") or (attr.startswith("__") and attr.endswith("__")):
                continue
            if attr in THIRD_PARTY_PRIVATE:
                continue
            base = node.value
            if isinstance(base, ast.Name) and base.id in ("self", "cls", "core"):
                continue
            found.append(f"{name}:{node.lineno}: {ast.unparse(node)}")
    return found


def private_imports() -> list[str]:
    """``module:line: from .m import _name`` where m is a public module."""
    found = []
    for name, tree in _trees().items():
        for target, names, line in _imports(name, tree):
            if target.startswith("_"):
                continue
            for n in names:
                if n.startswith("_") and not n.startswith("__"):
                    found.append(f"{name}:{line}: from .{target} import {n}")
    return found


def test_the_package_is_found():
    assert {"network", "training", "glassbox", "io", "_validation"} <= set(MODULES)


def test_no_import_cycle():
    graph = import_graph()
    assert "network" in graph["io"], "the scan should see io's import of network"
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_no_cross_module_private_attribute_read():
    assert private_reads() == []


def test_no_private_name_imported_from_a_public_module():
    assert private_imports() == []


# ---- the checks themselves catch what they are for
def test_find_cycle_finds_a_cycle_and_none_in_a_tree():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


@pytest.mark.parametrize(
    "source,expected",
    [
        ("def f(net):\n    return net._net\n", 1),
        ("def f(self):\n    return self._net\n", 0),
        ("def f(net):\n    return net.__dict__\n", 0),
        ("def f():\n    return core._thing\n", 0),
    ],
)
def test_private_read_scan(source, expected, tmp_path, monkeypatch):
    (tmp_path / "m.py").write_text(source)
    monkeypatch.setattr(sys.modules[__name__], "MODULES", {"m": tmp_path / "m.py"})
    assert len(private_reads()) == expected


def test_function_level_imports_are_edges_and_type_checking_ones_are_not(tmp_path, monkeypatch):
    (tmp_path / "a.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .b import B\n"
    )
    (tmp_path / "b.py").write_text(
        "def f():\n    from .a import g\n    from . import __version__\n"
    )
    (tmp_path / "__init__.py").write_text("")
    monkeypatch.setattr(
        sys.modules[__name__], "MODULES", {p.stem: p for p in tmp_path.glob("*.py")}
    )
    graph = import_graph()
    assert graph["a"] == set() and graph["b"] == {"a", "__init__"}
