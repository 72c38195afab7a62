"""Loading the plugin (every pytest run) and the @tool decorator (production code) stays cheap."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("litellm", "vcr", "deepdiff", "openai", "pydantic", "yaml")


def _loaded_after(code: str) -> set[str]:
    probe = f"{code}\nimport sys\nprint(' '.join(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", probe], check=True, capture_output=True, text=True
    ).stdout
    return set(out.split())


def test_plugin_import_loads_nothing_heavy() -> None:
    loaded = _loaded_after("import pytest_agentops.plugin")
    assert not set(HEAVY) & loaded


def test_tool_decorator_import_loads_neither_pytest_nor_heavy_libraries() -> None:
    loaded = _loaded_after("from pytest_agentops import tool\n@tool\ndef f(x):\n    return x\nf(1)")
    assert not ({"pytest", "_pytest", *HEAVY} & loaded)


def test_pytest_run_without_recording_does_not_import_litellm(pytester) -> None:
    pytester.makepyfile(
        """
        import sys
        def test_plain():
            assert 1
        def test_check():
            assert "litellm" not in sys.modules
            assert "pydantic" not in sys.modules
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
