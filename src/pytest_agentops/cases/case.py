"""A regression case promoted from a production incident: the ``*.case.yaml`` file.

A case file holds where the incident came from (``provenance``), the input to give the agent,
the incident's trajectory (its model responses and tool results are what a replay serves, in
order), what the fixed agent must do (``expect``) and a free-text note.  It is versioned
(``schema_version``) and described by ``pytest-agentops schema case``.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pytest_agentops._util import dump_plain_yaml, load_plain_yaml
from pytest_agentops.errors import AgentopsError
from pytest_agentops.trajectory.model import Trajectory

#: What a case name may be: it becomes a file name and part of a test id.
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
SUFFIX = ".case.yaml"
_HEADER = "# pytest-agentops regression case: pytest runs it (`pytest-agentops schema case`)\n"


class CaseError(AgentopsError, ValueError):
    """A case file or a promotion that cannot be used, with what to do about it."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Provenance(_Model):
    #: The trace file the case was promoted from, as given.
    source: str
    #: The format it was read as (``otlp``, ``openai``, ...).
    format: str
    trace_id: str | None = None
    imported_at: datetime


class Expectations(_Model):
    """What a run of the fixed agent must (not) do."""

    #: Policy files checked against the run (paths relative to the case file or the rootdir).
    policies: list[str] = Field(default_factory=list)
    #: Rule ids of those policies that the incident broke: the run must break none of them.
    violated_rules: list[str] = Field(default_factory=list)
    #: Tools the run must call, and tools it must not call.
    expect_tools: list[str] = Field(default_factory=list)
    forbid_tools: list[str] = Field(default_factory=list)
    #: Criteria an LLM judge checks on the run's output.
    judge: list[str] = Field(default_factory=list)
    #: Tools that run for real in a replay instead of returning the incident's results.
    real_tools: list[str] = Field(default_factory=list)
    #: Fail when the run's tool calls are the incident's again (same tools, same arguments,
    #: same order).
    must_not_repeat: bool = True


class Case(_Model):
    schema_version: Literal[1] = 1
    name: str
    note: str = ""
    provenance: Provenance
    #: What the agent entry point is called with.
    input: Any = None
    expect: Expectations = Field(default_factory=Expectations)
    #: The production run: its LLM calls' outputs and its tool results are replayed in order.
    incident: Trajectory

    def dump(self, path: Path) -> str:
        """The case as YAML (the incident in its native form, secrets already handled)."""
        from pytest_agentops._util import atomic_write_text

        text = _HEADER + dump_plain_yaml(self.model_dump(mode="json", exclude_none=True))
        atomic_write_text(path, text)
        return text

    @classmethod
    def load(cls, path: Path) -> Case:
        """A case file, or one :class:`CaseError` naming the file and the field."""
        from pytest_agentops._util import UnsafeYaml

        try:
            data = load_plain_yaml(path.read_text(encoding="utf-8"), "a case file")
        except (OSError, UnicodeDecodeError) as exc:
            raise CaseError(f"{path}: cannot read the case file: {exc}") from None
        except UnsafeYaml as exc:
            raise CaseError(f"{path}: {exc}") from None
        except Exception as exc:  # yaml.YAMLError, without importing yaml here
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise CaseError(f"{path}: not valid YAML: {problem}") from None
        if not isinstance(data, dict):
            raise CaseError(
                f"{path}: a case file is a mapping (promote one with `pytest-agentops promote`)"
            )
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            from pytest_agentops.trajectory.io import describe_validation_error

            raise CaseError(describe_validation_error(exc, str(path))) from None


def check_name(name: str) -> str:
    if not NAME.match(name) or ".." in name:
        raise CaseError(
            f"case name {name!r}: use letters, digits, '.', '_' and '-' (up to 100, no path "
            "separators, no '..'), e.g. refund-without-approval"
        )
    return name
