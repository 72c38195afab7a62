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

- :mod:`.loading`: YAML reading (no aliases, anchors or tags) and errors that name the line;
- :mod:`.rules`: the rule kinds and :class:`Policy`; :mod:`.conditions` what they are made of;
- :mod:`.index`: the trajectory as rules read it, built once per check;
- :mod:`.detectors`: the matching itself (conditions, JSON equality, personal-data detectors);
- :mod:`.violations`: :class:`Violation` and :func:`format_violations`.
"""

from __future__ import annotations

from .conditions import Condition
from .loading import PolicyError, load_policy, parse_policy
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
