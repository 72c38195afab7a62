"""Reading a large OTLP export: spans per second and peak memory against the file's size.

Run from the repository root::

    .venv/bin/python benchmarks/bench_import.py            # 100,000 spans
    .venv/bin/python benchmarks/bench_import.py --spans 20000

A collector file-exporter file (JSON Lines, one ``ExportTraceServiceRequest`` per line, hex
ids) is generated (not timed) from the real GenAI export in ``tests/data/traces/``: each trace
is that run (an agent span, three chat spans with their messages, two tool spans, and an HTTP
span no convention describes), with fresh ids, and each line a batch of 50 spans, so a
trace's spans are spread over two lines as batches cut through them.

Each measurement runs in a fresh Python process (so peak memory is that of the reading alone):

(1) ``for t in Trajectory.load_all(path)``: every trajectory read and dropped, as
    ``pytest-agentops check`` does.  Figures: spans/s, and the growth of the process's peak
    resident memory while reading divided by the file's size (target <= 3).
(2) The baseline: ``json.loads`` of every line, each dropped (the least any reader must do).
    Figure: (1)'s time / (2)'s time.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "tests" / "data" / "traces" / "otel_genai_latest_otlp.json"

READER = """
import json, resource, sys, time
from pytest_agentops import Trajectory

path, mode = sys.argv[1], sys.argv[2]
def rss():  # KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
Trajectory.load(sys.argv[3])  # imports and first-use costs out of the figure
before = rss()
start = time.perf_counter()
count = 0
if mode == "import":
    for t in Trajectory.load_all(path):
        count += len(t.steps)
else:
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            count += len(json.loads(line)["resourceSpans"])
elapsed = time.perf_counter() - start
print(json.dumps({"seconds": elapsed, "peak_growth_kib": rss() - before, "count": count}))
"""


def spans_of_one_run() -> list[dict[str, Any]]:
    document = json.loads(SOURCE.read_text())
    spans: list[dict[str, Any]] = []
    for resource_spans in document["resourceSpans"]:
        for scope_spans in resource_spans["scopeSpans"]:
            spans.extend(scope_spans["spans"])
    root = next(s for s in spans if not s.get("parentSpanId"))
    http = dict(spans[-1])  # a span no convention describes: read past, counted
    http = {
        **http,
        "name": "POST",
        "spanId": "",
        "parentSpanId": root["spanId"],
        "attributes": [{"key": "http.request.method", "value": {"stringValue": "POST"}}],
    }
    return [*spans, http]


def write_export(path: Path, n_spans: int, batch: int = 50) -> int:
    template = spans_of_one_run()
    written = 0
    pending: list[dict[str, Any]] = []
    with path.open("w", encoding="utf-8") as out:
        trace = 0
        while written < n_spans:
            trace += 1
            trace_id = f"{trace:032x}"
            ids = {s["spanId"]: f"{trace:08x}{i:08x}" for i, s in enumerate(template)}
            for index, span in enumerate(template):
                copy = dict(span)
                copy["traceId"] = trace_id
                copy["spanId"] = f"{trace:08x}{index:08x}"
                if span.get("parentSpanId"):
                    copy["parentSpanId"] = ids[span["parentSpanId"]]
                pending.append(copy)
                written += 1
                if len(pending) == batch:
                    out.write(_line(pending))
                    pending = []
        if pending:
            out.write(_line(pending))
    return written


def _line(spans: list[dict[str, Any]]) -> str:
    request = {"resourceSpans": [{"resource": {}, "scopeSpans": [{"spans": spans}]}]}
    return json.dumps(request, separators=(",", ":")) + "\n"


def measure(path: Path, mode: str) -> dict[str, float]:
    env = dict(os.environ, LITELLM_LOCAL_MODEL_COST_MAP="True")
    done = subprocess.run(
        [sys.executable, "-c", READER, str(path), mode, str(SOURCE)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    result: dict[str, float] = json.loads(done.stdout)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "export.jsonl"
        spans = write_export(path, args.spans)
        size_kib = path.stat().st_size / 1024
        runs = [(measure(path, "import"), measure(path, "json")) for _ in range(3)]
    best_import = min((r[0] for r in runs), key=lambda r: r["seconds"])
    best_json = min((r[1] for r in runs), key=lambda r: r["seconds"])
    growth = min(r[0]["peak_growth_kib"] for r in runs)
    out = sys.stdout.write
    out(f"file: {spans:,} spans, {size_kib / 1024:.1f} MiB of OTLP JSON Lines\n")
    out(f"import: {spans / best_import['seconds']:,.0f} spans/s ({best_import['seconds']:.2f} s)\n")
    out(
        f"baseline json.loads: {best_json['seconds']:.2f} s; import / baseline = "
        f"{best_import['seconds'] / best_json['seconds']:.1f}x\n"
    )
    out(f"peak memory growth / file size = {growth / size_kib:.2f} (target <= 3)\n")


if __name__ == "__main__":
    main()
