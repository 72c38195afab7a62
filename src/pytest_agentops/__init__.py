"""pytest-agentops: test AI agents by their trajectories, inside pytest.

Public names are imported lazily (PEP 562): ``import pytest_agentops`` and the pytest plugin
load nothing heavy, and ``from pytest_agentops import tool`` (used by application code in
production) imports neither pytest, pydantic, litellm nor vcrpy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .assertions import (
        assert_called,
        assert_called_before,
        assert_not_called,
        assert_output_contains,
        assert_policy,
        assert_tool_calls,
        assert_within,
    )
    from .cassettes import Cassette, CassetteFileError
    from .errors import AgentopsError, TrajectoryLoadError
    from .judge import CheckScore, JudgeError, JudgeRequest, Verdict
    from .judging import Judge
    from .matchers import ANY, Approx, Contains, Ge, Gt, Le, Lt, Match, Matcher, OneOf, Regex
    from .matching import call
    from .models import (
        LLMCall,
        MessageStep,
        RequestedToolCall,
        SpanStep,
        Step,
        ToolCall,
        Totals,
        Trajectory,
    )
    from .policy import Policy, PolicyError, Violation, load_policy
    from .recording import Recorder
    from .tool_replay import ReplayedToolError
    from .tools import tool

_LAZY = {
    "tool": ".tools",
    "Recorder": ".recording",
    "Trajectory": ".models",
    "Step": ".models",
    "ToolCall": ".models",
    "LLMCall": ".models",
    "MessageStep": ".models",
    "SpanStep": ".models",
    "RequestedToolCall": ".models",
    "Totals": ".models",
    "assert_tool_calls": ".assertions",
    "assert_called": ".assertions",
    "assert_not_called": ".assertions",
    "assert_called_before": ".assertions",
    "assert_output_contains": ".assertions",
    "assert_policy": ".assertions",
    "assert_within": ".assertions",
    "Policy": ".policy",
    "Violation": ".policy",
    "PolicyError": ".policy",
    "load_policy": ".policy",
    "call": ".matching",
    "ANY": ".matchers",
    "Regex": ".matchers",
    "Approx": ".matchers",
    "Lt": ".matchers",
    "Le": ".matchers",
    "Gt": ".matchers",
    "Ge": ".matchers",
    "OneOf": ".matchers",
    "Contains": ".matchers",
    "Match": ".matchers",
    "Matcher": ".matchers",
    "AgentopsError": ".errors",
    "CheckScore": ".judge",
    "Judge": ".judging",
    "JudgeError": ".judge",
    "JudgeRequest": ".judge",
    "Verdict": ".judge",
    "Cassette": ".cassettes",
    "CassetteFileError": ".cassettes",
    "ReplayedToolError": ".tool_replay",
    "TrajectoryLoadError": ".errors",
}

__all__ = [
    "ANY",
    "AgentopsError",
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
