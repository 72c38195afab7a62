"""pytest-agentops: test AI agents by their trajectories, inside pytest.

Public names are imported lazily (PEP 562): ``import pytest_agentops`` and the pytest plugin
load nothing heavy, and ``from pytest_agentops import tool`` (used by application code in
production) imports neither pytest, pydantic, litellm nor vcrpy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .errors import AgentopsError, TrajectoryLoadError
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
    from .recording import Recorder
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
    "AgentopsError": ".errors",
    "TrajectoryLoadError": ".errors",
}

__all__ = [
    "AgentopsError",
    "LLMCall",
    "MessageStep",
    "Recorder",
    "RequestedToolCall",
    "SpanStep",
    "Step",
    "ToolCall",
    "Totals",
    "Trajectory",
    "TrajectoryLoadError",
    "__version__",
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
