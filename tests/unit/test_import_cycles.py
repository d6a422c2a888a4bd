"""The project's modules import each other without a cycle, counting imports inside functions too:
a cycle hidden in a function is still a knot a reader must untie, and it turns into an import
error as soon as someone moves the import to the top of the module. Imports under
``if TYPE_CHECKING:`` never run and are left out: they name types for annotations only."""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
#: Folder holding each top-level package, and the packages checked.
ROOTS = {"dativo_runner": REPO, "dativo_singer": REPO}
ROOTS.update({p.name: REPO / "taps" for p in (REPO / "taps").glob("tap_*") if p.is_dir()})
ROOTS.update({p.name: REPO / "targets" for p in (REPO / "targets").glob("target_*") if p.is_dir()})

Edge = tuple[str, str, str]  # importer, imported, "file:line"


@cache
def _module_files() -> dict[str, Path]:
    """Every module of the checked packages, by dotted name."""
    modules: dict[str, Path] = {}
    for package, root in ROOTS.items():
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, type_checking: bool = False) -> list[ast.Import | ast.ImportFrom]:
    """Imports that run: at module level and inside functions, not under ``if TYPE_CHECKING:``
    (unless ``type_checking``)."""
    found: list[ast.Import | ast.ImportFrom] = []
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and not type_checking and _is_type_checking(node):
            stack.extend(node.orelse)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        stack.extend(ast.iter_child_nodes(node))
    return found


def _targets(node: ast.Import | ast.ImportFrom, module: str, is_package: bool, known: set[str]) -> list[str]:
    """The project modules an import statement loads (the named module, or ``from X import m``'s m)."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:
            package = module.split(".")
            package = package if is_package else package[:-1]
            package = package[: len(package) - (node.level - 1)]
            base = ".".join([*package, *([base] if base else [])])
        names = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
    found = []
    for name in names:
        while name and name not in known:  # `import a.b.attr` style: the nearest module
            name = name.rpartition(".")[0]
        if name:
            found.append(name)
    return found


@cache
def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), str(path))


def import_graph(type_checking: bool = False) -> list[Edge]:
    """Every import edge between the project's modules (with ``type_checking``, those made for
    annotations only too)."""
    files = _module_files()
    known = set(files)
    edges: list[Edge] = []
    for module, path in files.items():
        tree = _tree(path)
        for node in _imports(tree, type_checking):
            for target in _targets(node, module, path.name == "__init__.py", known):
                if target != module:
                    edges.append((module, target, f"{path.relative_to(REPO)}:{node.lineno}"))
    return edges


def find_cycles(edges: list[Edge]) -> list[list[Edge]]:
    """One cycle for each strongly connected group of modules (Tarjan), as its edges."""
    graph: dict[str, dict[str, str]] = {}
    for source, target, where in edges:
        graph.setdefault(source, {}).setdefault(target, where)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph.get(node, {}):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(group)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [_cycle_in(graph, group) for group in groups]


def _cycle_in(graph: dict[str, dict[str, str]], group: set[str]) -> list[Edge]:
    """The shortest cycle through the group's first module (breadth-first)."""
    start = min(group)
    parents: dict[str, str] = {}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for nxt, where in sorted(graph.get(node, {}).items()):
            if nxt not in group:
                continue
            if nxt == start:
                path = [(node, start, where)]
                while node != start:
                    parent = parents[node]
                    path.append((parent, node, graph[parent][node]))
                    node = parent
                return path[::-1]
            if nxt not in parents:
                parents[nxt] = node
                queue.append(nxt)
    raise AssertionError(f"no cycle in {group}")


SAMPLE = """
import dativo_runner.errors
from typing import TYPE_CHECKING
if TYPE_CHECKING:
    from dativo_runner.job_config import Job
def plan() -> None:
    from dativo_runner.plugins import base
"""


def test_the_checker_sees_function_level_imports_and_cycles() -> None:
    known = set(_module_files())
    found = [t for node in _imports(ast.parse(SAMPLE)) for t in _targets(node, "x", False, known)]
    assert sorted(found) == ["dativo_runner.errors", "dativo_runner.plugins.base"]
    assert ("dativo_runner.plugins", "dativo_runner.plugins.base") in {(a, b) for a, b, _ in import_graph()}
    looped = [("a", "b", "a.py:1"), ("b", "c", "b.py:9"), ("c", "a", "c.py:3"), ("c", "d", "c.py:4")]
    assert find_cycles(looped) == [looped[:3]]
    assert find_cycles(looped[1:]) == []


def test_no_import_cycles() -> None:
    cycles = find_cycles(import_graph())
    shown = [" -> ".join(f"{a} ({at})" for a, _, at in cycle) + f" -> {cycle[0][0]}" for cycle in cycles]
    assert not cycles, "import cycles:\n" + "\n".join(shown)


#: Classes that name each other in annotations, through ``if TYPE_CHECKING:`` imports only:
#: a job and the plugins it is given to, a SQL stream and its connector, the CSV stream and its
#: batch reader, the Iceberg table writer and its file registration. No group may be added.
TYPE_ONLY_GROUPS = 4


def test_annotation_only_cycles_do_not_grow() -> None:
    cycles = find_cycles(import_graph(type_checking=True))
    shown = [" -> ".join(f"{a} ({at})" for a, _, at in cycle) + f" -> {cycle[0][0]}" for cycle in cycles]
    assert len(cycles) <= TYPE_ONLY_GROUPS, "import cycles through TYPE_CHECKING imports:\n" + "\n".join(shown)
