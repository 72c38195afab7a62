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


def _only_this_plugin(pytester, monkeypatch) -> tuple[str, ...]:
    """Other installed plugins may load what they like (langsmith's loads pydantic): measure
    this plugin alone."""
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    return ("-p", "pytest_agentops.plugin", "-p", "no:cacheprovider")


def test_pytest_run_without_recording_does_not_import_litellm(pytester, monkeypatch) -> None:
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
    result = pytester.runpytest_subprocess(*_only_this_plugin(pytester, monkeypatch))
    result.assert_outcomes(passed=2)


def test_pytest_run_without_recording_does_not_import_vcr(pytester, monkeypatch) -> None:
    pytester.makepyfile(
        """
        import sys
        def test_plain():
            assert "vcr" not in sys.modules
            assert "pytest_agentops.cassettes" not in sys.modules
        """
    )
    result = pytester.runpytest_subprocess(*_only_this_plugin(pytester, monkeypatch))
    result.assert_outcomes(passed=1)


def test_pricing_a_wire_captured_call_does_not_import_litellm() -> None:
    code = (
        "from pytest_agentops.trajectory.prices import cost_usd\n"
        "assert cost_usd('gpt-4o-mini-2024-07-18', 1000, 100, 'openai') > 0\n"
        "assert cost_usd('no-such-model', 1, 1) is None"
    )
    assert "litellm" not in _loaded_after(code)


def test_both_pricing_paths_agree() -> None:
    code = (
        "import os\nos.environ['LITELLM_LOCAL_MODEL_COST_MAP'] = 'True'\n"
        "from pytest_agentops.trajectory.prices import cost_usd\n"
        "cases = [('gpt-4o-mini-2024-07-18', 'openai'), ('gpt-4o-mini', None),"
        " ('claude-sonnet-4-5-20250929', 'anthropic')]\n"
        "before = [cost_usd(m, 1234, 567, p) for m, p in cases]\n"
        "import litellm\n"
        "after = [cost_usd(m, 1234, 567, p) for m, p in cases]\n"
        "assert all(b and abs(a - b) < 1e-12 for a, b in zip(after, before)), (before, after)\n"
    )
    _loaded_after(code)
