"""The package's shape: no import cycles (function-local imports included), no overlong functions."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "digitnet"
MAX_FUNCTION_LINES = 70
# Declarative tables: the argument parser and the web app's routes read as lists, not as logic.
DECLARATIVE = {"app/cli.py:build_parser", "app/serve/app.py:create_app"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def import_graph() -> dict[str, set[str]]:
    """module -> the package modules it imports, anywhere in its body."""
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text())):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")
                    base = base[:len(base) - node.level + 1]
                    prefix = ".".join(base + ([node.module] if node.module else []))
                else:
                    prefix = node.module or ""
                targets = [f"{prefix}.{a.name}" for a in node.names]  # a name that is no module trims to prefix
            for target in targets:
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    graph[name].add(target)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node):
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_the_import_graph_has_no_cycle():
    graph = import_graph()
    assert graph.get("digitnet.app.cli"), "the graph was not built"
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_cycle_finder_finds_cycles():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_module_imports_the_package_root():
    """Modules import each other directly; only users import ``digitnet`` itself, whose ``__init__``
    re-exports the public names (importing it from inside would be a cycle through it)."""
    graph = import_graph()
    offenders = sorted(m for m, targets in graph.items() if "digitnet" in targets and m != "digitnet")
    assert offenders == [], offenders


def code_lines(node: ast.FunctionDef) -> int:
    """Lines of a function from its signature to its end, not counting its docstring."""
    lines = node.end_lineno - node.lineno + 1
    first = node.body[0]
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
        lines -= first.end_lineno - first.lineno + 1
    return lines


def functions():
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                yield f"{path.relative_to(PACKAGE).as_posix()}:{node.name}", node


def test_no_function_is_over_70_lines():
    long = [f"{key} ({code_lines(node)} lines)" for key, node in functions()
            if code_lines(node) > MAX_FUNCTION_LINES and key not in DECLARATIVE]
    assert long == [], long


def test_fit_reads_in_one_screen():
    (node,) = [node for key, node in functions() if key == "training/fit.py:fit"]
    assert code_lines(node) <= 60


#: the strata, bottom up: a module may import its own stratum and those below, never one above
STRATA = ("", "data", "nn", "reading", "synthetic", "training", "run", "app")
LEAVES = {"errors", "paths", "fileio", "parallel", "version", "machine", "compiled"}  # the shared modules at the top of the tree
FACADES = {"digitnet", "digitnet.__main__", "digitnet.sklearn"}  # the public names: they may import anything


def stratum(module: str) -> int:
    parts = module.split(".")[1:]
    if not parts or parts[0] in LEAVES:
        return 0
    return STRATA.index(parts[0])


def test_every_module_is_in_a_stratum():
    unplaced = [m for m in import_graph() if m not in FACADES and m.split(".")[1] not in (*LEAVES, *STRATA[1:])]
    assert unplaced == [], f"modules outside every stratum (add them to a subpackage or to LEAVES): {unplaced}"


def test_imports_only_go_down_the_strata():
    """data < nn < reading < synthetic < training < run < app, with the shared leaves below all of them."""
    upward = sorted(f"{m} -> {t}" for m, targets in import_graph().items() if m not in FACADES
                    for t in targets if t not in FACADES and stratum(t) > stratum(m))
    assert upward == [], upward
    assert stratum("digitnet.app.cli") > stratum("digitnet.run.recipes") > stratum("digitnet.nn.model") > 0


def private_imports() -> list[str]:
    """``from X import _name`` where X is in another subpackage than the importing module."""
    found = []
    for path in PACKAGE.rglob("*.py"):
        module = module_name(path)
        package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ImportFrom):
                continue
            base = package.split(".")[:len(package.split(".")) - node.level + 1] if node.level else []
            source = ".".join(base + ([node.module] if node.module else [])) if node.level else (node.module or "")
            if not source.startswith("digitnet"):
                continue
            for alias in node.names:
                if (alias.name.startswith("_") and not alias.name.endswith("__")
                        and source.split(".")[:2] != module.split(".")[:2]):
                    found.append(f"{module}: from {source} import {alias.name}")
    return found


def test_no_module_imports_a_private_name_of_another_subpackage():
    assert private_imports() == []
