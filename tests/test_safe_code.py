"""No code path can run what a file says: the plugin, its examples and benchmarks never load
YAML with an unsafe loader, never unpickle, never ``eval``/``exec``.

Cassettes, trajectories, policies and reports are user data (a committed cassette, a
production trace from an incident): reading them must never construct arbitrary objects or
run code.  A lint over the syntax tree, so a new call anywhere fails here first.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHECKED = ("src", "examples", "benchmarks")

#: Modules that turn bytes into arbitrary objects or code.
UNSAFE_MODULES = {
    "pickle",
    "cPickle",
    "_pickle",
    "dill",
    "cloudpickle",
    "marshal",
    "shelve",
    "jsonpickle",
}
#: yaml names that build arbitrary Python objects.
UNSAFE_YAML = {
    "unsafe_load",
    "unsafe_load_all",
    "full_load",
    "full_load_all",
    "Loader",
    "FullLoader",
    "UnsafeLoader",
    "CLoader",
    "CFullLoader",
    "CUnsafeLoader",
    "UnsafeConstructor",
    "FullConstructor",
    "Constructor",
}
UNSAFE_CALLS = {"eval", "exec", "compile", "__import__"}


def _problems(source: str, where: str) -> list[str]:
    tree = ast.parse(source, filename=where)
    found = []
    for node in ast.walk(tree):
        line = f"{where}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Import):
            found += [
                f"{line}: imports {a.name}"
                for a in node.names
                if a.name.split(".")[0] in UNSAFE_MODULES
            ]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in (
            UNSAFE_MODULES
        ):
            found.append(f"{line}: imports from {node.module}")
        elif isinstance(node, ast.ImportFrom) and node.module == "yaml":
            found += [f"{line}: imports yaml.{a.name}" for a in node.names if a.name in UNSAFE_YAML]
        elif (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "yaml"
            and node.attr in UNSAFE_YAML
        ):
            found.append(f"{line}: uses yaml.{node.attr}")
        elif isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id in UNSAFE_CALLS:
                found.append(f"{line}: calls {func.id}()")
            if (
                isinstance(func, ast.Attribute)
                and isinstance(func.value, ast.Name)
                and func.value.id == "yaml"
                and func.attr in ("load", "load_all")
            ):
                loader = next((k.value for k in node.keywords if k.arg == "Loader"), None)
                if len(node.args) > 1:
                    loader = node.args[1]
                if not _safe_loader(tree, loader):
                    found.append(f"{line}: yaml.{func.attr} without a safe loader")
    return found


def _safe_loader(tree: ast.Module, loader: ast.expr | None) -> bool:
    if loader is None:
        return False
    if isinstance(loader, ast.Name):
        return _safe_name(tree, loader.id)
    return "SafeLoader" in ast.unparse(loader)


def _safe_name(tree: ast.Module, name: str) -> bool:
    """Whether every assignment to ``name`` in the module picks a SafeLoader."""
    values = [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == name for t in node.targets)
    ]
    return bool(values) and all(
        "SafeLoader" in ast.unparse(v) and not set(ast.unparse(v).split(".")) & UNSAFE_YAML
        for v in values
    )


def _sources() -> list[Path]:
    return sorted(p for folder in CHECKED for p in (ROOT / folder).rglob("*.py"))


def test_no_unsafe_loading_or_code_execution_anywhere() -> None:
    problems = [
        problem
        for path in _sources()
        for problem in _problems(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    ]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    "code",
    [
        "import yaml\nyaml.load(text)",
        "import yaml\nyaml.load(text, Loader=yaml.Loader)",
        "import yaml\nyaml.load(text, yaml.FullLoader)",
        "import yaml\nyaml.unsafe_load(text)",
        "from yaml import CLoader",
        "import pickle",
        "from marshal import loads",
        "eval(text)",
        "exec(text)",
        "import yaml\nloader = yaml.UnsafeLoader\nyaml.load(text, Loader=loader)",
    ],
)
def test_the_lint_catches(code: str) -> None:
    assert _problems(code, "probe.py")


def test_the_lint_lets_safe_loading_through() -> None:
    code = (
        "import yaml\nyaml.load(t, Loader=getattr(yaml, 'CSafeLoader', yaml.SafeLoader))\n"
        "loader = yaml.CSafeLoader\nyaml.load(t, Loader=loader)\nyaml.safe_load(t)\n"
    )
    assert _problems(code, "probe.py") == []
