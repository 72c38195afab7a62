"""Regenerate the production-trace fixtures in this directory with the real instrumentation libraries.

Every fixture records the same small support-agent run, against the project's scripted model
(``examples/support_agent/fake_llm.py``, ``FakeLLM(behaviour="reckless")``) on 127.0.0.1, with
the two tools ``lookup_order`` and ``refund`` of ``examples/support_agent/tools.py`` over a
fresh demo store:

    user:      "Refund order ORD-1001 for customer C1001."
    model  ->  lookup_order(order_id="ORD-1001")        -> {"order_id": "ORD-1001", ..., "total": 45.0}
    model  ->  refund(order_id="ORD-1001", amount=45.0) -> {"refund_id": "RF-1", ..., "status": "issued"}
    model  ->  "Done: I've refunded $45.00 for ORD-1001 (refund RF-1). ..."

The "error" run (second trace of ``otel_genai_collector.jsonl``) asks for ORD-1003 instead: its
refund of $129.00 raises ``PermissionError`` in the tool (over $100 needs manager approval),
the tool span fails, and the model answers with the error.  The ids are ``ORD-1001``/``C1001``
(not ``ORD-1``/``C-7``) because the scripted model only recognises the demo store's ids; the
amount is the order total the model reads from ``lookup_order`` ($45.00).

Nothing here talks to the internet: the model is FakeLLM, the LangSmith and OpenAI-tracing
"backends" are capture servers on 127.0.0.1 started by this script, and the API key is
``sk-test``.

How to run (each producer lives in its own venv because their dependencies conflict):

    python tests/data/traces/generate_traces.py setup          # creates /tmp/tracevenv-*/ (pip)
    python tests/data/traces/generate_traces.py all            # runs every target in its venv
    /tmp/tracevenv-otel/bin/python tests/data/traces/generate_traces.py otel-genai   # one target

``setup`` pins exactly the versions the committed fixtures were made with (see ``VENVS``;
Python 3.11.7):

    otel    openai 3.57.0, opentelemetry-instrumentation-openai-v2 2.4b0, opentelemetry-util-genai
            0.4b0, opentelemetry-sdk / -api / -proto / -exporter-otlp-proto-common 1.45.2,
            opentelemetry-instrumentation / -semantic-conventions 0.66b2, protobuf 7.36.2, httpx 0.28.1
    oi      openinference-instrumentation-openai 0.1.66, openinference-instrumentation 0.1.72,
            openinference-semantic-conventions 0.1.42 (+ openai / OpenTelemetry as in otel)
    ll      traceloop-sdk 0.62.4 (--no-deps), opentelemetry-instrumentation-openai 0.62.4,
            opentelemetry-semantic-conventions-ai 0.5.1, opentelemetry-sdk 1.45.1 / instrumentation 0.66b1
    agents  openai-agents 0.24.0, openai 3.57.0
    lc      langchain-core 1.8.3, langchain-openai 1.7.4, langgraph 1.2.24, langgraph-prebuilt 1.1.3,
            langsmith 0.15.1, openai 3.57.0
    lf      langfuse 4.18.0, openai 3.57.0

Targets (venv) and the files they write:

    otel-genai         (otel)    otel_genai_protobuf_json.json, otel_genai_otlp.json,
                                 otel_genai_logs_otlp.json, otel_genai_collector.jsonl
    otel-genai-latest  (otel)    the same four as otel_genai_latest_*  (gen_ai_latest_experimental)
    openinference      (oi)      openinference_otlp.json
    openllmetry        (ll)      openllmetry_otlp.json
    openai-agents      (agents)  openai_agents_trace.json, openai_agents_export.json,
                                 openai_agents_responses_trace.json
    langsmith          (lc)      langsmith_run_tree.json, langsmith_runs.json, langsmith_ingest.json
    langfuse           (lf)      langfuse_trace.json  (built from the SDK's API models: no server)

Ids and timestamps change on every run (the OTel ones use a seeded id generator, so their
ids are stable; FakeLLM's port shows up in a few URLs).
"""

from __future__ import annotations

import argparse
import ast
import base64
import json
import os
import random
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]  # the project checkout
sys.dont_write_bytecode = True  # leave no __pycache__ in the project's examples/ and src/
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "examples")]

QUESTION = "Refund order ORD-1001 for customer C1001."
QUESTION_ERROR = "Refund order ORD-1003 for customer C1001."
MODEL = "gpt-4o-mini"
API_KEY = "sk-test"
AGENT_NAME = "support"
TOOL_NAMES = ("lookup_order", "refund")
SEED = 20240601

VENV_ROOT = Path(os.environ.get("TRACE_VENV_ROOT", "/tmp"))
_OTEL = [
    "openai==3.57.0",
    "opentelemetry-api==1.45.2",
    "opentelemetry-sdk==1.45.2",
    "opentelemetry-exporter-otlp-proto-common==1.45.2",
    "opentelemetry-proto==1.45.2",
    "opentelemetry-instrumentation==0.66b2",
    "opentelemetry-semantic-conventions==0.66b2",
    "protobuf==7.36.2",
]
VENVS: dict[str, list[str]] = {
    # util-genai pinned: 2.4b0 imports util.genai.instruments, which 1.2b0+ renamed, and
    # from 1.0b0 on util-genai ignores OTEL_SEMCONV_STABILITY_OPT_IN (always "latest").
    "otel": [
        *_OTEL,
        "httpx==0.28.1",  # openai-v2 imports httpx; openai 3.x itself depends on httpx2
        "opentelemetry-instrumentation-openai-v2==2.4b0",
        "opentelemetry-util-genai==0.4b0",
    ],
    "oi": [
        *_OTEL,
        "openinference-instrumentation-openai==0.1.66",
        "openinference-instrumentation==0.1.72",
        "openinference-semantic-conventions==0.1.42",
    ],
    # traceloop-sdk pulls ~40 instrumentations and pip backtracks for ages: install it with
    # --no-deps (see NO_DEPS) plus the few it imports; its OTel is one patch behind (1.45.1).
    "ll": [
        "openai==3.57.0",
        "httpx==0.28.1",
        "protobuf==7.36.2",
        "opentelemetry-api==1.45.1",
        "opentelemetry-sdk==1.45.1",
        "opentelemetry-proto==1.45.1",
        "opentelemetry-exporter-otlp-proto-common==1.45.1",
        "opentelemetry-exporter-otlp-proto-http==1.45.1",
        "opentelemetry-exporter-otlp-proto-grpc==1.45.1",
        "opentelemetry-instrumentation==0.66b1",
        "opentelemetry-semantic-conventions==0.66b1",
        "opentelemetry-instrumentation-logging==0.66b1",
        "opentelemetry-instrumentation-threading==0.66b1",
        "opentelemetry-instrumentation-requests==0.66b1",
        "opentelemetry-instrumentation-urllib3==0.66b1",
        "opentelemetry-instrumentation-openai==0.62.4",
        "opentelemetry-semantic-conventions-ai==0.5.1",
        "aiohttp<4,>=3.11.11",
        "colorama<0.5.0,>=0.4.6",
        "cuid<0.5,>=0.4",
        "deprecated<2,>=1.2.14",
        "jinja2<4,>=3.1.5",
        "tenacity<10.0,>=8.2.3",
    ],
    "agents": ["openai==3.57.0", "openai-agents==0.24.0"],
    # langfuse 5.x no longer ships TraceWithFullDetails / ObservationsView: 4.18.0 does.
    "lf": ["openai==3.57.0", "langfuse==4.18.0"],
    "lc": [
        "openai==3.57.0",
        "langchain-core==1.8.3",
        "langchain-openai==1.7.4",
        "langgraph==1.2.24",
        "langgraph-prebuilt==1.1.3",
        "langsmith==0.15.1",
    ],
}

NO_DEPS = {"ll": ["traceloop-sdk==0.62.4"]}


# ---- the agent's pieces, shared by every producer ---------------------------------------------


def system_prompt() -> str:
    """``SYSTEM_PROMPT`` of examples/support_agent/agent.py (read, not imported: that needs litellm)."""
    tree = ast.parse((ROOT / "examples/support_agent/agent.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "SYSTEM_PROMPT":
            return ast.literal_eval(node.value)
    raise RuntimeError("SYSTEM_PROMPT not found in agent.py")


def tool_schemas() -> list[dict[str, Any]]:
    from support_agent.tools import TOOL_SCHEMAS

    return [s for s in TOOL_SCHEMAS if s["function"]["name"] in TOOL_NAMES]


def tool_description(name: str) -> str:
    return next(
        s["function"]["description"] for s in tool_schemas() if s["function"]["name"] == name
    )


def tool_parameters(name: str) -> dict[str, Any]:
    return next(
        s["function"]["parameters"] for s in tool_schemas() if s["function"]["name"] == name
    )


def backend() -> dict[str, Any]:
    """The two tools' plain implementations over a fresh demo store (no ``@tool`` recording)."""
    from support_agent.store import SupportStore
    from support_agent.tools import SupportTools

    tools = SupportTools(SupportStore.demo())
    return {name: getattr(SupportTools, name).__wrapped__.__get__(tools) for name in TOOL_NAMES}


def fake_llm(**kwargs: Any) -> Any:
    from support_agent.fake_llm import FakeLLM

    return FakeLLM("reckless", **kwargs)


def error_text(exc: BaseException) -> dict[str, str]:
    """What the project's agent loop sends the model when a tool raises."""
    return {"error": f"{type(exc).__name__}: {exc}"}


def chat_loop(
    client: Any, question: str, run_tool: Any
) -> tuple[str, list[dict[str, Any]], dict[str, int]]:
    """The project's tool loop on the openai SDK: ``run_tool(call, arguments) -> result``."""
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": system_prompt()},
        {"role": "user", "content": question},
    ]
    usage = {"input_tokens": 0, "output_tokens": 0}
    for _ in range(8):
        response = client.chat.completions.create(
            model=MODEL, messages=messages, tools=tool_schemas(), temperature=0
        )
        usage["input_tokens"] += response.usage.prompt_tokens
        usage["output_tokens"] += response.usage.completion_tokens
        message = response.choices[0].message
        messages.append(message.model_dump(exclude_none=True))
        if not message.tool_calls:
            return str(message.content), messages, usage
        for call in message.tool_calls:
            result = run_tool(call, json.loads(call.function.arguments))
            messages.append(
                {"role": "tool", "tool_call_id": call.id, "content": json.dumps(result)}
            )
    raise RuntimeError("no answer after 8 model calls")


# ---- OTLP serialisation -----------------------------------------------------------------------

_ID_KEYS = {"traceId", "spanId", "parentSpanId"}


def hex_ids(value: Any) -> Any:
    """protobuf's JSON mapping writes bytes ids as base64; OTLP/JSON wants lowercase hex."""
    if isinstance(value, dict):
        return {
            k: base64.b64decode(v).hex() if k in _ID_KEYS and isinstance(v, str) else hex_ids(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [hex_ids(v) for v in value]
    return value


def protobuf_json(request: Any) -> dict[str, Any]:
    """``MessageToDict`` as is: base64 ids, enum names, int64 as strings."""
    from google.protobuf.json_format import MessageToDict

    return MessageToDict(request)


def otlp_json(request: Any) -> dict[str, Any]:
    """The OTLP/JSON encoding (what the collector's file exporter writes): hex ids, enum ints."""
    from google.protobuf.json_format import MessageToDict

    return hex_ids(MessageToDict(request, use_integers_for_enums=True))


def encode_spans(spans: Any) -> Any:
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans as encode

    return encode(sorted(spans, key=lambda s: s.start_time))


def encode_logs(records: Any) -> Any:
    from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs as encode

    return encode(records)


def otel_setup(with_logs: bool = False) -> tuple[Any, Any, Any, Any]:
    """A TracerProvider (and LoggerProvider) exporting to memory, with seeded ids."""
    from opentelemetry import trace
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.sdk.trace.id_generator import IdGenerator

    rng = random.Random(SEED)

    class SeededIds(IdGenerator):  # stable ids from one regeneration to the next
        def generate_span_id(self) -> int:
            return rng.getrandbits(64)

        def generate_trace_id(self) -> int:
            return rng.getrandbits(128)

    resource = Resource.create({"service.name": "support-agent"})
    spans = InMemorySpanExporter()
    provider = TracerProvider(resource=resource, id_generator=SeededIds())
    provider.add_span_processor(SimpleSpanProcessor(spans))
    trace.set_tracer_provider(provider)
    logs = log_provider = None
    if with_logs:
        from opentelemetry._logs import set_logger_provider
        from opentelemetry.sdk._logs import LoggerProvider
        from opentelemetry.sdk._logs.export import (
            InMemoryLogRecordExporter,
            SimpleLogRecordProcessor,
        )

        logs = InMemoryLogRecordExporter()
        log_provider = LoggerProvider(resource=resource)
        log_provider.add_log_record_processor(SimpleLogRecordProcessor(logs))
        set_logger_provider(log_provider)
    return provider, spans, log_provider, logs


def write_json(name: str, data: Any) -> None:
    path = HERE / name
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {path.relative_to(ROOT)} ({path.stat().st_size} bytes)")


def write_jsonl(name: str, lines: list[Any]) -> None:
    path = HERE / name
    path.write_text("".join(json.dumps(line, separators=(",", ":")) + "\n" for line in lines))
    print(f"wrote {path.relative_to(ROOT)} ({path.stat().st_size} bytes)")


# ---- 1. OpenTelemetry GenAI (opentelemetry-instrumentation-openai-v2) --------------------------


def otel_genai(latest: bool) -> None:
    """openai-v2 2.4b0 on util-genai 0.4b0, in its default mode or the latest experimental one.

    Default mode (``latest=False``): GenAI semconv v1.30 on the chat spans, message content
    (with ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true``) only in log events.
    ``OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental`` (``latest=True``): the newest
    conventions, content as JSON attributes ``gen_ai.input.messages`` /
    ``gen_ai.output.messages`` on the span (capture mode ``span_and_event`` also emits one
    ``gen_ai.client.inference.operation.details`` log event per call).  The invoke_agent and
    execute_tool spans come from util-genai's own ``TelemetryHandler``.
    """
    if latest:
        os.environ["OTEL_SEMCONV_STABILITY_OPT_IN"] = "gen_ai_latest_experimental"
        os.environ["OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"] = "span_and_event"
    else:
        os.environ.pop("OTEL_SEMCONV_STABILITY_OPT_IN", None)
        os.environ["OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"] = "true"
    import openai
    from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor
    from opentelemetry.util.genai.handler import TelemetryHandler
    from opentelemetry.util.genai.types import (
        FunctionToolDefinition,
        InputMessage,
        OutputMessage,
        Text,
    )

    provider, spans, log_provider, logs = otel_setup(with_logs=True)
    OpenAIInstrumentor().instrument(tracer_provider=provider, logger_provider=log_provider)
    handler = TelemetryHandler(tracer_provider=provider, logger_provider=log_provider)

    def run(question: str) -> None:
        tools = backend()
        with fake_llm() as llm:
            client = openai.OpenAI(base_url=llm.base_url, api_key=API_KEY)
            agent = handler.start_invoke_local_agent("openai", request_model=MODEL)
            agent.agent_name = AGENT_NAME
            agent.input_messages = [InputMessage("user", [Text(question)])]
            agent.system_instruction = [Text(system_prompt())]
            agent.tool_definitions = [
                FunctionToolDefinition(
                    s["function"]["name"], s["function"]["description"], s["function"]["parameters"]
                )
                for s in tool_schemas()
            ]

            def run_tool(call: Any, arguments: dict[str, Any]) -> Any:
                name = call.function.name
                invocation = handler.start_tool(
                    name,
                    arguments=arguments,
                    tool_call_id=call.id,
                    tool_type="function",
                    tool_description=tool_description(name),
                )
                try:
                    result = tools[name](**arguments)
                except Exception as exc:
                    invocation.fail(exc)
                    return error_text(exc)
                invocation.tool_result = result
                invocation.stop()
                return result

            answer, _, usage = chat_loop(client, question, run_tool)
            agent.output_messages = [OutputMessage("assistant", [Text(answer)], "stop")]
            agent.input_tokens = usage["input_tokens"]
            agent.output_tokens = usage["output_tokens"]
            agent.stop()

    run(QUESTION)
    first = encode_spans(spans.get_finished_spans())
    first_logs = encode_logs(logs.get_finished_logs())
    spans.clear()
    logs.clear()
    run(QUESTION_ERROR)
    second = encode_spans(spans.get_finished_spans())

    prefix = "otel_genai_latest" if latest else "otel_genai"
    write_json(f"{prefix}_protobuf_json.json", protobuf_json(first))
    write_json(f"{prefix}_otlp.json", otlp_json(first))
    write_json(f"{prefix}_logs_otlp.json", otlp_json(first_logs))
    write_jsonl(f"{prefix}_collector.jsonl", [otlp_json(first), otlp_json(second)])


def target_otel_genai() -> None:
    otel_genai(latest=False)


def target_otel_genai_latest() -> None:
    otel_genai(latest=True)


# ---- 2. OpenInference (openinference-instrumentation-openai) ----------------------------------


def target_openinference() -> None:
    """OpenInference's OpenAI instrumentor for the LLM spans; the agent (AGENT) and tool (TOOL)
    spans come from openinference-instrumentation's own ``OITracer`` helpers."""
    import openai
    from openinference.instrumentation import OITracer, TraceConfig
    from openinference.instrumentation.openai import OpenAIInstrumentor

    provider, spans, _, _ = otel_setup()
    OpenAIInstrumentor().instrument(tracer_provider=provider)
    tracer = OITracer(provider.get_tracer("support-agent"), config=TraceConfig())
    tools = backend()

    def run_tool(call: Any, arguments: dict[str, Any]) -> Any:
        name = call.function.name
        with tracer.start_as_current_span(name, openinference_span_kind="tool") as span:
            span.set_tool(
                name=name, description=tool_description(name), parameters=tool_parameters(name)
            )
            span.set_input(arguments)
            try:
                result = tools[name](**arguments)
            except Exception as exc:
                span.record_exception(exc)
                span.set_status(StatusError(exc))
                result = error_text(exc)
            span.set_output(result)
            return result

    with fake_llm() as llm:
        client = openai.OpenAI(base_url=llm.base_url, api_key=API_KEY)
        with tracer.start_as_current_span(AGENT_NAME, openinference_span_kind="agent") as agent:
            agent.set_input(QUESTION)
            answer, _, _ = chat_loop(client, QUESTION, run_tool)
            agent.set_output(answer)
            agent.set_status(StatusOk())
    write_json("openinference_otlp.json", otlp_json(encode_spans(spans.get_finished_spans())))


def StatusError(exc: BaseException) -> Any:
    from opentelemetry.trace import Status, StatusCode

    return Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}")


def StatusOk() -> Any:
    from opentelemetry.trace import Status, StatusCode

    return Status(StatusCode.OK)


# ---- 3. OpenLLMetry (traceloop's opentelemetry-instrumentation-openai, via traceloop-sdk) -----


def target_openllmetry() -> None:
    """traceloop-sdk's ``Traceloop.init`` (OpenAI instrumentation only, in-memory exporter) and
    its ``@agent`` / ``@tool`` decorators for the agent and tool spans.

    Traceloop builds its own TracerProvider, so ids here are random, not seeded.
    """
    os.environ.update(
        TRACELOOP_TELEMETRY="false",
        TRACELOOP_METRICS_ENABLED="false",
        TRACELOOP_TRACE_CONTENT="true",
    )
    import openai
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from traceloop.sdk import Instruments, Traceloop
    from traceloop.sdk.decorators import agent, tool

    spans = InMemorySpanExporter()
    Traceloop.init(
        app_name="support-agent",
        exporter=spans,
        disable_batch=True,
        telemetry_enabled=False,
        instruments={Instruments.OPENAI},
    )
    backend_tools = backend()

    @tool(name="lookup_order")
    def lookup_order(order_id: str) -> Any:
        return backend_tools["lookup_order"](order_id=order_id)

    @tool(name="refund")
    def refund(order_id: str, amount: float) -> Any:
        return backend_tools["refund"](order_id=order_id, amount=amount)

    decorated = {"lookup_order": lookup_order, "refund": refund}

    def run_tool(call: Any, arguments: dict[str, Any]) -> Any:
        try:
            return decorated[call.function.name](**arguments)
        except Exception as exc:
            return error_text(exc)

    with fake_llm() as llm:
        client = openai.OpenAI(base_url=llm.base_url, api_key=API_KEY)

        @agent(name=AGENT_NAME)
        def support_agent(question: str) -> str:
            return chat_loop(client, question, run_tool)[0]

        support_agent(QUESTION)
    write_json("openllmetry_otlp.json", otlp_json(encode_spans(spans.get_finished_spans())))


# ---- capture servers (a tracing backend on 127.0.0.1) ------------------------------------------


class CaptureServer:
    """Records every request a tracing exporter sends it and answers 200 ``{}``.

    ``requests``: ``{"method", "path", "content_type", "body"}`` with the body parsed as JSON
    when it is JSON; headers other than Content-Type are not kept (no Authorization).
    """

    def __init__(self, answers: dict[str, Any] | None = None) -> None:
        self.requests: list[dict[str, Any]] = []
        self.answers = answers or {}
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                outer.requests.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "content_type": self.headers.get("Content-Type"),
                        "content_encoding": self.headers.get("Content-Encoding"),
                        "raw": raw,
                    }
                )
                body = json.dumps(outer.answers.get(self.path.split("?")[0], {})).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_POST = do_GET = do_PATCH = do_PUT = _answer

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> CaptureServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


# ---- 4. OpenAI Agents SDK (openai-agents) -----------------------------------------------------

HANDOFF_PREFIX = "transfer_to_"


def script_handoffs() -> None:
    """Teach FakeLLM to hand off: when a handoff tool is offered and nothing was called yet.

    The scripted model knows only the support tools, so the triage agent's first turn (the one
    request whose tools include ``transfer_to_*``) is answered here with that handoff call; every
    other request goes to the scripted model unchanged.
    """
    import hashlib

    from support_agent import fake_llm as module

    original = module.completion

    def completion(body: Any, behaviour: str) -> dict[str, Any]:
        names = [(t.get("function") or {}).get("name") or "" for t in body.get("tools") or []]
        handoffs = [n for n in names if n.startswith(HANDOFF_PREFIX)]
        messages = body.get("messages") or []
        if not handoffs or any(m.get("role") == "tool" for m in messages):
            return original(body, behaviour)
        call = {
            "id": "call_0_0",
            "type": "function",
            "function": {"name": handoffs[0], "arguments": "{}"},
        }
        prompt = json.dumps([messages, body.get("tools")], sort_keys=True)
        usage = {
            "prompt_tokens": module._tokens(prompt),
            "completion_tokens": module._tokens(json.dumps([call])),
        }
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        return {
            "id": "chatcmpl-" + hashlib.sha256(prompt.encode()).hexdigest()[:24],
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body["model"],
            "system_fingerprint": "fp_fake_llm",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": None, "tool_calls": [call]},
                    "finish_reason": "tool_calls",
                    "logprobs": None,
                }
            ],
            "usage": usage,
        }

    module.completion = completion


def target_openai_agents() -> None:
    """Triage agent --handoff--> refund agent (tools lookup_order, refund), on chat completions
    (``generation`` spans) and on the Responses API (``response`` spans).

    The SDK's traces go to (1) a ``TracingProcessor`` that keeps ``trace.export()`` and
    ``span.export()``, and (2) the SDK's own ``BatchTraceProcessor(BackendSpanExporter)`` pointed
    at a capture server on 127.0.0.1 (never api.openai.com), with the sanitising the exporter
    applies for OpenAI's endpoint switched on, so the captured body is exactly what OpenAI's
    ingest endpoint would receive.
    """
    from agents import (
        Agent,
        OpenAIChatCompletionsModel,
        OpenAIResponsesModel,
        Runner,
        function_tool,
        set_trace_processors,
        set_tracing_disabled,
        trace,
    )
    from agents.tracing import TracingProcessor
    from agents.tracing.processors import BackendSpanExporter, BatchTraceProcessor
    from openai import AsyncOpenAI

    class Collector(TracingProcessor):
        def __init__(self) -> None:
            self.traces: list[dict[str, Any]] = []
            self.spans: list[dict[str, Any]] = []

        def on_trace_start(self, trace: Any) -> None:
            pass

        def on_trace_end(self, trace: Any) -> None:
            self.traces.append(trace.export())

        def on_span_start(self, span: Any) -> None:
            pass

        def on_span_end(self, span: Any) -> None:
            self.spans.append(span.export())

        def shutdown(self) -> None:
            pass

        def force_flush(self) -> None:
            pass

    class LocalExporter(BackendSpanExporter):
        def _should_sanitize_for_openai_tracing_api(self) -> bool:
            return True  # post what OpenAI's ingest endpoint would get

    script_handoffs()
    set_tracing_disabled(False)
    for api in ("chat", "responses"):
        backend_tools = backend()

        # The SDK sends a tool's result to the model as str(result): return JSON text.
        @function_tool
        def lookup_order(order_id: str) -> str:
            """Look up an order's status, items, total and amount already refunded."""
            return json.dumps(backend_tools["lookup_order"](order_id))  # noqa: B023

        @function_tool
        def refund(order_id: str, amount: float) -> str:
            """Refund an order. Over $100 needs manager approval first."""
            return json.dumps(backend_tools["refund"](order_id, amount))  # noqa: B023

        collector = Collector()
        with CaptureServer() as sink, fake_llm() as llm:
            exporter = LocalExporter(api_key=API_KEY, endpoint=f"{sink.url}/v1/traces/ingest")
            batch = BatchTraceProcessor(exporter, schedule_delay=60.0)
            set_trace_processors([collector, batch])
            client = AsyncOpenAI(base_url=llm.base_url, api_key=API_KEY)
            kind = OpenAIChatCompletionsModel if api == "chat" else OpenAIResponsesModel
            model = kind(model=MODEL, openai_client=client)
            refund_agent = Agent(
                name="Refund agent",
                handoff_description="Handles refunds: looks orders up and refunds them.",
                instructions=system_prompt(),
                tools=[lookup_order, refund],
                model=model,
            )
            triage = Agent(
                name="Triage agent",
                instructions="Hand refund requests to the refund agent.",
                handoffs=[refund_agent],
                model=model,
            )
            with trace(
                "Support workflow", group_id="conversation-1", metadata={"customer": "C1001"}
            ):
                result = Runner.run_sync(triage, QUESTION)
            assert "refunded $45.00" in str(result.final_output), result.final_output
            batch.force_flush()
            batch.shutdown()
        posted = [json.loads(r["raw"]) for r in sink.requests if r["method"] == "POST"]
        assert posted, "the BackendSpanExporter posted nothing"
        if api == "chat":
            write_json(
                "openai_agents_trace.json", {"trace": collector.traces[0], "spans": collector.spans}
            )
            # One POST per batch: normally all items arrive in one {"data": [...]} body.
            write_json("openai_agents_export.json", posted[0] if len(posted) == 1 else posted)
        else:
            write_json(
                "openai_agents_responses_trace.json",
                {"trace": collector.traces[0], "spans": collector.spans},
            )


# ---- 5. LangSmith run trees (LangGraph ReAct agent on langchain-openai) ------------------------


def iso(value: Any) -> Any:
    """JSON-able copy: datetimes as ISO 8601 strings, UUIDs and Decimals as strings."""
    import datetime
    import decimal
    import uuid

    if isinstance(value, dict):
        return {str(k): iso(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [iso(v) for v in value]
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if isinstance(value, (uuid.UUID, decimal.Decimal)):
        return str(value)
    if isinstance(value, (str, int, float, bool, type(None))):
        return value
    # Anything else (messages, LangGraph's Send, ...): as the langsmith client serialises it.
    from langsmith._internal._serde import dumps_json

    return json.loads(dumps_json(value))


def target_langsmith() -> None:
    """LangGraph's prebuilt ReAct agent with ChatOpenAI and two tools, traced twice at once:

    * a ``BaseTracer`` subclass keeps the finished root ``Run`` (langsmith's ``RunTree``), dumped
      with its ``child_runs`` -> langsmith_run_tree.json;
    * the real LangSmith tracer (``LANGSMITH_TRACING=true``) posts to a capture server on
      127.0.0.1 answering ``GET /info`` with ``use_multipart_endpoint: false``, so the client
      sends plain JSON ``POST /runs/batch`` bodies -> langsmith_ingest.json;
    * each run of the tree as langsmith's read model ``langsmith.schemas.Run`` (what
      ``Client.list_runs`` / ``read_run`` return), flat, in dotted_order -> langsmith_runs.json.
      The fields the server computes (status, token totals, child_run_ids) are derived here
      from the run itself; the costs stay null (no server to price them).
    """
    info = {
        "version": "0.10.0",
        "batch_ingest_config": {
            "use_multipart_endpoint": False,
            "scale_up_qsize_trigger": 1000,
            "scale_up_nthreads_limit": 1,
            "scale_down_nempty_trigger": 4,
            "size_limit": 100,
            "size_limit_bytes": 20971520,
        },
    }
    with CaptureServer(answers={"/info": info}) as sink, fake_llm() as llm:
        os.environ.update(
            LANGSMITH_TRACING="true",
            LANGSMITH_ENDPOINT=sink.url,
            LANGSMITH_API_KEY="lsv2_pt_test",
            LANGSMITH_PROJECT="support-agent",
        )
        from langchain_core.tools import tool as langchain_tool
        from langchain_core.tracers.base import BaseTracer
        from langchain_core.tracers.langchain import LangChainTracer, wait_for_all_tracers
        from langchain_openai import ChatOpenAI
        from langgraph.prebuilt import create_react_agent
        from langsmith.schemas import Run as LangSmithRun

        class KeepRoot(BaseTracer):
            # BaseTracer's default records chat-model runs as on_llm_start does, with inputs
            # {"prompts": [one flattened string]}; LangSmith's tracer keeps the messages
            # ({"messages": [[dumpd(message), ...]]}): borrow its handler.
            on_chat_model_start = LangChainTracer.on_chat_model_start

            def __init__(self) -> None:
                super().__init__()
                self.roots: list[Any] = []

            def _persist_run(self, run: Any) -> None:
                self.roots.append(run)

        backend_tools = backend()

        @langchain_tool
        def lookup_order(order_id: str) -> str:
            """Look up an order's status, items, total and amount already refunded."""
            return json.dumps(backend_tools["lookup_order"](order_id))

        @langchain_tool
        def refund(order_id: str, amount: float) -> str:
            """Refund an order. Over $100 needs manager approval first."""
            return json.dumps(backend_tools["refund"](order_id, amount))

        model = ChatOpenAI(model=MODEL, base_url=llm.base_url, api_key=API_KEY, temperature=0)
        agent = create_react_agent(model, [lookup_order, refund], prompt=system_prompt())
        keeper = KeepRoot()
        state = agent.invoke(
            {"messages": [("user", QUESTION)]},
            {"callbacks": [keeper], "run_name": "support-agent", "tags": ["fixture"]},
        )
        answer = state["messages"][-1].content
        assert "refunded $45.00" in answer, answer
        wait_for_all_tracers()

    root = keeper.roots[0]

    def tree(run: Any) -> dict[str, Any]:  # RunTree's own dump leaves child_runs out
        data = run.model_dump(exclude={"child_runs", *RUN_TREE_PRIVATE})
        return {**iso(data), "child_runs": [tree(child) for child in run.child_runs]}

    write_json("langsmith_run_tree.json", tree(root))

    runs: list[Any] = []

    def walk(run: Any) -> None:
        runs.append(run)
        for child in run.child_runs:
            walk(child)

    walk(root)
    by_id = {run.id: run for run in runs}
    flat = []
    for run in sorted(runs, key=lambda r: r.dotted_order):
        fields = run.model_dump(exclude={"child_runs", *RUN_TREE_PRIVATE})
        usage = _llm_usage(run)
        parents = []
        parent = run.parent_run_id
        while parent is not None:
            parents.append(parent)
            parent = by_id[parent].parent_run_id
        read = LangSmithRun(
            **{k: v for k, v in fields.items() if k in LangSmithRun.model_fields},
            status="error" if run.error else "success",
            child_run_ids=[c.id for c in run.child_runs],
            parent_run_ids=parents[::-1],
            **usage,
        )
        flat.append(iso(read.model_dump(exclude={"child_runs", "attachments"})))
    write_json("langsmith_runs.json", flat)

    bodies = []
    for request in sink.requests:
        if request["method"] == "GET":
            continue
        raw = request["raw"]
        if request["content_encoding"] == "zstd":
            import zstandard

            raw = zstandard.ZstdDecompressor().decompress(raw, max_output_size=1 << 26)
        bodies.append(
            {"method": request["method"], "path": request["path"], "body": json.loads(raw)}
        )
    write_json("langsmith_ingest.json", bodies)


#: RunTree fields that are client state, not run data.
RUN_TREE_PRIVATE = {
    "ls_client",
    "client",
    "session_name",
    "replicas",
    "address",
    "api_key",
    "api_url",
}


def _llm_usage(run: Any) -> dict[str, Any]:
    """Token totals the LangSmith server derives, here summed from the run's LLM outputs."""
    totals = {"prompt_tokens": 0, "completion_tokens": 0}
    found = False

    def visit(node: Any) -> None:
        nonlocal found
        if node.run_type == "llm":
            for generations in (node.outputs or {}).get("generations", []):
                for generation in generations:
                    usage = (
                        (generation.get("message") or {}).get("kwargs", {}).get("usage_metadata")
                    )
                    if usage:
                        found = True
                        totals["prompt_tokens"] += usage["input_tokens"]
                        totals["completion_tokens"] += usage["output_tokens"]
        for child in node.child_runs:
            visit(child)

    visit(run)
    if not found:
        return {}
    return {**totals, "total_tokens": totals["prompt_tokens"] + totals["completion_tokens"]}


# ---- 6. Langfuse (built from the langfuse SDK's API models: no Langfuse server here) -----------

#: gpt-4o-mini list prices in USD per token, as Langfuse's default model table prices it.
GPT_4O_MINI_PRICES = {"input": 0.15e-6, "output": 0.6e-6}


def target_langfuse() -> None:
    """``GET /api/public/traces/{traceId}`` as a ``TraceWithFullDetails`` of langfuse 4.18.0.

    No Langfuse server is reachable, so the trace is not fetched: the agent really runs (openai
    SDK loop, FakeLLM, the two tools) and its timings, messages, tool calls and usage fill the
    SDK's own API models (``TraceWithFullDetails``, ``ObservationsView``, ``Usage``), which are
    then serialised with the models' own ``.json()`` (Fern aliases: camelCase).  Ids follow
    Langfuse v3+ (OTel-based ingestion): 32-hex trace id, 16-hex observation ids.  Costs are
    computed here from gpt-4o-mini's list price, as the server would.  langfuse 5.x dropped
    these models (its API has only ``ObservationV2`` / observations v2), hence 4.18.0.
    """
    import datetime

    import openai
    from langfuse.api.commons.types import (
        ObservationLevel,
        ObservationsView,
        TraceWithFullDetails,
        Usage,
    )

    rng = random.Random(SEED)
    trace_id = f"{rng.getrandbits(128):032x}"

    def new_id() -> str:
        return f"{rng.getrandbits(64):016x}"

    def now() -> datetime.datetime:
        return datetime.datetime.now(datetime.timezone.utc)

    agent_id = new_id()
    observations: list[Any] = []
    tools = backend()
    common = {"trace_id": trace_id, "environment": "default", "version": None, "metadata": {}}

    def view(**fields: Any) -> Any:
        defaults = {
            "completion_start_time": None,
            "model": None,
            "model_parameters": {},
            "usage": Usage(input=0, output=0, total=0, unit="TOKENS"),
            "usage_details": {},
            "cost_details": {},
            "level": ObservationLevel.DEFAULT,
            "status_message": None,
            "prompt_id": None,
        }
        start, end = fields["start_time"], fields["end_time"]
        return ObservationsView(
            **{**common, **defaults, **fields},
            latency=round((end - start).total_seconds(), 3),
        )

    class Recording:
        """An openai client whose chat.completions.create records a GENERATION."""

        def __init__(self, client: Any) -> None:
            self.client = client
            self.chat = self
            self.completions = self

        def create(self, **request: Any) -> Any:
            start = now()
            response = self.client.chat.completions.create(**request)
            end = now()
            message = response.choices[0].message.model_dump(exclude_none=True)
            usage = response.usage
            cost = {
                "input": round(usage.prompt_tokens * GPT_4O_MINI_PRICES["input"], 10),
                "output": round(usage.completion_tokens * GPT_4O_MINI_PRICES["output"], 10),
            }
            cost["total"] = round(cost["input"] + cost["output"], 10)
            observations.append(
                view(
                    id=new_id(),
                    type="GENERATION",
                    name="OpenAI-generation",
                    start_time=start,
                    end_time=end,
                    completion_start_time=end,
                    model=response.model,
                    model_parameters={"temperature": request["temperature"]},
                    input=[dict(m) for m in request["messages"]],
                    output=message,
                    metadata={"tools": request["tools"]},
                    parent_observation_id=agent_id,
                    usage=Usage(
                        input=usage.prompt_tokens,
                        output=usage.completion_tokens,
                        total=usage.total_tokens,
                        unit="TOKENS",
                        input_cost=cost["input"],
                        output_cost=cost["output"],
                        total_cost=cost["total"],
                    ),
                    usage_details={
                        "input": usage.prompt_tokens,
                        "output": usage.completion_tokens,
                        "total": usage.total_tokens,
                    },
                    cost_details=cost,
                    model_id="gpt-4o-mini",
                    input_price=GPT_4O_MINI_PRICES["input"],
                    output_price=GPT_4O_MINI_PRICES["output"],
                    total_price=None,
                    calculated_input_cost=cost["input"],
                    calculated_output_cost=cost["output"],
                    calculated_total_cost=cost["total"],
                    time_to_first_token=round((end - start).total_seconds(), 3),
                    prompt_name=None,
                    prompt_version=None,
                )
            )
            return response

    def run_tool(call: Any, arguments: dict[str, Any]) -> Any:
        start = now()
        level, status = ObservationLevel.DEFAULT, None
        try:
            result = tools[call.function.name](**arguments)
        except Exception as exc:
            result = error_text(exc)
            level, status = ObservationLevel.ERROR, result["error"]
        observations.append(
            view(
                id=new_id(),
                type="TOOL",
                name=call.function.name,
                start_time=start,
                end_time=now(),
                input=arguments,
                output=result,
                metadata={"tool_call_id": call.id},
                parent_observation_id=agent_id,
                level=level,
                status_message=status,
            )
        )
        return result

    with fake_llm() as llm:
        started = now()
        client = Recording(openai.OpenAI(base_url=llm.base_url, api_key=API_KEY))
        answer, _, _usage = chat_loop(client, QUESTION, run_tool)
        ended = now()
    observations.insert(
        0,
        view(
            id=agent_id,
            type="AGENT",
            name=AGENT_NAME,
            start_time=started,
            end_time=ended,
            input=QUESTION,
            output=answer,
            parent_observation_id=None,
        ),
    )
    total_cost = round(sum(o.calculated_total_cost or 0 for o in observations), 10)
    trace = TraceWithFullDetails(
        id=trace_id,
        timestamp=started,
        name="support-agent",
        input=QUESTION,
        output=answer,
        session_id="conversation-1",
        release=None,
        version=None,
        user_id="C1001",
        metadata={"behaviour": "reckless"},
        tags=["fixture"],
        public=False,
        environment="default",
        html_path=f"/project/fixture-project/traces/{trace_id}",
        latency=round((ended - started).total_seconds(), 3),
        total_cost=total_cost,
        observations=observations,
        scores=[],
    )
    write_json("langfuse_trace.json", json.loads(trace.json()))


# ---- main -------------------------------------------------------------------------------------

TARGETS: dict[str, tuple[str, Any]] = {
    "otel-genai": ("otel", target_otel_genai),
    "otel-genai-latest": ("otel", target_otel_genai_latest),
    "openinference": ("oi", target_openinference),
    "openllmetry": ("ll", target_openllmetry),
    "openai-agents": ("agents", target_openai_agents),
    "langsmith": ("lc", target_langsmith),
    "langfuse": ("lf", target_langfuse),
}


def venv_python(venv: str) -> Path:
    return VENV_ROOT / f"tracevenv-{venv}" / "bin" / "python"


def setup() -> None:
    for venv, requirements in VENVS.items():
        python = venv_python(venv)
        if not python.exists():
            subprocess.run([sys.executable, "-m", "venv", str(python.parents[1])], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *requirements], check=True)
        if venv in NO_DEPS:
            subprocess.run(
                [str(python), "-m", "pip", "install", "-q", "--no-deps", *NO_DEPS[venv]], check=True
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("target", choices=["setup", "all", *TARGETS])
    args = parser.parse_args()
    if args.target == "setup":
        setup()
    elif args.target == "all":
        for target, (venv, _) in TARGETS.items():
            subprocess.run([str(venv_python(venv)), __file__, target], check=True)
    else:
        TARGETS[args.target][1]()


if __name__ == "__main__":
    main()
