"""The trajectory model: what an agent did, step by step (pydantic v2, versioned on disk)."""

from __future__ import annotations

import uuid
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

#: A count (tokens): never negative.
Count = Annotated[int, Field(ge=0)]
#: An amount (USD, milliseconds): a finite number, never negative.
Amount = Annotated[float, Field(ge=0, allow_inf_nan=False)]

SCHEMA_VERSION = 1


class ToolNames(list[str]):
    """The names of a trajectory's tool calls; ``assert traj.tool_names == [...]`` failures get
    an aligned sequence diff from the plugin's ``pytest_assertrepr_compare``."""


class _Model(BaseModel):
    # Unknown keys are an error: a typo in a hand-written trace must not pass silently.
    model_config = ConfigDict(extra="forbid", validate_assignment=False)


class _StepBase(_Model):
    id: str = Field(default_factory=lambda: uuid.uuid4().hex[:12])
    parent_id: str | None = None
    started_at: datetime | None = None
    duration_ms: Amount | None = None


class RequestedToolCall(_Model):
    """A tool call that a model response asked for (not yet executed)."""

    id: str | None = None
    name: str
    #: Parsed JSON arguments; the raw string when the model sent invalid JSON.
    arguments: dict[str, Any] | str = Field(default_factory=dict)


class ToolCall(_StepBase):
    kind: Literal["tool"] = "tool"
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    result: Any = None
    error: str | None = None
    #: The id of the model's tool call this execution answers, when known.
    call_id: str | None = None
    #: How the call was seen when it was not observed as it ran: ``"conversation"`` (read from
    #: the tool result that the next LLM request carried; no ``@tool`` wrapped the function).
    source: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class LLMCall(_StepBase):
    kind: Literal["llm"] = "llm"
    model: str = "unknown"
    provider: str | None = None
    input_messages: list[dict[str, Any]] = Field(default_factory=list)
    output_message: dict[str, Any] | None = None
    requested_tool_calls: list[RequestedToolCall] = Field(default_factory=list)
    input_tokens: Count = 0
    output_tokens: Count = 0
    cached_tokens: Count = 0
    cost_usd: Amount | None = None
    error: str | None = None
    #: The provider's id of the response (``chatcmpl-...``, ``msg_...``, ``resp_...``).
    response_id: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def output_text(self) -> str | None:
        content = (self.output_message or {}).get("content")
        return content if isinstance(content, str) else None


class MessageStep(_StepBase):
    kind: Literal["message"] = "message"
    role: str
    content: Any = None


class SpanStep(_StepBase):
    """A named custom step (``with agent_trace.step("plan"):``); other steps nest inside it."""

    kind: Literal["span"] = "span"
    name: str
    attributes: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None


Step = Annotated[ToolCall | LLMCall | MessageStep | SpanStep, Field(discriminator="kind")]


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
        cls, source: str | Path | dict[str, Any] | list[Any], format: str = "auto"
    ) -> Trajectory:
        """Load a trajectory from a file path or already-parsed data.

        ``format`` is ``auto`` (by content), ``native``, ``openai`` (a chat-completions
        message list, or an object with a ``messages`` key) or ``anthropic`` (Anthropic
        messages with content blocks, or an object with ``messages`` and maybe ``system``).
        Any problem raises :class:`~pytest_agentops.errors.TrajectoryLoadError` naming the
        file and the field.
        """
        from .io import load_trajectory

        return load_trajectory(cls, source, format)

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
