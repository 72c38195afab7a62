"""Process-wide hand-off point between application code and the active test's recorder.

This module is imported by the ``@tool`` decorator, which production code imports, so it
uses the standard library only.  The active recorder is a process-level slot rather than a
context variable on purpose: agents run tools on thread pools and litellm runs its callbacks
on worker threads, and everything the process does while a test runs belongs to that test
(pytest runs one test at a time per process; xdist workers are separate processes).  The
*parent* of a step, on the other hand, is per call stack, so it lives in a ContextVar.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .recorder import Recorder


class _Slot:
    __slots__ = ("recorder",)

    def __init__(self) -> None:
        self.recorder: Recorder | None = None


#: The recorder of the test that is running in this process, or None.
ACTIVE = _Slot()

#: Id of the step (tool call or span) whose code is running in this context, if any.
CURRENT_PARENT: ContextVar[str | None] = ContextVar("pytest_agentops_parent", default=None)

#: True while pytest-agentops itself calls a model (the LLM judge): not the agent's steps.
CAPTURE_OFF: ContextVar[bool] = ContextVar("pytest_agentops_capture_off", default=False)
