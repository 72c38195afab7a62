"""The package keeps its shape: one folder per capability, no import cycle across folders, no
module past 700 lines, and the README's architecture map lists exactly the modules there are."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "pytest_agentops"
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _imports(name: str, path: Path) -> set[str]:
    """Modules ``name`` imports, at module level or inside functions (TYPE_CHECKING skipped)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            if isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = package.split(".")[: len(package.split(".")) - (child.level - 1)]
                    base = ".".join([*anchor, base] if base else anchor)
                found.update(f"{base}.{alias.name}" for alias in child.names)
                if not name.startswith(base + "."):  # a parent package is not a cycle
                    found.add(base)
            elif isinstance(child, ast.Import):
                found.update(alias.name for alias in child.names)
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    return found


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            for nxt in edges:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph[nxt]))))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        out.append(sorted(component))
    return out


def test_no_import_cycle_spans_two_folders() -> None:
    modules = _modules()
    graph = {
        name: {m for m in _imports(name, path) if m in modules and m != name}
        for name, path in modules.items()
    }
    across = [c for c in _cycles(graph) if len({modules[m].parent for m in c}) > 1]
    assert across == []


def test_cycle_finder_finds_cycles() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert _cycles(graph) == [["a", "b", "c"]]


def test_no_module_is_over_700_lines_and_the_root_stays_small() -> None:
    sizes = {
        str(p.relative_to(PACKAGE)): len(p.read_text().splitlines()) for p in PACKAGE.rglob("*.py")
    }
    assert {name: n for name, n in sizes.items() if n > 700} == {}
    assert len(list(PACKAGE.glob("*.py"))) <= 12


def test_readme_architecture_map_lists_every_module() -> None:
    section = README.split("## Architecture", 1)[1]
    block = re.search(r"```\n(.*?)```", section, re.S)
    assert block, "no folder map in the README's Architecture section"
    listed: set[str] = set()
    folder = top = ""
    for line in block.group(1).splitlines()[1:]:
        head = re.match(r"  (\w+)/\s", line)
        sub = re.match(r"    (\w+)/\s", line)  # a folder inside the folder above
        if head:
            folder = top = head.group(1) + "/"
        elif sub:
            folder = top + sub.group(1) + "/"
            listed.add(folder + "__init__.py")
        elif re.match(r"  \S", line):  # a module at the package root
            folder = top = ""
        for token in re.findall(r"(?<![\w/.])((?:\w+/)*\w+\.py)\b", line):
            listed.add(folder + token)
            if "/" in token:  # a subfolder's module: the subfolder is a package too
                listed.add(folder + token.rsplit("/", 1)[0] + "/__init__.py")
    actual = {
        str(p.relative_to(PACKAGE))
        for p in PACKAGE.rglob("*.py")
        if p.name != "__init__.py" or p.parent.parent != PACKAGE
    }
    assert listed == actual
