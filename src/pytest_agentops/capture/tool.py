"""The ``@tool`` decorator for an application's tool functions.

Application code imports this in production, so it depends on the standard library only (no
pytest, pydantic or litellm).  With no recorder active a decorated call costs one attribute
read and one extra Python call; with a recorder it also records name, arguments (bound by
parameter name), result or exception, and duration, then re-raises any exception unchanged.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar, overload

from .active import ACTIVE

F = TypeVar("F", bound=Callable[..., Any])

_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


def _make_binder(
    fn: Callable[..., Any],
) -> Callable[[tuple[Any, ...], dict[str, Any]], dict[str, Any]]:
    """Return a fast function mapping a call's (args, kwargs) to {parameter name: value}.

    Only the arguments the caller passed are recorded (defaults are not filled in), which is
    what a model's tool call carries too.  A leading ``self``/``cls`` is not recorded.
    """
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):  # builtins without a signature
        params = []
    skip = 1 if params and params[0].name in ("self", "cls") else 0
    names = tuple(p.name for p in params if p.kind in _POSITIONAL)
    var_positional = next((p.name for p in params if p.kind is p.VAR_POSITIONAL), None)
    n_names = len(names)

    def bind(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        bound = dict(zip(names[skip:], args[skip:n_names], strict=False))
        if len(args) > n_names:
            bound[var_positional or "args"] = list(args[n_names:])
        if kwargs:
            bound.update(kwargs)
        return bound

    return bind


@overload
def tool(fn: F, /) -> F: ...
@overload
def tool(*, name: str | None = None, replay: bool = True) -> Callable[[F], F]: ...


def tool(
    fn: F | None = None, /, *, name: str | None = None, replay: bool = True
) -> F | Callable[[F], F]:
    """Mark a function (sync or async) as an agent tool so its calls are recorded.

    Use as ``@tool``, ``@tool(name="lookup_order")`` or ``@tool(replay=False)``.  The wrapped
    function keeps its name, docstring, signature and type; it behaves exactly as before when
    no test is recording.  In a test with a cassette, its results are stored with the cassette
    and replayed from it; ``replay=False`` makes it always run for real.
    """
    if fn is None:

        def decorate(f: F) -> F:
            return _wrap(f, name, replay)

        return decorate
    return _wrap(fn, name, replay)


def _wrap(fn: F, name: str | None, replay: bool = True) -> F:
    if not callable(fn):
        raise TypeError(f"@tool decorates a function, got {type(fn).__name__}: {fn!r}")
    tool_name = name or getattr(fn, "__name__", None) or repr(fn)
    bind = _make_binder(fn)
    active = ACTIVE
    wrapper: Callable[..., Any]

    if inspect.iscoroutinefunction(fn):

        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            recorder = active.recorder
            if recorder is None:
                return await fn(*args, **kwargs)
            started = recorder.tool_started(tool_name, bind(args, kwargs), replay)
            if started.replayed is not None:  # answered from the test's cassette
                return recorder.tool_replayed(started)
            try:
                result = await fn(*args, **kwargs)
            except BaseException as exc:
                recorder.tool_finished(started, None, exc)
                raise
            recorder.tool_finished(started, result, None)
            return result

        wrapper = async_wrapper
    else:

        def sync_wrapper(*args: Any, **kwargs: Any) -> Any:
            recorder = active.recorder
            if recorder is None:
                return fn(*args, **kwargs)
            started = recorder.tool_started(tool_name, bind(args, kwargs), replay)
            if started.replayed is not None:  # answered from the test's cassette
                return recorder.tool_replayed(started)
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:
                recorder.tool_finished(started, None, exc)
                raise
            recorder.tool_finished(started, result, None)
            return result

        wrapper = sync_wrapper

    functools.update_wrapper(wrapper, fn)
    setattr(wrapper, "__agentops_tool__", tool_name)  # noqa: B010  (mypy: unknown attribute)
    return wrapper  # type: ignore[return-value]
