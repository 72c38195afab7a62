"""The trajectory model: what an agent did, step by step (pydantic v2, versioned on disk)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator

from .steps import (  # re-exported: where users and the plugin import the step classes from
    SCHEMA_VERSION,
    Amount,
    Count,
    LLMCall,
    MessageStep,
    RequestedToolCall,
    SpanStep,
    Step,
    ToolCall,
    ToolNames,
    _Model,
)

__all__ = [
    "SCHEMA_VERSION",
    "Amount",
    "Count",
    "LLMCall",
    "MessageStep",
    "RequestedToolCall",
    "SpanStep",
    "Step",
    "ToolCall",
    "ToolNames",
    "Totals",
    "Trajectory",
]


class Totals(_Model):
    steps: int = 0
    tool_calls: int = 0
    llm_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    duration_s: float = 0.0

    def __add__(self, other: Totals) -> Totals:
        return Totals(
            **{name: getattr(self, name) + getattr(other, name) for name in Totals.model_fields}
        )


class Trajectory(_Model):
    """Everything an agent run did: LLM calls, tool calls, messages and spans, in start order."""

    schema_version: Literal[1] = 1
    id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    name: str | None = None
    input: Any = None
    output: Any = None
    steps: list[Step] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)
    started_at: datetime | None = None
    ended_at: datetime | None = None

    @field_validator("schema_version", mode="before")
    @classmethod
    def _exact_version(cls, value: Any) -> Any:
        # ``True`` and ``1.0`` equal 1 in Python; a file saying so was not written by us.
        if type(value) is not int:
            raise ValueError(f"must be the integer {SCHEMA_VERSION}, got {value!r}")
        return value

    # ---- derived views -------------------------------------------------------------------
    @property
    def tool_calls(self) -> list[ToolCall]:
        return [s for s in self.steps if isinstance(s, ToolCall)]

    @property
    def llm_calls(self) -> list[LLMCall]:
        return [s for s in self.steps if isinstance(s, LLMCall)]

    @property
    def tool_names(self) -> ToolNames:
        return ToolNames(s.name for s in self.steps if isinstance(s, ToolCall))

    @property
    def input_tokens(self) -> int:
        return sum(c.input_tokens for c in self.llm_calls)

    @property
    def output_tokens(self) -> int:
        return sum(c.output_tokens for c in self.llm_calls)

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    @property
    def cost_usd(self) -> float:
        """The cost of the LLM calls that have a price (see :attr:`unpriced_calls`)."""
        return sum(c.cost_usd or 0.0 for c in self.llm_calls)

    @property
    def unpriced_calls(self) -> list[LLMCall]:
        """LLM calls that used tokens but have no cost: their model is not in the price table,
        so :attr:`cost_usd` leaves them out."""
        return [
            c for c in self.llm_calls if c.cost_usd is None and (c.input_tokens or c.output_tokens)
        ]

    @property
    def duration_s(self) -> float:
        if self.started_at is not None and self.ended_at is not None:
            return max((self.ended_at - self.started_at).total_seconds(), 0.0)
        return sum((s.duration_ms or 0.0) for s in self.steps if s.parent_id is None) / 1000

    def totals(self) -> Totals:
        llm = self.llm_calls
        return Totals(
            steps=len(self.steps),
            tool_calls=len(self.tool_calls),
            llm_calls=len(llm),
            input_tokens=sum(c.input_tokens for c in llm),
            output_tokens=sum(c.output_tokens for c in llm),
            cost_usd=sum(c.cost_usd or 0.0 for c in llm),
            duration_s=self.duration_s,
        )

    def children(self, step_id: str | None) -> list[Step]:
        """Steps whose parent is ``step_id`` (``None``: the top-level steps)."""
        return [s for s in self.steps if s.parent_id == step_id]

    # ---- I/O -----------------------------------------------------------------------------
    @classmethod
    def load(
        cls,
        source: str | Path | dict[str, Any] | list[Any],
        format: str = "auto",
        *,
        trace_id: str | None = None,
    ) -> Trajectory:
        """Load the trajectory in a file (path) or in already-parsed data.

        ``format`` is ``auto`` (detected from the content) or one of
        ``importers.registry.FORMATS``: ``native``, ``openai`` (chat messages),
        ``openai-responses``, ``anthropic``, ``otlp`` (OpenTelemetry: GenAI conventions,
        OpenInference, OpenLLMetry), ``langfuse``, ``langsmith``, ``openai-agents``; projects
        add their own with the ``pytest_agentops_import_trace`` hook.  A file holding several
        trajectories (JSON Lines, several traces) needs ``trace_id`` (see :meth:`load_all`).
        Any problem raises :class:`~pytest_agentops.errors.TrajectoryLoadError` naming the
        file, the line or span, and the field.
        """
        from .io import load_trajectory

        return load_trajectory(cls, source, format, trace_id)

    @classmethod
    def load_all(
        cls, source: str | Path | dict[str, Any] | list[Any], format: str = "auto"
    ) -> Iterator[Trajectory]:
        """Every trajectory in a file or in parsed data, one at a time (JSON Lines files are
        read line by line)."""
        from .io import iter_trajectories

        return iter_trajectories(cls, source, format)

    def dump(
        self, path: str | Path | None = None, *, format: str = "auto", redact: bool = True
    ) -> str:
        """Serialise to JSON or YAML (by the path's suffix); write atomically if a path is given.

        Secrets (API keys by shape and name, secret environment variables, values seen in
        credential headers) are replaced with ``<REDACTED>``, as in every file the plugin
        writes; ``redact=False`` keeps the values as they are.
        """
        from .io import dump_trajectory

        return dump_trajectory(self, path, format, redact=redact)

    def to_jsonable(self) -> dict[str, Any]:
        data: dict[str, Any] = self.model_dump(mode="json")
        return data

    @classmethod
    def from_openai_messages(
        cls, messages: list[dict[str, Any]], *, model: str = "unknown", name: str | None = None
    ) -> Trajectory:
        """Build a trajectory from chat-completions messages (with tool calls and results)."""
        from .importers.openai_messages import trajectory_from_openai_messages

        return cls.model_validate(trajectory_from_openai_messages(messages, model=model, name=name))
