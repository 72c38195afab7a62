"""Policies: rules a trajectory must follow, written as versioned YAML and checked as data.

A policy file::

    schema_version: 1
    name: support-agent
    rules:
      - {id: never-delete, forbid_tools: [delete_account]}
      - {id: refund-cap, tool: refund, args: {amount: {le: 500}}}

is read by :func:`load_policy` and checked by :meth:`Policy.check`, which returns one
:class:`Violation` per broken rule, naming the rule, the step and the offending call.
Conditions are data: nothing in a policy file is ever evaluated as code.

Checking is linear in the number of steps: the trajectory is indexed once (tool calls by
name, LLM calls) and each rule reads only the calls it is about.

The package, by concern:

- :mod:`.pytest_side`: which policies apply to a test (ini, markers), checked after it;
- :mod:`.loading`: YAML reading (no aliases, anchors or tags) and errors that name the line;
- :mod:`.rules`: the rule kinds and :class:`Policy`; :mod:`.conditions` what they are made of;
- :mod:`.index`: the trajectory as rules read it, built once per check;
- :mod:`.values`: JSON-value equality, argument paths and condition operators;
- :mod:`.pii`: the detectors of personal data and secrets in text;
- :mod:`.violations`: :class:`Violation`, :func:`format_violations`.

Names are imported lazily (PEP 562): importing the package loads neither pydantic nor YAML.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytest_agentops.errors import PolicyError

    from .conditions import Condition
    from .loading import load_policy, parse_policy
    from .rules import (
        AllowToolsRule,
        ArgsRule,
        BudgetRule,
        ForbidOutputRule,
        ForbidToolsRule,
        MaxRepeatsRule,
        OutputPattern,
        Policy,
        RequireBefore,
        RequireBeforeRule,
        RequireToolsRule,
        Rule,
        check_policies,
    )
    from .violations import Violation, format_violations

_LAZY = {
    "AllowToolsRule": ".rules",
    "ArgsRule": ".rules",
    "BudgetRule": ".rules",
    "Condition": ".conditions",
    "ForbidOutputRule": ".rules",
    "ForbidToolsRule": ".rules",
    "MaxRepeatsRule": ".rules",
    "OutputPattern": ".rules",
    "Policy": ".rules",
    "PolicyError": "..errors",
    "RequireBefore": ".rules",
    "RequireBeforeRule": ".rules",
    "RequireToolsRule": ".rules",
    "Rule": ".rules",
    "Violation": ".violations",
    "check_policies": ".rules",
    "format_violations": ".violations",
    "load_policy": ".loading",
    "parse_policy": ".loading",
}

__all__ = [
    "AllowToolsRule",
    "ArgsRule",
    "BudgetRule",
    "Condition",
    "ForbidOutputRule",
    "ForbidToolsRule",
    "MaxRepeatsRule",
    "OutputPattern",
    "Policy",
    "PolicyError",
    "RequireBefore",
    "RequireBeforeRule",
    "RequireToolsRule",
    "Rule",
    "Violation",
    "check_policies",
    "format_violations",
    "load_policy",
    "parse_policy",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'pytest_agentops.policy' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
