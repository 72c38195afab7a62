"""Cost of replaying agent tests from pytest-agentops cassettes, against plain pytest-recording.

Run from the repository root (needs the ``bench`` extra: ``pip install -e ".[bench]"``)::

    .venv/bin/python benchmarks/bench_replay.py             # 200 tests, 5 rounds (about a minute)
    .venv/bin/python benchmarks/bench_replay.py --quick     # 40 tests, 2 rounds
    .venv/bin/python benchmarks/bench_replay.py --json out.json

A throw-away project is generated with N agent tests.  Each test runs the same small agent: a
loop of 3 chat completions through the openai SDK (one client per session) against
``FakeLLM``, the example suite's scripted OpenAI-compatible server, with 3 ``@tool`` calls in
between (one per model turn; the tools read an in-memory table).  The same test module runs
in two set-ups:

- **agentops**: each test uses ``agent_trace`` (so it gets a pytest-agentops cassette, its
  trajectory is recorded with HTTP-level LLM capture, and its tool results are replayed from
  the cassette); run with ``-p no:recording``.
- **pytest-recording**: each test is marked ``@pytest.mark.vcr`` (pytest-recording's default
  cassette and matching), tools run for real; run with ``-p no:agentops``.

Both are recorded once (untimed) against a FakeLLM on a fixed port, which is then stopped.
Then each suite is replayed in a fresh ``python -m pytest -q -p no:cacheprovider``
subprocess, alternately (A B B A ...) so drift cancels; the figure is the best wall time of
each, then their ratio (target <= 1.3) and tests per second.  The wall time includes pytest's
start-up and the import of the openai SDK, which both set-ups pay; it is also given with that
start-up removed (the same suite with every test deselected), for information.  Python's
bytecode caches are on (``PYTHONDONTWRITEBYTECODE`` is dropped for the subprocesses) and warmed
by the recording runs, as they would be on a developer machine or a cached CI runner.

Only figures are printed (and optionally written as JSON); nothing here asserts on time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET = 1.3

AGENT = """
import json
import openai
from pytest_agentops import tool

ORDERS = {f"ORD-{i:04d}": {"status": "shipped", "total": 10.0 + i} for i in range(1000)}


@tool
def verify_identity(customer_id, email):
    return {"verified": True, "customer_id": customer_id}


@tool
def lookup_order(order_id):
    return {"order_id": order_id, **ORDERS.get(order_id, {"status": "unknown"})}


TOOLS = {"verify_identity": verify_identity, "lookup_order": lookup_order}
SPECS = [
    {"type": "function", "function": {"name": name, "parameters": {"type": "object"}}}
    for name in TOOLS
]
_client = None


def client(base_url):
    global _client
    if _client is None:
        _client = openai.OpenAI(base_url=base_url, api_key="sk-bench-0000000000000000000000")
    return _client


def run_agent(base_url, question):
    messages = [{"role": "user", "content": question}]
    for _ in range(3):
        response = client(base_url).chat.completions.create(
            model="gpt-4o-mini", messages=messages, tools=SPECS
        )
        message = response.choices[0].message
        messages.append(message.model_dump(exclude_none=True))
        calls = message.tool_calls or []
        if calls:
            call = calls[0]
            result = TOOLS[call.function.name](**json.loads(call.function.arguments))
            messages.append({"role": "tool", "tool_call_id": call.id,
                             "content": json.dumps(result)})
        else:  # one tool call per turn, so 3 in all, whatever the model said
            result = lookup_order(f"ORD-{len(messages):04d}")
            messages.append({"role": "user", "content": json.dumps(result)})
    return messages[-1]
"""

TESTS = """
import pytest
from agent import run_agent

BASE_URL = "{base_url}"
QUESTIONS = [
    f"Hi, I'm customer C{{1000 + i}} (c{{i}}@example.com). Where is ORD-{{i:04d}}?"
    for i in range({n})
]


@pytest.mark.parametrize("question", QUESTIONS)
def test_agent({fixtures}question):
    run_agent(BASE_URL, question)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_project(base: Path, n: int, base_url: str) -> dict[str, Path]:
    projects = {}
    for name, fixtures, marker in (
        ("agentops", "agent_trace, ", ""),
        ("recording", "", "pytestmark = pytest.mark.vcr\n"),
    ):
        project = base / name
        project.mkdir()
        (project / "agent.py").write_text(AGENT)
        module = TESTS.format(base_url=base_url, n=n, fixtures=fixtures)
        if marker:
            module = module.replace(
                "from agent import run_agent\n", f"from agent import run_agent\n{marker}"
            )
        (project / "test_bench.py").write_text(module)
        (project / "pytest.ini").write_text("[pytest]\nfilterwarnings =\n    ignore\n")
        projects[name] = project
    return projects


def pytest_cmd(kind: str, *extra: str) -> list[str]:
    disable = ["-p", "no:recording"] if kind == "agentops" else ["-p", "no:agentops"]
    return [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *disable, *extra]


def run(project: Path, cmd: list[str], expect: int | None) -> float:
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    # Bytecode (and pytest's rewritten-assertion) caches as a normal environment keeps them;
    # the untimed recording runs warm them for both set-ups.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=project, capture_output=True, text=True, env=env, timeout=900)
    elapsed = time.perf_counter() - t0
    if expect is not None and f"{expect} passed" not in proc.stdout:
        raise SystemExit(
            f"{project.name}: expected {expect} passed:\n{proc.stdout[-3000:]}{proc.stderr[-2000:]}"
        )
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="40 tests, 2 rounds")
    parser.add_argument("--tests", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args()
    n = args.tests or (40 if args.quick else 200)
    rounds = args.rounds or (2 if args.quick else 5)
    try:
        import pytest_recording  # noqa: F401
    except ImportError:
        raise SystemExit('pytest-recording is needed: pip install -e ".[bench]"') from None

    sys.path.insert(0, str(ROOT / "examples"))
    from support_agent.fake_llm import FakeLLM

    base = Path(tempfile.mkdtemp(prefix="bench-replay-"))
    try:
        port = free_port()
        projects = make_project(base, n, f"http://127.0.0.1:{port}/v1")
        t0 = time.perf_counter()
        with FakeLLM(port=port):
            run(projects["agentops"], pytest_cmd("agentops", "--agentops-record=once"), n)
            run(projects["recording"], pytest_cmd("recording", "--record-mode=once"), n)
        print(
            f"recorded {n} tests in each set-up in {time.perf_counter() - t0:.1f} s (untimed); "
            "model server stopped"
        )
        cassettes = {
            "agentops": len(list((projects["agentops"] / "cassettes").rglob("*.yaml"))),
            "recording": len(list((projects["recording"]).rglob("cassettes/**/*.yaml"))),
        }
        print(
            f"cassettes: agentops {cassettes['agentops']}, "
            f"pytest-recording {cassettes['recording']}"
        )

        walls: dict[str, list[float]] = {"agentops": [], "recording": []}
        startup: dict[str, list[float]] = {"agentops": [], "recording": []}
        order = ["agentops", "recording"]
        for r in range(rounds):
            for kind in order if r % 2 == 0 else order[::-1]:
                walls[kind].append(run(projects[kind], pytest_cmd(kind), n))
                startup[kind].append(
                    run(projects[kind], pytest_cmd(kind, "-k", "no_such_test"), None)
                )
        best = {k: min(v) for k, v in walls.items()}
        base_cost = {k: min(v) for k, v in startup.items()}
        net = {k: max(best[k] - base_cost[k], 1e-9) for k in best}
        ratio = best["agentops"] / best["recording"]
        net_ratio = net["agentops"] / net["recording"]

        print(
            f"\npython {platform.python_version()}, {os.cpu_count()} CPUs, {n} tests x "
            f"(3 LLM calls + 3 tool calls), best of {rounds} replays each\n"
        )
        print(f"{'set-up':<22}{'wall s':>9}{'tests/s':>10}{'start-up s':>12}{'net s':>8}")
        for kind, label in (("recording", "pytest-recording"), ("agentops", "pytest-agentops")):
            print(
                f"{label:<22}{best[kind]:>9.2f}{n / best[kind]:>10.1f}"
                f"{base_cost[kind]:>12.2f}{net[kind]:>8.2f}"
            )
        status = "ok" if ratio <= TARGET else "MISSES TARGET"
        print(
            f"\nwall-time ratio agentops / pytest-recording: {ratio:.2f} x "
            f"(target <= {TARGET}) {status}"
        )
        print(
            f"without start-up (information): {net_ratio:.2f} x; "
            f"agentops replays {n / net['agentops']:.0f} tests/s once pytest runs"
        )
        if args.json:
            Path(args.json).write_text(json.dumps({
                "tests": n, "rounds": rounds, "wall_s": walls, "startup_s": startup,
                "ratio": ratio, "net_ratio": net_ratio, "target": TARGET,
                "tests_per_s": {k: n / best[k] for k in best},
            }, indent=2))  # fmt: skip
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
