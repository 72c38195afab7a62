"""Automatic capture of litellm calls through a litellm ``CustomLogger``.

:func:`activate` switches capture on for the running test without importing litellm
needlessly: if litellm is already imported (the usual case: the agent module imports it), the
callback is registered at once; otherwise a one-shot import watcher registers it the moment
the code under test imports litellm, so runs that never use litellm never pay for its import.

litellm calls callbacks by keyword (``kwargs, response_obj, start_time, end_time``), runs the
sync ones on a thread pool and the async ones on a background logging worker.  The pre-call
event, however, fires synchronously in the caller's context, so that is where a call is
announced to the active recorder (which fixes its position in the trajectory and its parent
step); the completion event fills it in later from whatever thread delivers it.

This module imports litellm only inside its functions; nothing imports it until a test
records.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.abc
import importlib.util
import sys
import threading
from collections.abc import Sequence
from datetime import datetime
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import Any

from pytest_agentops._util import error_text
from pytest_agentops.trajectory.openai_format import requested_calls

from .active import ACTIVE, CAPTURE_OFF
from .fields import LLMFields, jsonable, llm_fields

_logger_instance: Any = None


# ---- switching capture on and off ------------------------------------------------------------


class _LitellmImportWatcher(importlib.abc.MetaPathFinder):
    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname != "litellm":
            return None
        _remove_watcher()
        spec = importlib.util.find_spec(fullname)
        loader: Any = spec.loader if spec is not None else None
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        original = loader.exec_module

        def exec_module(module: ModuleType) -> None:
            original(module)
            loader.exec_module = original
            ensure_installed()

        loader.exec_module = exec_module
        return spec


_WATCHER = _LitellmImportWatcher()


def _remove_watcher() -> None:
    if _WATCHER in sys.meta_path:
        sys.meta_path.remove(_WATCHER)


def activate() -> None:
    """Record litellm calls from now on (at once, or as soon as litellm is imported)."""
    if "litellm" in sys.modules:
        ensure_installed()
    elif _WATCHER not in sys.meta_path:
        sys.meta_path.insert(0, _WATCHER)


def deactivate() -> None:
    _remove_watcher()
    uninstall()


def ensure_installed() -> None:
    """Register the capture callback with litellm (once; again if the user replaced the list)."""
    global _logger_instance
    import litellm

    if _logger_instance is None:
        _logger_instance = _make_logger_class()()
    callbacks = litellm.callbacks
    # Drop stale instances of this logger (a re-imported copy of this module, e.g. under
    # pytester), which would otherwise record every call twice.
    callbacks[:] = [
        cb
        for cb in callbacks
        if cb is _logger_instance or type(cb).__name__ != "AgentopsLitellmLogger"
    ]
    if not any(cb is _logger_instance for cb in callbacks):
        callbacks.append(_logger_instance)


def uninstall() -> None:
    litellm = sys.modules.get("litellm")
    if litellm is None or _logger_instance is None:
        return
    litellm.callbacks[:] = [cb for cb in litellm.callbacks if cb is not _logger_instance]


def _get(obj: Any, name: str, default: Any = None) -> Any:
    if obj is None:
        return default
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


def _message_dict(message: Any) -> dict[str, Any] | None:
    if message is None:
        return None
    data = jsonable(message)
    if not isinstance(data, dict):
        return {"role": "assistant", "content": data}
    out = {"role": data.get("role") or "assistant", "content": data.get("content")}
    if data.get("tool_calls"):
        out["tool_calls"] = data["tool_calls"]
    return out


def _duration_ms(start: Any, end: Any) -> float | None:
    if isinstance(start, datetime) and isinstance(end, datetime):
        return max((end - start).total_seconds() * 1000, 0.0)
    if isinstance(start, (int, float)) and isinstance(end, (int, float)):
        return max((end - start) * 1000, 0.0)
    return None


def success_fields(kwargs: dict[str, Any], response: Any, start: Any, end: Any) -> LLMFields:
    choices = _get(response, "choices") or []
    message = _message_dict(_get(choices[0], "message")) if choices else None
    usage = _get(response, "usage")
    details = _get(usage, "prompt_tokens_details")
    cost = kwargs.get("response_cost")
    return llm_fields(
        model=kwargs.get("model") or _get(response, "model") or "unknown",
        provider=kwargs.get("custom_llm_provider"),
        output_message=message,
        requested_tool_calls=requested_calls(message or {}),
        input_tokens=int(_get(usage, "prompt_tokens") or 0),
        output_tokens=int(_get(usage, "completion_tokens") or 0),
        cached_tokens=int(_get(details, "cached_tokens") or 0),
        cost_usd=float(cost) if cost is not None else None,
        duration_ms=_duration_ms(start, end),
        response_id=str(_get(response, "id") or "") or None,
    )


def failure_fields(kwargs: dict[str, Any], response: Any, start: Any, end: Any) -> LLMFields:
    exc = kwargs.get("exception")
    if isinstance(exc, BaseException):
        error = error_text(exc)
    else:
        error = str(exc or response or "litellm reported a failure without details")
    return llm_fields(
        model=kwargs.get("model") or "unknown",
        provider=kwargs.get("custom_llm_provider"),
        error=error,
        duration_ms=_duration_ms(start, end),
    )


def _make_logger_class() -> type:
    from litellm.integrations.custom_logger import CustomLogger

    class AgentopsLitellmLogger(CustomLogger):
        """Forwards litellm events to the recorder of the running test.

        A completion event goes to the recorder that saw the call start, even if that
        recorder has stopped since (the event may arrive from a worker thread just after the
        test body returned); the recorder's flush waits for it.
        """

        def __init__(self) -> None:
            super().__init__()
            self._owners: dict[str, Any] = {}
            self._ignored: set[str] = set()
            self._lock = threading.Lock()

        def log_pre_api_call(self, model: Any, messages: Any, kwargs: dict[str, Any]) -> None:
            recorder = ACTIVE.recorder
            call_id = kwargs.get("litellm_call_id")
            if CAPTURE_OFF.get():  # the plugin's own call (the judge)
                if call_id:
                    with self._lock:
                        self._ignored.add(call_id)
                return
            if recorder is None or not call_id or not recorder.capture_litellm:
                return
            with self._lock:
                self._owners[call_id] = recorder
            params = kwargs.get("litellm_params") or {}
            fields = llm_fields(
                model=model or kwargs.get("model") or "unknown",
                provider=kwargs.get("custom_llm_provider"),
                input_messages=jsonable(list(messages or [])),
            )
            recorder.llm_started(call_id, fields, is_async=bool(params.get("acompletion")))

        def _deliver(self, kwargs: dict[str, Any], fields: LLMFields) -> None:
            call_id = kwargs.get("litellm_call_id")
            with self._lock:
                if call_id in self._ignored:
                    self._ignored.discard(call_id)
                    return
                recorder = self._owners.pop(call_id, None) if call_id else None
            if recorder is None:  # not announced (e.g. a cache hit): the running test's
                recorder = ACTIVE.recorder
                if recorder is None or not recorder.capture_litellm:
                    return
            recorder.llm_finished(call_id, fields)

        def log_success_event(
            self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any
        ) -> None:
            self._deliver(kwargs, success_fields(kwargs, response_obj, start_time, end_time))

        def log_failure_event(
            self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any
        ) -> None:
            self._deliver(kwargs, failure_fields(kwargs, response_obj, start_time, end_time))

        async def async_log_success_event(
            self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any
        ) -> None:
            self.log_success_event(kwargs, response_obj, start_time, end_time)

        async def async_log_failure_event(
            self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any
        ) -> None:
            self.log_failure_event(kwargs, response_obj, start_time, end_time)

    return AgentopsLitellmLogger


async def flush_async_logging(timeout: float) -> None:
    """Let litellm's async logging worker run every queued callback (inside a running loop)."""
    try:
        from litellm.litellm_core_utils.logging_worker import GLOBAL_LOGGING_WORKER as worker
    except ImportError:  # older litellm: callbacks run as plain tasks
        await asyncio.sleep(0)
        return
    flush = getattr(worker, "flush", None)
    if flush is None:
        await asyncio.sleep(0)
        return
    with contextlib.suppress(asyncio.TimeoutError, RuntimeError):
        await asyncio.wait_for(flush(), timeout)


def drain_async_logging(timeout: float) -> None:
    """Run litellm's queued async callbacks to completion on a private event loop.

    Used when no event loop is running (a sync test that used ``asyncio.run``, or fixture
    teardown): the loop the agent ran on may be closed, and litellm would otherwise deliver the
    events only at interpreter exit.
    """

    async def run() -> None:
        await flush_async_logging(timeout)
        try:
            from litellm.litellm_core_utils.logging_worker import GLOBAL_LOGGING_WORKER as worker
        except ImportError:
            return
        stop = getattr(worker, "stop", None)
        if stop is not None:  # do not leave the worker task pending on a loop we close
            await stop()

    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(run())
    finally:
        loop.close()
