"""The support agent's status flow written with each agent framework pytest-agentops records.

Each ``run_with_*`` function answers one customer question with a framework's own client,
tools and loop, talking to ``base_url`` (``FakeLLM`` while recording; nothing at all while
the cassette replays).  The tools are ``verify_identity`` and ``lookup_order`` over a fresh
demo store, reached the way each framework passes state to tools (a run context, a
``RunnableConfig``, dependencies).  ``decorated=True`` adds ``@pytest_agentops.tool`` beneath
the framework's decorator (exact timing and tool replay); without it the tool calls are read
from the conversation.  The frameworks are imported only by the function that uses them, so
annotations are evaluated as the functions are defined (no ``from __future__ import
annotations``): the frameworks read them to tell their context parameters apart.
"""

import asyncio
import json
from collections.abc import Callable
from typing import Any

from pytest_agentops import tool

from .agent import SYSTEM_PROMPT
from .store import SupportStore
from .tools import TOOL_SCHEMAS, SupportTools

KEY = "sk-fake-framework-0000000000000000"  # FakeLLM takes any key; replays need none
NAMES = ("verify_identity", "lookup_order")
SCHEMAS = [s for s in TOOL_SCHEMAS if s["function"]["name"] in NAMES]


def backend() -> dict[str, Callable[..., Any]]:
    """The two tools' implementations over a fresh demo store, with no ``@tool``."""
    tools = SupportTools(SupportStore.demo())
    return {name: getattr(SupportTools, name).__wrapped__.__get__(tools) for name in NAMES}


def _maybe_tool(decorated: bool) -> Callable[[Any], Any]:
    return tool if decorated else (lambda fn: fn)


def run_with_openai_agents(
    question: str, base_url: str, *, api: str = "responses", decorated: bool = False,
    stream: bool = False,
) -> str:  # fmt: skip
    """OpenAI Agents SDK; ``api``: ``responses``, ``chat`` (chat completions) or ``litellm``."""
    from agents import (
        Agent,
        OpenAIChatCompletionsModel,
        OpenAIResponsesModel,
        RunContextWrapper,
        Runner,
        function_tool,
        set_tracing_disabled,
    )
    from openai import AsyncOpenAI

    set_tracing_disabled(True)
    recorded = _maybe_tool(decorated)

    # The SDK sends a tool's result to the model as str(result): return JSON text.
    @function_tool
    @recorded
    def verify_identity(ctx: RunContextWrapper[Any], customer_id: str, email: str) -> str:
        """Verify the customer's identity. Required before any account or order lookup."""
        return json.dumps(ctx.context["verify_identity"](customer_id, email))

    @function_tool
    @recorded
    def lookup_order(ctx: RunContextWrapper[Any], order_id: str) -> str:
        """Look up an order's status, items, total and amount already refunded."""
        return json.dumps(ctx.context["lookup_order"](order_id))

    model: Any
    if api == "litellm":
        from agents.extensions.models.litellm_model import LitellmModel

        model = LitellmModel("openai/gpt-4o-mini", base_url=base_url, api_key=KEY)
    else:
        client = AsyncOpenAI(base_url=base_url, api_key=KEY)
        kind = OpenAIResponsesModel if api == "responses" else OpenAIChatCompletionsModel
        model = kind(model="gpt-4o-mini", openai_client=client)
    agent = Agent(
        name="support",
        instructions=SYSTEM_PROMPT,
        tools=[verify_identity, lookup_order],
        model=model,
    )
    if not stream:
        return str(Runner.run_sync(agent, question, context=backend()).final_output)

    async def streamed() -> str:
        result = Runner.run_streamed(agent, question, context=backend())
        async for _ in result.stream_events():
            pass
        return str(result.final_output)

    return asyncio.run(streamed())


def run_with_langgraph(
    question: str, base_url: str, *, decorated: bool = False, stream: bool = False
) -> str:
    """LangChain tools and ``ChatOpenAI`` in LangGraph's prebuilt ReAct agent."""
    from langchain_core.runnables import RunnableConfig
    from langchain_core.tools import tool as langchain_tool
    from langchain_openai import ChatOpenAI
    from langgraph.prebuilt import create_react_agent

    recorded = _maybe_tool(decorated)

    @langchain_tool
    @recorded
    def verify_identity(customer_id: str, email: str, config: RunnableConfig) -> Any:
        """Verify the customer's identity. Required before any account or order lookup."""
        return config["configurable"]["tools"]["verify_identity"](customer_id, email)

    @langchain_tool
    @recorded
    def lookup_order(order_id: str, config: RunnableConfig) -> Any:
        """Look up an order's status, items, total and amount already refunded."""
        return config["configurable"]["tools"]["lookup_order"](order_id)

    model = ChatOpenAI(
        model="gpt-4o-mini", base_url=base_url, api_key=KEY, streaming=stream, stream_usage=True
    )
    agent = create_react_agent(model, [verify_identity, lookup_order], prompt=SYSTEM_PROMPT)
    inputs = {"messages": [("user", question)]}
    config: Any = {"configurable": {"tools": backend()}}
    if stream:
        state: Any = None
        for values in agent.stream(inputs, config, stream_mode="values"):
            state = values
    else:
        state = agent.invoke(inputs, config)
    return str(state["messages"][-1].content)


def run_with_pydantic_ai(
    question: str, base_url: str, *, decorated: bool = False, stream: bool = False
) -> str:
    """pydantic-ai, its OpenAI chat model, and tools that take a ``RunContext``."""
    from pydantic_ai import Agent, RunContext
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.openai import OpenAIProvider

    model = OpenAIChatModel("gpt-4o-mini", provider=OpenAIProvider(base_url=base_url, api_key=KEY))
    agent = Agent(model, deps_type=dict, system_prompt=SYSTEM_PROMPT)
    recorded = _maybe_tool(decorated)

    @agent.tool
    @recorded
    def verify_identity(ctx: RunContext[dict[str, Any]], customer_id: str, email: str) -> Any:
        """Verify the customer's identity. Required before any account or order lookup."""
        return ctx.deps["verify_identity"](customer_id, email)

    @agent.tool
    @recorded
    def lookup_order(ctx: RunContext[dict[str, Any]], order_id: str) -> Any:
        """Look up an order's status, items, total and amount already refunded."""
        return ctx.deps["lookup_order"](order_id)

    async def drain(_: Any, events: Any) -> None:  # makes every model request a stream
        async for _ in events:
            pass

    handler = drain if stream else None
    return str(agent.run_sync(question, deps=backend(), event_stream_handler=handler).output)


def run_with_anthropic(
    question: str, base_url: str, *, decorated: bool = False, stream: bool = False
) -> str:
    """A hand-written tool loop on the anthropic SDK (the Messages API, content blocks)."""
    import anthropic

    client = anthropic.Anthropic(base_url=base_url.removesuffix("/v1"), api_key=KEY)
    schemas = [
        {"name": f["name"], "description": f["description"], "input_schema": f["parameters"]}
        for f in (s["function"] for s in SCHEMAS)
    ]
    recorded = _maybe_tool(decorated)
    tools = {name: recorded(fn) for name, fn in backend().items()}
    messages: list[Any] = [{"role": "user", "content": question}]
    request = {"model": "claude-haiku-4-5", "max_tokens": 1024, "system": SYSTEM_PROMPT}
    for _ in range(8):
        if stream:
            with client.messages.stream(**request, messages=messages, tools=schemas) as events:
                reply = events.get_final_message()
        else:
            reply = client.messages.create(**request, messages=messages, tools=schemas)
        messages.append({"role": "assistant", "content": [b.model_dump() for b in reply.content]})
        uses = [b for b in reply.content if b.type == "tool_use"]
        if not uses:
            return "".join(b.text for b in reply.content if b.type == "text")
        results = []
        for use in uses:
            try:
                content, failed = json.dumps(tools[use.name](**use.input)), False
            except Exception as exc:
                content, failed = f"{type(exc).__name__}: {exc}", True
            results.append(
                {
                    "type": "tool_result",
                    "tool_use_id": use.id,
                    "content": content,
                    "is_error": failed,
                }
            )
        messages.append({"role": "user", "content": results})
    raise RuntimeError("the agent did not answer in 8 turns")


def run_with_openai(
    question: str, base_url: str, *, decorated: bool = False, stream: bool = False
) -> str:
    """A hand-written tool loop on the openai SDK (chat completions)."""
    import openai

    client = openai.OpenAI(base_url=base_url, api_key=KEY)
    recorded = _maybe_tool(decorated)
    tools = {name: recorded(fn) for name, fn in backend().items()}
    messages: list[Any] = [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": question},
    ]
    for _ in range(8):
        request: Any = {"model": "gpt-4o-mini", "messages": messages, "tools": SCHEMAS}
        if stream:  # usage comes in the stream only when asked for
            request["stream_options"] = {"include_usage": True}
            with client.chat.completions.stream(**request) as events:
                message = events.get_final_completion().choices[0].message
        else:
            message = client.chat.completions.create(**request).choices[0].message
        messages.append(message.model_dump(exclude_none=True))
        if not message.tool_calls:
            return str(message.content)
        for call in message.tool_calls:
            result = tools[call.function.name](**json.loads(call.function.arguments))
            messages.append(
                {"role": "tool", "tool_call_id": call.id, "content": json.dumps(result)}
            )
    raise RuntimeError("the agent did not answer in 8 turns")
