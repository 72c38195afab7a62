"""Cost of pytest-agentops at scale: 100, 1,000 and 5,000 recorded agent tests replayed with the
summary, the JSON report and the HTML report, against the same tests with a plain stand-in
fixture and the plugin disabled.

Run from the repository root (needs the ``bench`` extra: ``pip install -e ".[bench]"``)::

    .venv/bin/python benchmarks/bench_scale.py                  # 100, 1,000, 5,000 tests
    .venv/bin/python benchmarks/bench_scale.py --sizes 100 1000 --rounds 2
    .venv/bin/python benchmarks/bench_scale.py --workers 0      # no xdist
    .venv/bin/python benchmarks/bench_scale.py --json out.json

Each size is a throw-away project of N parametrized tests.  Every test runs the same small
agent: three chat completions through the openai SDK (one client per session) with two
``@tool`` calls between them (5 steps).  The same test module runs in three set-ups:

- **agentops**: each test requests ``agent_trace``, so it gets its own cassette (recorded
  once, untimed, against a scripted model server on 127.0.0.1, which is then stopped),
  HTTP-level LLM capture, tool replay, and a report entry; run with ``--agentops
  --agentops-report=report.json --agentops-html=report.html``.
- **vcr** (the baseline the target is for): ``-p no:agentops``; the test's ``agent_trace`` is
  a stand-in fixture that does nothing, and pytest-recording replays the same HTTP traffic from
  its own per-test cassettes (recorded once, the same way; ``@pytest.mark.vcr``), tools run.
  The same tests replayed, without the plugin: the ratio is what the plugin adds.
- **mock** (for information): ``-p no:agentops``, the stand-in ``agent_trace``, and a client
  whose ``httpx.MockTransport`` answers in process with the scripted model: no cassette, no
  file, no HTTP.  Its ratio is the whole price of replaying from cassettes.

All run under pytest-xdist (``-n 2`` by default, as big suites run; the controller merges the
workers' results and writes the reports), in fresh ``python -m pytest`` subprocesses,
alternately (A B C C B A ...) so drift cancels.  Printed per size: the best wall time of each,
the ratios (target agentops / vcr <= 1.15 and not growing with size), what the plugin adds per
test in milliseconds (flat when nothing grows with the run's size), the report sizes, and
the controller's peak memory (its own ``ru_maxrss``, read by a wrapper that runs
``pytest.main`` in the controller process).  Only figures are printed (and optionally written
as JSON); nothing asserts on time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

TARGET = 1.15

MODEL = '''
import json


def answer(body):
    """The scripted model: ask for lookup_order, then for ship_date, then answer."""
    messages = body["messages"]
    asked = sum(1 for m in messages if m.get("role") == "tool")
    question = messages[0]["content"]
    order = question.split()[-1].rstrip("?")
    if asked < 2:
        name = ("lookup_order", "ship_date")[asked]
        message = {"role": "assistant", "content": None, "tool_calls": [{
            "id": f"call_{asked}", "type": "function",
            "function": {"name": name, "arguments": json.dumps({"order_id": order})}}]}
        finish = "tool_calls"
    else:
        message = {"role": "assistant", "content": f"{order} ships on Monday."}
        finish = "stop"
    return {
        "id": f"chatcmpl-{order}-{asked}", "object": "chat.completion", "created": 1700000000,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": {"prompt_tokens": 120 + 40 * asked, "completion_tokens": 18,
                  "total_tokens": 138 + 40 * asked},
    }
'''

AGENT = """
import json
from pytest_agentops import tool


@tool
def lookup_order(order_id):
    return {"order_id": order_id, "status": "shipped", "items": 2}


@tool
def ship_date(order_id):
    return {"order_id": order_id, "date": "Monday"}


TOOLS = {"lookup_order": lookup_order, "ship_date": ship_date}
SPECS = [
    {"type": "function", "function": {"name": name, "parameters": {"type": "object"}}}
    for name in TOOLS
]


def run_agent(client, question):
    messages = [{"role": "user", "content": question}]
    while True:
        message = client.chat.completions.create(
            model="gpt-4o-mini", messages=messages, tools=SPECS
        ).choices[0].message
        messages.append(message.model_dump(exclude_none=True))
        if not message.tool_calls:
            return message.content
        for call in message.tool_calls:
            result = TOOLS[call.function.name](**json.loads(call.function.arguments))
            messages.append(
                {"role": "tool", "tool_call_id": call.id, "content": json.dumps(result)}
            )
"""

TESTS = """
import pytest
from agent import run_agent


@pytest.mark.parametrize("n", range({n}))
def test_agent(agent_trace, client, n):
    assert run_agent(client, f"Where is ORD-{{n:05d}}?") == f"ORD-{{n:05d}} ships on Monday."
"""

CONFTEST_AGENTOPS = """
import openai
import pytest


@pytest.fixture(scope="session")
def client():
    return openai.OpenAI(base_url="{base_url}", api_key="sk-bench-0000000000000000000000")
"""

CONFTEST_VCR = """
import openai
import pytest


@pytest.fixture(scope="session")
def client():
    return openai.OpenAI(base_url="{base_url}", api_key="sk-bench-0000000000000000000000")


@pytest.fixture
def agent_trace():
    return None  # the stand-in: the tests request it, nothing is recorded
"""

CONFTEST_MOCK = """
import json

import httpx
import openai
import pytest

from model import answer


def _handle(request):
    return httpx.Response(200, json=answer(json.loads(request.content)))


@pytest.fixture(scope="session")
def client():
    http = httpx.Client(transport=httpx.MockTransport(_handle))
    return openai.OpenAI(base_url="{base_url}", api_key="sk-bench-0", http_client=http)


@pytest.fixture
def agent_trace():
    return None  # the stand-in: the tests request it, nothing is recorded
"""

# Runs pytest in this process, then prints the process's own peak memory: under xdist this is
# the controller, which merges every worker's results and writes the reports.
WRAPPER = """
import resource, sys
import pytest
code = pytest.main(sys.argv[1:])
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(f"@@peak_kib={peak}", file=sys.stderr)
raise SystemExit(code)
"""


KINDS = {"agentops": CONFTEST_AGENTOPS, "vcr": CONFTEST_VCR, "mock": CONFTEST_MOCK}


def serve(model_dir: Path) -> tuple[ThreadingHTTPServer, str]:
    sys.path.insert(0, str(model_dir))
    from model import answer  # type: ignore[import-not-found]

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            data = json.dumps(answer(body)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/v1"


def make_projects(base: Path, n: int, base_url: str) -> dict[str, Path]:
    projects = {}
    for kind, conftest in KINDS.items():
        project = base / f"{kind}-{n}"
        project.mkdir()
        (project / "model.py").write_text(MODEL)
        (project / "agent.py").write_text(AGENT)
        (project / "conftest.py").write_text(conftest.format(base_url=base_url))
        tests = TESTS.format(n=n)
        if kind == "vcr":
            tests = tests.replace(
                "import pytest\n", "import pytest\n\npytestmark = pytest.mark.vcr\n"
            )
        (project / "test_scale.py").write_text(tests)
        (project / "pytest.ini").write_text("[pytest]\nfilterwarnings =\n    ignore\n")
        (project / "wrapper.py").write_text(WRAPPER)
        projects[kind] = project
    return projects


def command(kind: str, workers: int, *extra: str) -> list[str]:
    options = ["-q", "-p", "no:cacheprovider", "-p", "no:randomly"]
    if workers:
        options += ["-n", str(workers)]
    if kind == "agentops":
        options += ["--agentops", "--agentops-report=report.json", "--agentops-html=report.html"]
    else:
        options += ["-p", "no:agentops"]
    if kind != "vcr":
        options += ["-p", "no:recording"]
    return [sys.executable, "wrapper.py", *options, *extra]


def run(project: Path, cmd: list[str], n: int) -> tuple[float, int]:
    """Wall seconds and the controller's peak KiB of one run (which must pass every test)."""
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # caches as a normal environment keeps them
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=project, capture_output=True, text=True, env=env, timeout=3600)
    elapsed = time.perf_counter() - started
    if f"{n} passed" not in proc.stdout:
        raise SystemExit(
            f"{project.name}: expected {n} passed:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}"
        )
    peak = [line for line in proc.stderr.splitlines() if line.startswith("@@peak_kib=")]
    return elapsed, int(peak[-1].split("=")[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 5000])
    parser.add_argument("--rounds", type=int, default=3, help="timed runs of each set-up")
    parser.add_argument("--workers", type=int, default=2, help="xdist workers (0: none)")
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args()

    try:
        import pytest_recording  # noqa: F401
    except ImportError:
        raise SystemExit('pytest-recording is needed: pip install -e ".[bench]"') from None
    base = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    results: list[dict[str, Any]] = []
    try:
        (base / "model.py").write_text(MODEL)
        server, base_url = serve(base)
        projects = {n: make_projects(base, n, base_url) for n in args.sizes}
        started = time.perf_counter()
        for n, trio in projects.items():  # record the cassettes once, untimed
            run(trio["agentops"], command("agentops", args.workers, "--agentops-record=once"), n)
            run(trio["vcr"], command("vcr", args.workers, "--record-mode=once"), n)
        server.shutdown()
        print(
            f"recorded {sum(args.sizes)} tests' cassettes in each cassette set-up in "
            f"{time.perf_counter() - started:.0f} s (untimed); model server stopped"
        )
        print(
            f"python {platform.python_version()}, {os.cpu_count()} CPUs, "
            f"xdist workers: {args.workers or 'none'}, best of {args.rounds} runs; "
            "each test: 3 LLM calls + 2 tool calls\n"
        )
        print(
            f"{'tests':>6}{'mock s':>8}{'vcr s':>8}{'agentops s':>12}{'/ vcr':>7}{'/ mock':>8}"
            f"{'+ms/test':>10}{'JSON MB':>9}{'HTML MB':>9}   controller peak MB: mock, vcr, "
            "agentops"
        )
        order = list(KINDS)
        for n, trio in projects.items():
            walls: dict[str, list[float]] = {kind: [] for kind in order}
            peaks: dict[str, list[int]] = {kind: [] for kind in order}
            for r in range(args.rounds):
                for kind in order if r % 2 == 0 else order[::-1]:
                    wall, peak = run(trio[kind], command(kind, args.workers), n)
                    walls[kind].append(wall)
                    peaks[kind].append(peak)
            best = {k: min(v) for k, v in walls.items()}
            ratio = best["agentops"] / best["vcr"]
            ratio_mock = best["agentops"] / best["mock"]
            # what the plugin adds per test (wall time, the workers in parallel)
            added_ms = (best["agentops"] - best["vcr"]) / n * 1000
            sizes = {
                name: (trio["agentops"] / name).stat().st_size / 1e6
                for name in ("report.json", "report.html")
            }
            peak_mb = {k: max(v) / 1024 for k, v in peaks.items()}
            print(
                f"{n:>6}{best['mock']:>8.2f}{best['vcr']:>8.2f}{best['agentops']:>12.2f}"
                f"{ratio:>7.2f}{ratio_mock:>8.2f}{added_ms:>10.2f}{sizes['report.json']:>9.2f}"
                f"{sizes['report.html']:>9.2f}   "
                f"{peak_mb['mock']:.0f}, {peak_mb['vcr']:.0f}, {peak_mb['agentops']:.0f}"
            )
            results.append({
                "tests": n, "wall_s": walls, "ratio_vcr": ratio, "ratio_mock": ratio_mock,
                "added_ms_per_test": added_ms,
                "peak_kib": peaks, "report_mb": sizes["report.json"],
                "html_mb": sizes["report.html"],
            })  # fmt: skip
        ratios = [r["ratio_vcr"] for r in results]
        # Growth is read from what the plugin adds per test: the ratio itself rises from small
        # runs, where both set-ups are mostly pytest's and xdist's start-up, to large ones.
        added = [r["added_ms_per_test"] for r in results if r["tests"] >= 1000]
        growing = len(added) > 1 and added[-1] > added[0] * 1.25
        print(
            f"\nratio agentops / vcr: {', '.join(f'{r:.2f}' for r in ratios)} "
            f"(target <= {TARGET}); added per test from 1,000 tests on: "
            f"{', '.join(f'{a:.2f} ms' for a in added)} ("
            + ("growing" if growing else "not growing")
            + "): "
            + ("ok" if max(ratios) <= TARGET and not growing else "MISSES TARGET")
        )
        print(
            "ratio agentops / mock (information: the price of cassettes): "
            + ", ".join(f"{r['ratio_mock']:.2f}" for r in results)
        )
        if args.json:
            Path(args.json).write_text(json.dumps({
                "workers": args.workers, "rounds": args.rounds, "target": TARGET,
                "results": results,
            }, indent=2))  # fmt: skip
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
