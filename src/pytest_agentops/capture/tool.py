"""The ``@tool`` decorator for an application's tool functions.

Application code imports this in production, so it depends on the standard library only (no
pytest, pydantic or litellm).  With no recorder active a decorated call costs one attribute
read and one extra Python call; with a recorder it also records name, arguments (bound by
parameter name), result or exception, and duration, then re-raises any exception unchanged.
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Callable, Collection
from typing import Any, TypeVar, overload

from .active import ACTIVE

F = TypeVar("F", bound=Callable[..., Any])

_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


#: Types of the context that agent frameworks pass to tools beside the model's arguments:
#: pydantic-ai ``RunContext``, openai-agents ``RunContextWrapper``/``ToolContext``, LangChain
#: ``RunnableConfig``/``ToolRuntime``/callback managers and ``Annotated[..., Injected*]``
#: markers.  Matched by name in the annotation, so no framework is imported.
CONTEXT_TYPES = frozenset(
    {
        "RunContext",
        "RunContextWrapper",
        "ToolContext",
        "RunnableConfig",
        "ToolRuntime",
        "CallbackManagerForToolRun",
        "AsyncCallbackManagerForToolRun",
        "InjectedToolArg",
        "InjectedToolCallId",
        "InjectedState",
        "InjectedStore",
    }
)
#: LangChain passes these by name (its ``FILTERED_ARGS``) when the tool declares them; no
#: model argument is ever called that.
_CALLBACK_PARAMETERS = ("callbacks", "run_manager")
_IDENTIFIER = re.compile(r"[A-Za-z_]\w*")


def _is_context(param: inspect.Parameter) -> bool:
    annotation = param.annotation
    if annotation is inspect.Parameter.empty:
        return False
    text = annotation if isinstance(annotation, str) else repr(annotation)
    return not CONTEXT_TYPES.isdisjoint(_IDENTIFIER.findall(text))


def _left_out(params: list[inspect.Parameter], exclude: Collection[str]) -> frozenset[str]:
    """Parameters that are not the model's arguments: framework contexts, ``exclude``."""
    unknown = [name for name in exclude if name not in {p.name for p in params}]
    if unknown:
        raise TypeError(
            f"@tool(exclude={unknown!r}): no such parameter; the function's parameters: "
            + ", ".join(p.name for p in params)
        )
    out = set(exclude)
    out.update(p.name for p in params if _is_context(p) or p.name in _CALLBACK_PARAMETERS)
    return frozenset(out)


def _make_binder(
    fn: Callable[..., Any], exclude: Collection[str] = ()
) -> Callable[[tuple[Any, ...], dict[str, Any]], dict[str, Any]]:
    """Return a fast function mapping a call's (args, kwargs) to {parameter name: value}.

    Only the arguments the caller passed are recorded (defaults are not filled in), which is
    what a model's tool call carries too.  A leading ``self``/``cls`` is not recorded, nor are
    framework context parameters and ``exclude``.
    """
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):  # builtins without a signature
        params = []
    skip = 1 if params and params[0].name in ("self", "cls") else 0
    names = tuple(p.name for p in params if p.kind in _POSITIONAL)
    var_positional = next((p.name for p in params if p.kind is p.VAR_POSITIONAL), None)
    n_names = len(names)
    left_out = _left_out(params[skip:], exclude)

    def bind(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        bound = dict(zip(names[skip:], args[skip:n_names], strict=False))
        if len(args) > n_names:
            bound[var_positional or "args"] = list(args[n_names:])
        if kwargs:
            bound.update(kwargs)
        return bound

    if not left_out:
        return bind

    def bind_some(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in bind(args, kwargs).items() if k not in left_out}

    return bind_some


@overload
def tool(fn: F, /) -> F: ...
@overload
def tool(
    *, name: str | None = None, replay: bool = True, exclude: Collection[str] = ()
) -> Callable[[F], F]: ...


def tool(
    fn: F | None = None,
    /,
    *,
    name: str | None = None,
    replay: bool = True,
    exclude: Collection[str] = (),
) -> F | Callable[[F], F]:
    """Mark a function (sync or async) as an agent tool so its calls are recorded.

    Use as ``@tool``, ``@tool(name="lookup_order")``, ``@tool(replay=False)`` or
    ``@tool(exclude=["session"])``.  The wrapped function keeps its name, docstring, signature
    and type; it behaves exactly as before when no test is recording.  In a test with a
    cassette, its results are stored with the cassette and replayed from it; ``replay=False``
    makes it always run for real.  Framework context parameters (pydantic-ai ``RunContext``,
    openai-agents ``RunContextWrapper``, LangChain ``RunnableConfig``, injected arguments...)
    and the ``exclude`` parameters are not recorded.  With a framework's tool decorator, put
    ``@tool`` beneath it, on the function itself.
    """
    if isinstance(exclude, str):
        exclude = [exclude]
    if fn is None:

        def decorate(f: F) -> F:
            return _wrap(f, name, replay, exclude)

        return decorate
    return _wrap(fn, name, replay, exclude)


def code_fingerprint(fn: Callable[..., Any]) -> str | None:
    """A digest of a function's own code: its syntax tree without decorators, docstring,
    comments or layout (``None`` when the source is not available)."""
    import ast
    import hashlib
    import textwrap

    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    except (OSError, TypeError, SyntaxError):
        return None
    node = tree.body[0] if tree.body else tree
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        node.decorator_list = []
        body = node.body
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            node.body = body[1:] or [ast.Pass()]  # the docstring is not code

    def walk(value: Any) -> Any:
        if isinstance(value, ast.AST):
            return [type(value).__name__, *(walk(getattr(value, f, None)) for f in value._fields)]
        if isinstance(value, list):
            return [walk(v) for v in value]
        return repr(value)

    return hashlib.sha256(repr(walk(node)).encode()).hexdigest()[:16]


def _not_a_function(fn: object) -> TypeError:
    kind = type(fn).__name__
    if hasattr(fn, "name") or kind.endswith("Tool"):  # a framework's tool object
        name = getattr(fn, "name", None) or "my_tool"
        return TypeError(
            f"@tool got a {kind} ({type(fn).__module__}), not a function: the framework's tool "
            "decorator ran first. Put @tool beneath the framework's decorator, on the function "
            f"itself:\n\n    @function_tool  # or @tool from LangChain, @agent.tool...\n"
            f"    @pytest_agentops.tool\n    def {name}(...): ..."
        )
    return TypeError(f"@tool decorates a function, got {kind}: {fn!r}")


def _wrap(fn: F, name: str | None, replay: bool = True, exclude: Collection[str] = ()) -> F:
    if not callable(fn):
        raise _not_a_function(fn)
    tool_name = name or getattr(fn, "__name__", None) or repr(fn)
    bind = _make_binder(fn, exclude)
    code = functools.cache(functools.partial(code_fingerprint, fn))  # once, and only if asked
    active = ACTIVE
    wrapper: Callable[..., Any]

    if inspect.iscoroutinefunction(fn):

        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            recorder = active.recorder
            if recorder is None:
                return await fn(*args, **kwargs)
            started = recorder.tool_started(tool_name, bind(args, kwargs), replay, code)
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
            started = recorder.tool_started(tool_name, bind(args, kwargs), replay, code)
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
