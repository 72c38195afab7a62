"""Message shapes that LangChain-based tracers record, and the error helpers the LangSmith and
Langfuse importers share.

A LangChain message comes in many forms: serialized (``{"lc": 1, "type": "constructor",
"id": [..., "HumanMessage"], "kwargs": {...}}``), dumped (``{"type": "human", "content"}``),
``{"type", "data"}``, ``{"role", "content"}``, ``[role, content]`` pairs or plain text.
:func:`chat_message` reads any of them as a chat-completions message (human -> user,
ai -> assistant with ``tool_calls`` in chat form, tool -> tool with ``tool_call_id``).
"""

from __future__ import annotations

from typing import Any

from pytest_agentops.errors import TrajectoryLoadError
from pytest_agentops.trajectory.openai_format import chat_tool_call, text_of

from .assemble import as_text, count, problem, short

#: LangChain message types (``type``, or the class name without ``Message``) -> chat roles.
_ROLES = {
    "human": "user",
    "user": "user",
    "ai": "assistant",
    "assistant": "assistant",
    "system": "system",
    "developer": "developer",
    "tool": "tool",
    "function": "function",
}


class BadField(TrajectoryLoadError):
    """A field that is not what it should be; the caller adds where it is."""

    def __init__(self, field: str, expected: str, got: Any) -> None:
        super().__init__(f"field `{field}`: expected {expected}, got {short(got)}")
        self.field = field
        self.expected = expected
        self.got = got

    def at(self, source: str, where: str) -> TrajectoryLoadError:
        return problem(source, where, self.field, self.expected, self.got)


def as_dict(value: Any) -> dict[str, Any]:
    """``value`` when it is an object, else an empty one (for optional metadata)."""
    return value if isinstance(value, dict) else {}


def first_count(*values: Any) -> int | None:
    """The first value that is a token count."""
    for value in values:
        number = count(value)
        if number is not None:
            return number
    return None


def first_text(*values: Any) -> str | None:
    for value in values:
        if isinstance(value, str) and value:
            return value
    return None


# ---- messages --------------------------------------------------------------------------------


def _role_of(kind: str) -> str:
    name = kind.removesuffix("Chunk").removesuffix("Message")
    key = name.lower() if name else kind.lower()
    return _ROLES.get(key, key)


def _is_pair(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and len(value) == 2 and isinstance(value[0], str)


def unwrap_message(value: Any, field: str) -> tuple[str | None, dict[str, Any], str]:
    """``(LangChain type, the message's fields, where they are)`` of a message object."""
    if not isinstance(value, dict):
        raise BadField(
            field, "a message (an object with `type` or `role`, or a [role, content] pair)", value
        )
    if value.get("lc") == 1 and value.get("type") == "constructor":
        path = value.get("id")
        kwargs = value.get("kwargs")
        if not isinstance(path, list) or not path or not isinstance(path[-1], str):
            raise BadField(f"{field}.id", "the message class path (a list of names)", path)
        if not isinstance(kwargs, dict):
            raise BadField(f"{field}.kwargs", "the message's fields (an object)", kwargs)
        return path[-1], kwargs, f"{field}.kwargs"
    if (
        isinstance(value.get("data"), dict)
        and isinstance(value.get("type"), str)
        and "role" not in value
        and "content" not in value
    ):  # messages_to_dict()
        return value["type"], value["data"], f"{field}.data"
    kind = value.get("type")
    return (kind if isinstance(kind, str) else None), value, field


def content_of(value: Any, field: str) -> Any:
    """A message content: text, a list of parts (all text joined), other values as JSON."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list):
        return text_of(value)
    return as_text(value)


def tool_calls_of(calls: Any, field: str) -> list[dict[str, Any]]:
    """LangChain (``{"name", "args", "id"}``) or chat (``{"id", "function": {...}}``) tool
    calls as chat-completions tool calls."""
    expected = 'a tool call ({"name", "args", "id"} or {"id", "function": {"name", "arguments"}})'
    if not isinstance(calls, list):
        raise BadField(field, "a list of tool calls", calls)
    out = []
    for index, call in enumerate(calls):
        at = f"{field}[{index}]"
        if not isinstance(call, dict):
            raise BadField(at, expected, call)
        function = call.get("function")
        if isinstance(function, dict):
            name, arguments, name_at = function.get("name"), function.get("arguments"), "function."
        else:
            arguments = next((call[k] for k in ("args", "arguments", "input") if k in call), None)
            name, name_at = call.get("name"), ""
        if not isinstance(name, str) or not name:
            raise BadField(f"{at}.{name_at}name", "the tool name (a string)", name)
        call_id = call.get("id")
        if not isinstance(call_id, (str, type(None))):
            raise BadField(f"{at}.id", "the call id (a string)", call_id)
        out.append(chat_tool_call(call_id, name, arguments))
    return out


def chat_message(value: Any, field: str, default_role: str | None = None) -> dict[str, Any] | None:
    """A LangChain message in any of its forms (or a chat message) as a chat-completions
    message; None for LangGraph's ``RemoveMessage``."""
    if isinstance(value, str):
        return {"role": default_role or "user", "content": value}
    if _is_pair(value):
        return {"role": _role_of(value[0]), "content": content_of(value[1], f"{field}[1]")}
    kind, fields, field = unwrap_message(value, field)
    role: Any = fields.get("role")
    if role is None:  # a role wins over the type (``ChatMessage`` has both)
        if kind is not None:
            role = _role_of(kind)
        elif default_role is not None:
            role = default_role
        else:
            raise BadField(
                f"{field}.type", "a message type such as 'human' or 'ai' (or a `role`)", kind
            )
    if role == "remove":
        return None
    if not isinstance(role, str) or not role:
        raise BadField(f"{field}.role", "a role (a string)", role)
    message: dict[str, Any] = {
        "role": role,
        "content": content_of(fields.get("content"), f"{field}.content"),
    }
    calls = fields.get("tool_calls")
    at = f"{field}.tool_calls"
    if not calls:
        extra = as_dict(fields.get("additional_kwargs")).get("tool_calls")
        if extra:
            calls, at = extra, f"{field}.additional_kwargs.tool_calls"
    if calls:
        message["tool_calls"] = tool_calls_of(calls, at)
    call_id = fields.get("tool_call_id")
    if not isinstance(call_id, (str, type(None))):
        raise BadField(f"{field}.tool_call_id", "the call id (a string)", call_id)
    if call_id:
        message["tool_call_id"] = call_id
    if role in ("tool", "function") and isinstance(fields.get("name"), str):
        message["name"] = fields["name"]
    if role == "tool" and fields.get("status") == "error":
        message["status"] = "error"
    return message


def chat_messages(value: Any, field: str) -> list[dict[str, Any]]:
    """A list of messages (any form); a batch (a list of lists of messages) gives its first."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise BadField(field, "a list of messages", value)
    if value and isinstance(value[0], list) and not _is_pair(value[0]):
        value, field = value[0], f"{field}[0]"
    out = []
    for index, item in enumerate(value):
        message = chat_message(item, f"{field}[{index}]")
        if message is not None:
            out.append(message)
    return out


def conversation_text(value: Any, which: str) -> Any:
    """A run's (or trace's) input or output as the people who read it see it: the last
    user (``input``) or assistant (``output``) text of a conversation, the only value of a
    one-key object, or the value as it is."""
    role = "user" if which == "input" else "assistant"
    messages: Any = None
    if isinstance(value, list):
        messages = value
    elif isinstance(value, dict):
        messages = value.get("messages")
        if messages is None and "role" in value and which == "output":
            messages = [value]
    if isinstance(messages, list) and messages:
        try:
            chat = chat_messages(messages, which)
        except TrajectoryLoadError:
            chat = []
        texts = [
            m["content"]
            for m in chat
            if m["role"] == role and isinstance(m["content"], str) and m["content"]
        ]
        if texts:
            return texts[-1]
    if isinstance(value, dict) and len(value) == 1:
        only = next(iter(value.values()))
        if isinstance(only, str):
            return only
    return value
