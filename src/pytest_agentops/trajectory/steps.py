"""The steps of a trajectory: tool calls, LLM calls, messages and spans (pydantic v2).

Kept apart from :mod:`.model` (the :class:`Trajectory` and its file I/O) so that what derives
facts from steps (:mod:`.derive`) and the loaders that use it do not import the model that
loads them.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

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
