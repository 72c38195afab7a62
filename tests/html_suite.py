"""A small recorded suite whose HTML report has one of everything: a passing run, a failing
assertion that names a step, a policy violation, a failed tool, judge verdicts, an unpriced
model, a repeated test with a failed trial, a secret and markup in tool results.  Shared by
tests/test_html_report.py and tests/test_html_browser.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

SECRET = "sk-proj-" + "Q7" * 24

CONFTEST = """
from pytest_agentops import Verdict

def pytest_agentops_judge(request):
    score = 1.0 if "please" in request.subject.lower() else 0.0
    return Verdict(criteria=request.criteria, score=score, passed=score >= request.threshold,
                   threshold=request.threshold, reasoning="keyword rule", model="rules",
                   on=request.on)
"""

POLICY = """schema_version: 1
name: shop
rules:
  - {id: no-account-deletion, forbid_tools: [delete_account]}
"""

SUITE = """
import pytest
from pytest_agentops import assert_tool_calls, tool

MARKUP = "</script><img src=x onerror=window.__xss=1>"

@tool
def lookup_order(order_id):
    return {"order_id": order_id, "status": "delivered", "note": MARKUP}

@tool
def refund(order_id, amount):
    if amount > 1000:
        raise ValueError("refund limit exceeded")
    return {"refunded": amount}

def ask(agent_trace, text, tool_name, arguments):
    agent_trace.llm_call(
        "gpt-4o-mini",
        input_messages=[{"role": "system", "content": "You are a shop assistant."},
                        {"role": "user", "content": text}],
        requested_tool_calls=[{"id": "call_1", "name": tool_name, "arguments": arguments}],
        input_tokens=120, output_tokens=15, duration_ms=40,
    )

def test_status(agent_trace):
    agent_trace.set_input("Where is ORD-1?")
    ask(agent_trace, "Where is ORD-1?", "lookup_order", {"order_id": "ORD-1"})
    lookup_order("ORD-1")
    agent_trace.llm_call("gpt-4o-mini", output="ORD-1 was delivered.", input_tokens=160,
                         output_tokens=12, duration_ms=30)
    agent_trace.set_output("ORD-1 was delivered.")

def test_refund_without_lookup(agent_trace):
    with agent_trace.step("plan"):
        agent_trace.llm_call("gpt-4o", output="refund it", input_tokens=5000, output_tokens=800)
        refund("ORD-2", 250)
    assert_tool_calls(agent_trace.trajectory, ["lookup_order", "refund"])

@pytest.mark.agentops_policy("policy.yaml")
def test_deletes_an_account(agent_trace):
    ask(agent_trace, "Close my account", "delete_account", {"customer": "C1"})
    agent_trace.tool_call("delete_account", {"customer": "C1"}, result="deleted")

def test_refund_over_the_limit(agent_trace):
    try:
        refund("ORD-3", 5000)
    except ValueError:
        agent_trace.set_output("I cannot refund that much.")

def test_judged(agent_trace, agent_judge):
    agent_trace.llm_call("gpt-4o-mini", output="No.", input_tokens=10, output_tokens=2)
    assert agent_judge("Yes please", "polite")
    agent_judge("No", "polite")

def test_unpriced_model(agent_trace):
    agent_trace.llm_call("acme/unknown-model-9", output="hi", input_tokens=10, output_tokens=2)

@pytest.mark.agentops_repeat(4, min_pass_rate=0.5)
def test_flaky(agent_trace, agent_trial):
    lookup_order(f"ORD-{agent_trial}")
    assert agent_trial != 2, "trial 2 went wrong"

def test_reads_config(agent_trace):
    agent_trace.tool_call("fetch_config", {}, result={"api_key": "__SECRET__"})
""".replace("__SECRET__", SECRET)


def write_suite(folder: Path) -> None:
    (folder / "conftest.py").write_text(CONFTEST)
    (folder / "policy.yaml").write_text(POLICY)
    (folder / "test_shop.py").write_text(SUITE)


def run_suite(folder: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """Run the suite in ``folder`` (a pytest of its own) with the HTML and JSON reports."""
    write_suite(folder)
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "PYTHONDONTWRITEBYTECODE": "1"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:randomly",
            "--rootdir",
            str(folder),
            "--agentops-record=once",
            "--agentops-html=report.html",
            "--agentops-report=report.json",
            *args,
        ],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if not (folder / "report.json").exists():
        pytest.fail(f"the suite wrote no report:\n{result.stdout}\n{result.stderr}")
    return result, json.loads((folder / "report.json").read_text())


def entry(report: dict[str, Any], name: str) -> tuple[int, dict[str, Any]]:
    """The index and entry of the one test whose node id ends with ``::name``."""
    found = [(i, e) for i, e in enumerate(report["tests"]) if e["nodeid"].endswith("::" + name)]
    assert len(found) == 1, [e["nodeid"] for e in report["tests"]]
    return found[0]
