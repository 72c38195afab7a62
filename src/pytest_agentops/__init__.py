"""pytest-agentops: test AI agents by their trajectories, inside pytest.

Public names are imported lazily (PEP 562): ``import pytest_agentops`` and the pytest plugin
load nothing heavy, and ``from pytest_agentops import tool`` (used by application code in
production) imports neither pytest, pydantic, litellm nor vcrpy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .assertions.api import (
        assert_called,
        assert_called_before,
        assert_not_called,
        assert_output_contains,
        assert_policy,
        assert_tool_calls,
        assert_within,
    )
    from .assertions.matchers import (
        ANY,
        Approx,
        Contains,
        Ge,
        Gt,
        Le,
        Lt,
        Match,
        Matcher,
        OneOf,
        Regex,
    )
    from .assertions.matching import call
    from .capture.recorder import Recorder
    from .capture.tool import tool
    from .cassettes.cassette import Cassette
    from .errors import (
        AgentopsError,
        AgentopsWarning,
        CassetteFileError,
        JudgeError,
        PolicyError,
        ReplayedToolError,
        TrajectoryLoadError,
    )
    from .judge.pytest_side import Judge
    from .judge.verdict import CheckScore, JudgeRequest, Verdict
    from .policy.loading import load_policy
    from .policy.rules import Policy
    from .policy.violations import Violation
    from .trajectory.model import (
        LLMCall,
        MessageStep,
        RequestedToolCall,
        SpanStep,
        Step,
        ToolCall,
        Totals,
        Trajectory,
    )

#: Public name -> the module that defines it.
_LAZY = {
    "tool": ".capture.tool",
    "Recorder": ".capture.recorder",
    "Trajectory": ".trajectory.model",
    "Step": ".trajectory.model",
    "ToolCall": ".trajectory.model",
    "LLMCall": ".trajectory.model",
    "MessageStep": ".trajectory.model",
    "SpanStep": ".trajectory.model",
    "RequestedToolCall": ".trajectory.model",
    "Totals": ".trajectory.model",
    "assert_tool_calls": ".assertions.api",
    "assert_called": ".assertions.api",
    "assert_not_called": ".assertions.api",
    "assert_called_before": ".assertions.api",
    "assert_output_contains": ".assertions.api",
    "assert_policy": ".assertions.api",
    "assert_within": ".assertions.api",
    "call": ".assertions.matching",
    "ANY": ".assertions.matchers",
    "Regex": ".assertions.matchers",
    "Approx": ".assertions.matchers",
    "Lt": ".assertions.matchers",
    "Le": ".assertions.matchers",
    "Gt": ".assertions.matchers",
    "Ge": ".assertions.matchers",
    "OneOf": ".assertions.matchers",
    "Contains": ".assertions.matchers",
    "Match": ".assertions.matchers",
    "Matcher": ".assertions.matchers",
    "Policy": ".policy.rules",
    "Violation": ".policy.violations",
    "load_policy": ".policy.loading",
    "CheckScore": ".judge.verdict",
    "JudgeRequest": ".judge.verdict",
    "Verdict": ".judge.verdict",
    "Judge": ".judge.pytest_side",
    "Cassette": ".cassettes.cassette",
    "AgentopsError": ".errors",
    "AgentopsWarning": ".errors",
    "TrajectoryLoadError": ".errors",
    "PolicyError": ".errors",
    "CassetteFileError": ".errors",
    "ReplayedToolError": ".errors",
    "JudgeError": ".errors",
}

__all__ = [
    "ANY",
    "AgentopsError",
    "AgentopsWarning",
    "Approx",
    "Cassette",
    "CassetteFileError",
    "CheckScore",
    "Contains",
    "Ge",
    "Gt",
    "Judge",
    "JudgeError",
    "JudgeRequest",
    "LLMCall",
    "Le",
    "Lt",
    "Match",
    "Matcher",
    "MessageStep",
    "OneOf",
    "Policy",
    "PolicyError",
    "Recorder",
    "Regex",
    "ReplayedToolError",
    "RequestedToolCall",
    "SpanStep",
    "Step",
    "ToolCall",
    "Totals",
    "Trajectory",
    "TrajectoryLoadError",
    "Verdict",
    "Violation",
    "__version__",
    "assert_called",
    "assert_called_before",
    "assert_not_called",
    "assert_output_contains",
    "assert_policy",
    "assert_tool_calls",
    "assert_within",
    "call",
    "load_policy",
    "tool",
]


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("pytest-agentops")
        except PackageNotFoundError:
            return "0+unknown"
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'pytest_agentops' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
