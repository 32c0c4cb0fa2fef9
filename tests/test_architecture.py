"""The house rules of docs/design.md and ARCHITECTURE.md, checked on the source (AST only).

Nothing here imports a shinnet module: every check parses ``shinnet/**/*.py`` with :mod:`ast`, so
the file runs in well under a second and cannot be fooled by import side effects.

- layering: ``contract`` imports nothing from the model, zoo, activation, tensor, estimate,
  expansion, conditioning, budget, sampling, study, cli or preflight layers; ``enumerate`` nothing
  from tensors / contract / model; ``series`` nothing from contract / tensors / model / expansions
  (every import counts, function-level ones included);
- no import cycle among the modules' top-level imports (the import graph's strongly connected
  components are single modules);
- no module longer than 400 lines;
- a function-level import of a shinnet module only where :data:`LAZY_ALLOWED` says why (a heavy
  optional dependency: torch, matplotlib, or the cotengra contraction stack kept off ``import
  shinnet`` and ``shinnet --help``), each marked ``# lazy:`` in the source;
- no ``except ImportError: pass``: a missing dependency names itself.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "shinnet"
MAX_LINES = 400

#: old module paths kept as thin re-exports: an import of one counts as an import of its package
LEGACY = {
    "shinnet.shin": "shinnet.tensors.shin",
    "shinnet.power_shin": "shinnet.tensors.power_shin",
    "shinnet.cumulant_vertices": "shinnet.tensors.cumulant_vertices",
    "shinnet.shin_norms": "shinnet.kernels.norms",
    "shinnet.shin_checks": "shinnet.kernels.checks",
    "shinnet.budget_pricing": "shinnet.budget.pricing",
    "shinnet.budget_condition": "shinnet.budget.conditioned",
    "shinnet.series_terms": "shinnet.series.terms",
    "shinnet.series_tail": "shinnet.series.tail",
}

#: package -> the shinnet packages / modules it must not import (ARCHITECTURE.md, "Rules of the house")
FORBIDDEN = {
    "shinnet.contract": ("shinnet.model", "shinnet.zoo", "shinnet.activations", "shinnet.tensors",
                         "shinnet.estimate", "shinnet.expansion", "shinnet.expansions", "shinnet.conditioning",
                         "shinnet.budget", "shinnet.sampling", "shinnet.study", "shinnet.cli", "shinnet.preflight"),
    "shinnet.enumerate": ("shinnet.tensors", "shinnet.contract", "shinnet.model"),
    "shinnet.series": ("shinnet.contract", "shinnet.tensors", "shinnet.model", "shinnet.expansion",
                       "shinnet.expansions"),
}

_COTENGRA = "cotengra stack (about 1 s) kept off `import shinnet`, which binds shinnet.estimate eagerly"
_HELP = "cotengra stack kept off `shinnet --help`, which imports every shinnet.cli module"

#: (importing module, imported module) -> why the import is inside a function
LAZY_ALLOWED = {
    ("shinnet.model", "shinnet.torch_modules"): "torch (TwoLayerMLP.to_torch / from_torch only)",
    ("shinnet.validation", "shinnet.torch_modules"): "torch (checking a torch device only)",
    ("shinnet.estimate", "shinnet.conditioning"): _COTENGRA,
    ("shinnet.estimate", "shinnet.expansions"): _COTENGRA,
    ("shinnet.estimate", "shinnet.budget"): _COTENGRA,
    ("shinnet.hybrid", "shinnet.expansions"): _COTENGRA + " (and binds shinnet.hybrid eagerly)",
    ("shinnet.sampling", "shinnet.tails.importance"): "cotengra stack kept off the light sampling peers",
    ("shinnet.cli.paths", "shinnet.contract"): _HELP,
    ("shinnet.cli.paths", "shinnet.contract.plan_plots"): _HELP,
    ("shinnet.cli.paths", "shinnet.contract.report"): _HELP,
    ("shinnet.cli.study", "shinnet.study.compare"): _HELP,
    ("shinnet.cli.study", "shinnet.study.convergence"): _HELP,
    ("shinnet.cli.study", "shinnet.study.plotting"): _HELP,
    ("shinnet.cli.study", "shinnet.study.race"): _HELP,
}


@dataclass(frozen=True)
class Import:
    """One import statement's resolved target."""

    source: str  # importing module
    target: str  # imported module (the package itself for ``from pkg import name`` of a non-module)
    line: int
    end_line: int
    in_function: bool


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


MODULES = _modules()
SOURCES = {name: path.read_text() for name, path in MODULES.items()}
TREES = {name: ast.parse(text, filename=str(MODULES[name])) for name, text in SOURCES.items()}


def _is_package(name: str) -> bool:
    return MODULES.get(name, Path()).name == "__init__.py"


def _resolve(source: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = source.split(".")
    base = base if _is_package(source) else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(source: str) -> list[Import]:
    """Every import of a shinnet module in ``path``, including ``import_module("shinnet...")``."""
    out: list[Import] = []

    def add(target: str, node: ast.AST, in_function: bool) -> None:
        if target == "shinnet" or target.startswith("shinnet."):
            out.append(Import(source, target, node.lineno, node.end_lineno or node.lineno, in_function))

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                continue  # annotations only: never executed
            inner = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                for alias in child.names:
                    add(alias.name, child, in_function)
            elif isinstance(child, ast.ImportFrom):
                base = _resolve(source, child)
                for alias in child.names:
                    sub = f"{base}.{alias.name}"
                    add(sub if sub in MODULES else base, child, in_function)
            elif (isinstance(child, ast.Call) and getattr(child.func, "id", getattr(child.func, "attr", None))
                  == "import_module" and child.args and isinstance(child.args[0], ast.Constant)
                  and isinstance(child.args[0].value, str)):
                add(child.args[0].value, child, in_function)
            visit(child, inner)

    visit(TREES[source], False)
    return out


IMPORTS = {name: _imports(name) for name in MODULES}


def _ancestors(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def _graph() -> dict[str, set[str]]:
    """Module -> modules its top-level imports execute: the target, and the target's packages that
    are not the importer's own (those are already being imported when the importer runs)."""
    graph: dict[str, set[str]] = {name: set() for name in MODULES}
    for name, imports in IMPORTS.items():
        own = set(_ancestors(name)) | {name}
        for imp in imports:
            if imp.in_function or imp.target not in MODULES:
                continue
            if imp.target != name:
                graph[name].add(imp.target)
            graph[name].update(a for a in _ancestors(imp.target) if a not in own and a in MODULES)
    return graph


def _strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative; components with more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    comp = []
                    while True:
                        top = stack.pop()
                        on_stack.discard(top)
                        comp.append(top)
                        if top == node:
                            break
                    if len(comp) > 1:
                        out.append(sorted(comp))
    return out


def _inside(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def test_the_source_tree_is_found():
    assert len(MODULES) > 100 and "shinnet.contract.engine" in MODULES and "shinnet.enumerate.blocks" in MODULES
    assert sum(len(v) for v in IMPORTS.values()) > 300


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_layers_import_only_downwards(package):
    bad = []
    for name, imports in IMPORTS.items():
        if not _inside(name, package):
            continue
        for imp in imports:
            target = LEGACY.get(imp.target, imp.target)
            hit = [p for p in FORBIDDEN[package] if _inside(target, p)]
            if hit:
                bad.append(f"{name}:{imp.line} imports {imp.target}")
    assert not bad, f"{package} must not import " + ", ".join(FORBIDDEN[package]) + ":\n" + "\n".join(bad)


def test_no_import_cycle_among_top_level_imports():
    cycles = _strongly_connected(_graph())
    assert not cycles, "import cycles (strongly connected modules):\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_cycle_detection_sees_a_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert _strongly_connected(graph) == [["a", "b", "c"]]


def test_no_module_over_400_lines():
    long = {name: n for name, text in SOURCES.items() if (n := len(text.splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines: {long}"


def test_function_level_imports_only_where_allowed_and_marked():
    found: dict[tuple[str, str], list[Import]] = {}
    for imports in IMPORTS.values():
        for imp in imports:
            if imp.in_function:
                found.setdefault((imp.source, imp.target), []).append(imp)
    extra = sorted(f"{s}:{found[(s, t)][0].line} imports {t}" for s, t in found if (s, t) not in LAZY_ALLOWED)
    assert not extra, "function-level imports of shinnet modules (move them to the top):\n" + "\n".join(extra)
    stale = sorted(f"{s} -> {t}" for s, t in LAZY_ALLOWED if (s, t) not in found)
    assert not stale, "LAZY_ALLOWED lists imports that no longer exist: " + ", ".join(stale)
    unmarked = []
    for key, imps in found.items():
        lines = SOURCES[key[0]].splitlines()
        unmarked += [f"{key[0]}:{imp.line}" for imp in imps
                     if not any("# lazy:" in lines[i - 1] for i in range(imp.line, imp.end_line + 1))]
    assert not unmarked, "a function-level import says why with '# lazy: <reason>': " + ", ".join(unmarked)


def _swallows_import_error(handler: ast.ExceptHandler) -> bool:
    types = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    names = {getattr(t, "id", getattr(t, "attr", None)) for t in types if t is not None}
    return bool(names & {"ImportError", "ModuleNotFoundError"}) and all(
        isinstance(s, ast.Pass) for s in handler.body)


def test_a_missing_dependency_names_itself():
    bad = [f"{name}:{node.lineno}" for name, tree in TREES.items()
           for node in ast.walk(tree) if isinstance(node, ast.ExceptHandler)
           and node.type is not None and _swallows_import_error(node)]
    assert not bad, "'except ImportError: pass' hides a missing package: " + ", ".join(bad)
