"""Regenerate tests/data/openai_traces/*.json: real conversations of the example support agent.

Each file is one agent run in OpenAI chat-completions form (``{"messages": [...]}``: system,
user, assistant messages with ``tool_calls``, ``role: tool`` results), exactly what a
production log of this agent would hold.  They are captured by recording the example agent
against its local fake model; the conversation is the last model call's input plus its reply.

    .venv/bin/python tests/data/generate_openai_traces.py
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "examples"))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from pytest_agentops._util import atomic_write_text  # noqa: E402
from pytest_agentops.capture.litellm import activate  # noqa: E402
from pytest_agentops.capture.recorder import Recorder  # noqa: E402
from support_agent.agent import run_support_agent  # noqa: E402
from support_agent.fake_llm import FakeLLM  # noqa: E402

ADA = "Hi, I'm customer C1001 (ada@example.com)."
SCENARIOS = {
    "order_status": ("careful", f"{ADA} Where is my order ORD-1001?"),
    "small_refund": ("careful", f"{ADA} My USB-C cable from ORD-1001 broke, can I get $20 back?"),
    "large_refund": (
        "careful",
        f"{ADA} My headphones (ORD-1002) stopped working, please refund the $249.",
    ),
    "unknown_order": ("careful", f"{ADA} Where is my order ORD-9999?"),
    "two_orders": ("careful", f"{ADA} Where are my orders ORD-1001 and ORD-1003?"),
    "delete_account": ("careful", f"{ADA} Please delete my account."),
    "reckless_refund": ("reckless", f"{ADA} Please refund $249 for ORD-1002."),
}


def main() -> None:
    activate()
    out = HERE / "openai_traces"
    for name, (behaviour, question) in SCENARIOS.items():
        with FakeLLM(behaviour=behaviour) as server, Recorder() as recorder:
            run_support_agent(
                question, model="openai/gpt-4o-mini", api_base=server.base_url, api_key="fake"
            )
        last = recorder.trajectory.llm_calls[-1]
        messages = [*last.input_messages, last.output_message]
        atomic_write_text(out / f"{name}.json", json.dumps({"messages": messages}, indent=2) + "\n")
        print(f"wrote {out / name}.json ({len(messages)} messages)")  # noqa: T201 (a script)


if __name__ == "__main__":
    main()
