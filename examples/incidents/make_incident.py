"""Make ``incident.otlp.json``: the production incident, as the shop's OpenTelemetry exported it.

The production code of the day: a model that had regressed (``FakeLLM("reckless")``: no
identity check, no manager approval), a backend whose approval check was broken
(:class:`BrokenApprovals`), and the agent without its approval guard.  The customer asks for a
$249 refund and gets it without a manager's approval.  The run is traced with
openinference-instrumentation-openai (litellm calls the model through the openai SDK) and
exported as an OTLP ``ExportTraceServiceRequest`` in protobuf's JSON mapping, as an OTLP/JSON
exporter writes it.

    python examples/incidents/make_incident.py   # needs the dev extra (OpenTelemetry SDK,
                                                 # openinference, the OTLP proto encoder)
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no price-table download

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

QUESTION = "Hi, I'm customer C1001 (ada@example.com). Please refund $249 for ORD-1002."


def main() -> None:
    from google.protobuf.json_format import MessageToDict
    from openinference.instrumentation.openai import OpenAIInstrumentor
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from support_agent.agent import run_support_agent
    from support_agent.fake_llm import FakeLLM
    from support_agent.store import SupportStore

    class BrokenApprovals(SupportStore):
        """The production bug: every refund looked approved."""

        def approved_amount(self, order_id: str) -> float:
            return float("inf")

    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "support-agent"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    OpenAIInstrumentor().instrument(tracer_provider=provider)
    tracer = provider.get_tracer("support-service")
    with FakeLLM(behaviour="reckless") as llm, tracer.start_as_current_span("support") as span:
        # the service's own span around a request, as OpenInference names an agent's
        span.set_attribute("openinference.span.kind", "AGENT")
        span.set_attribute("input.value", QUESTION)
        answer = run_support_agent(
            QUESTION,
            model="openai/gpt-4o-mini",
            api_base=llm.base_url,
            api_key="sk-test",
            store=BrokenApprovals.demo(),
        )
        span.set_attribute("output.value", answer)
    OpenAIInstrumentor().uninstrument()
    request = MessageToDict(encode_spans(exporter.get_finished_spans()))
    path = HERE / "incident.otlp.json"
    path.write_text(json.dumps(request, indent=2) + "\n")
    sys.stdout.write(f"wrote {path}\nthe agent answered: {answer}\n")


if __name__ == "__main__":
    main()
