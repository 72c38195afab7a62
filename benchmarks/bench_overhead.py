"""Overhead of pytest-agentops, as ratios against baselines measured in the same run.

Run from the repository root::

    .venv/bin/python benchmarks/bench_overhead.py            # full run (about a minute)
    .venv/bin/python benchmarks/bench_overhead.py --quick    # smoke test (a few seconds)
    .venv/bin/python benchmarks/bench_overhead.py --json out.json

Two things are measured:

(a) pytest startup cost: a generated file of 20 trivial tests that do not use the plugin, run
    with ``python -m pytest -q -p no:cacheprovider FILE`` in a subprocess, with the plugin
    loaded as users get it (entry-point autoload) versus with ``-p no:agentops``.  Runs are
    interleaved A B B A ... so drift cancels; the figure is median(plugin) / median(baseline).
    Other autoloaded plugins of the environment stay loaded in both variants, so the baseline
    is what a user of this environment pays anyway.

(b) ``@tool`` per-call overhead: a trivial ``def f(a, b=1): return a`` called as ``f(1, b=2)``,
    decorated versus undecorated, with no recorder active and with a ``Recorder`` active (a
    fresh one every ``--chunk`` calls, so memory stays bounded and list growth is realistic);
    the same for an ``async def`` tool awaited in a loop inside one event loop.  Each figure is
    the best of several repeats (timeit style); overhead = decorated - undecorated, in us/call.
    The garbage collector stays enabled, as it is in a real test run.

Only figures are printed (and optionally written as JSON); nothing here asserts on time.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import math
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

try:
    import resource
except ImportError:  # Windows
    resource = None  # type: ignore[assignment]

import pytest

from pytest_agentops import tool
from pytest_agentops.capture.active import ACTIVE
from pytest_agentops.capture.recorder import Recorder

N_TESTS = 20

STARTUP_RATIO_TARGET = 1.05
TOOL_IDLE_TARGET_US = 0.5
TOOL_RECORDING_TARGET_US = 5.0


# ---- (a) pytest startup --------------------------------------------------------------------


def _subprocess_env(pycache: Path) -> dict[str, str]:
    """The current environment, cleaned so both variants see what a user's run sees.

    Drops every PYTEST_* variable: PYTEST_ADDOPTS and PYTEST_PLUGINS would change what is
    measured, and PYTEST_DISABLE_PLUGIN_AUTOLOAD would keep the plugin from loading at all, so
    both variants run with pytest's default plugin autoload.  Bytecode caching is switched on
    (PYTHONDONTWRITEBYTECODE dropped) with the cache redirected to a temporary directory
    (PYTHONPYCACHEPREFIX): otherwise, in an environment that sets PYTHONDONTWRITEBYTECODE,
    every run would recompile modules from source and the figures would measure compilation.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(pycache)
    return env


def _write_test_project(root: Path) -> Path:
    # An empty pytest.ini pins rootdir and config to this directory, so no ini file of a
    # parent directory (e.g. a pyproject.toml above the temp dir) leaks into the runs.
    (root / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    body = "".join(f"def test_{i}():\n    assert True\n\n\n" for i in range(N_TESTS))
    path = root / "test_trivial.py"
    path.write_text(body, encoding="utf-8")
    return path


def _children_cpu_s() -> float:
    if resource is None:  # not on Unix
        return math.nan
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run_pytest(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, str]:
    """Run pytest once; returns (wall seconds, CPU seconds of the child, stdout)."""
    cpu0 = _children_cpu_s()
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - t0
    cpu = _children_cpu_s() - cpu0
    if proc.returncode != 0 or f"{N_TESTS} passed" not in proc.stdout:
        raise SystemExit(
            f"pytest run failed (exit {proc.returncode}): {' '.join(cmd)}\n"
            f"--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}"
        )
    return elapsed, cpu, proc.stdout


def _bootstrap_ratio_ci(
    plugin: list[float], baseline: list[float], resamples: int = 2000
) -> tuple[float, float]:
    """95% bootstrap interval of median(plugin) / median(baseline): how noisy the ratio is."""
    rng = random.Random(0)
    ratios = sorted(
        statistics.median(rng.choices(plugin, k=len(plugin)))
        / statistics.median(rng.choices(baseline, k=len(baseline)))
        for _ in range(resamples)
    )
    return ratios[int(0.025 * resamples)], ratios[int(0.975 * resamples) - 1]


def bench_startup(reps: int, budget_s: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="agentops-bench-") as tmp:
        root = Path(tmp) / "project"
        root.mkdir()
        env = _subprocess_env(Path(tmp) / "pycache")
        test_file = _write_test_project(root)
        base_cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", test_file.name]
        variants = {
            "plugin": base_cmd,
            "baseline": [*base_cmd[:-1], "-p", "no:agentops", test_file.name],
        }

        # Warm-up (discarded): fills the bytecode cache (including the assertion-rewritten
        # test file and plugin modules) and the OS file cache.  The first run of each variant
        # also checks that the plugin is loaded in one variant and absent from the other.
        warm: list[float] = []
        for name, cmd in variants.items():
            _, _, out = _run_pytest([*cmd, "--trace-config"], root, env)
            _run_pytest(cmd, root, env)
            loaded = "pytest_agentops.plugin" in out
            if loaded != (name == "plugin"):
                raise SystemExit(
                    f"sanity check failed: pytest_agentops.plugin loaded={loaded} "
                    f"in the {name!r} variant"
                )
            warm.append(_run_pytest(cmd, root, env)[0])

        # Keep the whole section within the time budget on slow machines.
        per_pair = max(warm) * 2
        planned = reps
        reps = max(3, min(reps, int(budget_s / per_pair)))

        times: dict[str, list[float]] = {name: [] for name in variants}
        cpu: dict[str, list[float]] = {name: [] for name in variants}
        order = list(variants)
        for i in range(reps):
            for name in order if i % 2 == 0 else reversed(order):  # A B, B A, A B, ...
                wall_s, cpu_s, _ = _run_pytest(variants[name], root, env)
                times[name].append(wall_s)
                cpu[name].append(cpu_s)

    med = {name: statistics.median(ts) for name, ts in times.items()}
    paired = [p / b for p, b in zip(times["plugin"], times["baseline"], strict=True)]
    ci_low, ci_high = _bootstrap_ratio_ci(times["plugin"], times["baseline"])
    return {
        "n_tests": N_TESTS,
        "reps_each": reps,
        "reps_planned": planned,
        "command": " ".join(["python", *base_cmd[1:]]),
        "plugin_median_s": med["plugin"],
        "baseline_median_s": med["baseline"],
        "plugin_min_s": min(times["plugin"]),
        "baseline_min_s": min(times["baseline"]),
        "delta_median_ms": (med["plugin"] - med["baseline"]) * 1000,
        "ratio": med["plugin"] / med["baseline"],
        # The minimum is the run least disturbed by other processes (what hyperfine and
        # timeit favour); on a busy machine it is the steadier of the two ratios.
        "ratio_min": min(times["plugin"]) / min(times["baseline"]),
        "ratio_ci95": [ci_low, ci_high],
        "ratio_paired_median": statistics.median(paired),
        # CPU time (user + sys) of the pytest process: less disturbed by other busy processes
        # than wall time, so a useful cross-check on a loaded machine.
        "plugin_cpu_median_s": statistics.median(cpu["plugin"]),
        "baseline_cpu_median_s": statistics.median(cpu["baseline"]),
        "cpu_ratio": statistics.median(cpu["plugin"]) / statistics.median(cpu["baseline"]),
        "plugin_times_s": times["plugin"],
        "baseline_times_s": times["baseline"],
    }


# ---- (b) @tool per-call overhead ------------------------------------------------------------


def f(a: Any, b: Any = 1) -> Any:
    return a


async def af(a: Any, b: Any = 1) -> Any:
    return a


def _loop_sync(fn: Callable[..., Any], n: int) -> int:
    it = itertools.repeat(None, n)
    t0 = time.perf_counter_ns()
    for _ in it:
        fn(1, b=2)
    return time.perf_counter_ns() - t0


async def _loop_async(fn: Callable[..., Awaitable[Any]], n: int) -> int:
    it = itertools.repeat(None, n)
    t0 = time.perf_counter_ns()
    for _ in it:
        await fn(1, b=2)
    return time.perf_counter_ns() - t0


def _recording_sync(fn: Callable[..., Any], n: int, chunk: int) -> int:
    """Time n calls with a Recorder active, a fresh one every `chunk` calls (setup untimed)."""
    elapsed = 0
    for start in range(0, n, chunk):
        rec = Recorder().start()
        try:
            elapsed += _loop_sync(fn, min(chunk, n - start))
        finally:
            rec.stop()
        del rec  # the previous recorder and its records are freed outside the timed region
    return elapsed


async def _recording_async(fn: Callable[..., Awaitable[Any]], n: int, chunk: int) -> int:
    elapsed = 0
    for start in range(0, n, chunk):
        rec = Recorder().start()
        try:
            elapsed += await _loop_async(fn, min(chunk, n - start))
        finally:
            rec.stop()
        del rec
    return elapsed


def _best_pair(
    measure: Callable[[Callable[..., Any], int], int],
    base: Callable[..., Any],
    decorated: Callable[..., Any],
    n: int,
    repeats: int,
) -> dict[str, float]:
    """Best-of-`repeats` ns/call for base and decorated, measured alternately."""
    best = {"base": float("inf"), "decorated": float("inf")}
    for _ in range(repeats):
        for key, fn in (("base", base), ("decorated", decorated)):
            best[key] = min(best[key], measure(fn, n) / n)
    return {
        "baseline_us": best["base"] / 1000,
        "decorated_us": best["decorated"] / 1000,
        "overhead_us": (best["decorated"] - best["base"]) / 1000,
        "calls_per_repeat": n,
        "repeats": repeats,
    }


def _sanity_check(tf: Callable[..., Any], atf: Callable[..., Awaitable[Any]]) -> None:
    """The decorated functions really record while a Recorder is active (and only then)."""
    if ACTIVE.recorder is not None:
        raise SystemExit("a Recorder is already active; the no-recorder figures would be wrong")
    tf(1, b=2)  # not recorded: no recorder
    with Recorder() as rec:
        tf(1, b=2)
        asyncio.run(atf(3))
    traj = rec.trajectory
    if traj.tool_names != ["f", "af"] or traj.tool_calls[0].arguments != {"a": 1, "b": 2}:
        raise SystemExit(f"sanity check failed: unexpected trajectory {traj.to_jsonable()!r}")


def bench_tool(n_idle: int, n_rec: int, chunk: int, repeats: int) -> dict[str, Any]:
    tf = tool(f)
    atf = tool(af)
    _sanity_check(tf, atf)

    results: dict[str, Any] = {}
    results["sync_idle"] = _best_pair(_loop_sync, f, tf, n_idle, repeats)
    results["sync_recording"] = _best_pair(
        lambda fn, n: _recording_sync(fn, n, chunk), f, tf, n_rec, repeats
    )

    loop = asyncio.new_event_loop()
    try:
        results["async_idle"] = _best_pair(
            lambda fn, n: loop.run_until_complete(_loop_async(fn, n)), af, atf, n_idle, repeats
        )
        results["async_recording"] = _best_pair(
            lambda fn, n: loop.run_until_complete(_recording_async(fn, n, chunk)),
            af,
            atf,
            n_rec,
            repeats,
        )
    finally:
        loop.close()
    results["recorder_chunk"] = chunk
    return results


# ---- report ---------------------------------------------------------------------------------


def _status(ok: bool) -> str:
    return "ok" if ok else "MISSES TARGET"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="few repetitions (smoke test)")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON to PATH")
    parser.add_argument("--skip-startup", action="store_true", help="skip the pytest startup runs")
    parser.add_argument(
        "--reps", type=int, metavar="N", help="pytest runs per variant (default: 30, quick: 3)"
    )
    args = parser.parse_args(argv)

    if args.quick:
        reps, budget, n_idle, n_rec, repeats = 3, 15.0, 20_000, 20_000, 3
    else:
        reps, budget, n_idle, n_rec, repeats = 30, 50.0, 200_000, 100_000, 7
    if args.reps is not None:
        reps = args.reps
    chunk = 10_000

    env = {
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "pytest": pytest.__version__,
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "mode": "quick" if args.quick else "full",
        "loadavg_1min_before": os.getloadavg()[0],
    }
    print(f"Python   {env['python']} ({env['python_implementation']}) {sys.executable}")
    print(f"pytest   {env['pytest']}")
    print(f"platform {env['platform']} ({env['machine']}, {env['cpu_count']} CPUs)")
    print(f"mode     {env['mode']}, 1-min load average {env['loadavg_1min_before']:.2f}")
    if env["loadavg_1min_before"] > 0.5:
        print("         (other processes are busy: expect noisier figures)")
    print()

    t_start = time.perf_counter()
    startup = None if args.skip_startup else bench_startup(reps, budget)
    tools = bench_tool(n_idle, n_rec, chunk, repeats)
    total_s = time.perf_counter() - t_start
    env["loadavg_1min_after"] = os.getloadavg()[0]

    rows: list[tuple[str, str, str, str]] = []
    figures: list[dict[str, Any]] = []

    def add(name: str, value: float, unit: str, target: float, fmt: str) -> None:
        ok = value <= target
        rows.append(
            (
                name,
                f"{value:{fmt}} {unit}".strip(),
                f"<= {target:{fmt}} {unit}".strip(),
                _status(ok),
            )
        )
        figures.append(
            {"measurement": name, "value": value, "unit": unit, "target": target, "ok": ok}
        )

    if startup is not None:
        add(
            "pytest startup, plugin / baseline (median)",
            startup["ratio"],
            "x",
            STARTUP_RATIO_TARGET,
            ".3f",
        )
        add(
            "pytest startup, plugin / baseline (min)",
            startup["ratio_min"],
            "x",
            STARTUP_RATIO_TARGET,
            ".3f",
        )
    for key, label in (("sync", "@tool sync"), ("async", "@tool async")):
        add(
            f"{label} overhead, no recorder",
            tools[f"{key}_idle"]["overhead_us"],
            "us/call",
            TOOL_IDLE_TARGET_US,
            ".3f",
        )
        add(
            f"{label} overhead, recording",
            tools[f"{key}_recording"]["overhead_us"],
            "us/call",
            TOOL_RECORDING_TARGET_US,
            ".3f",
        )

    if startup is not None:
        print(
            f"(a) pytest startup: {startup['n_tests']} trivial tests, "
            f"{startup['reps_each']} interleaved runs per variant"
            + (
                f" (reduced from {startup['reps_planned']} to fit the time budget)"
                if startup["reps_each"] < startup["reps_planned"]
                else ""
            )
        )
        print(f"    command: {startup['command']}  [baseline adds -p no:agentops]")
        print(
            f"    plugin   median {startup['plugin_median_s'] * 1000:7.1f} ms"
            f"   min {startup['plugin_min_s'] * 1000:7.1f} ms"
        )
        print(
            f"    baseline median {startup['baseline_median_s'] * 1000:7.1f} ms"
            f"   min {startup['baseline_min_s'] * 1000:7.1f} ms"
        )
        print(
            f"    delta {startup['delta_median_ms']:+.1f} ms, ratio of medians "
            f"{startup['ratio']:.3f} (95% bootstrap interval {startup['ratio_ci95'][0]:.3f}"
            f"-{startup['ratio_ci95'][1]:.3f}), median of paired ratios "
            f"{startup['ratio_paired_median']:.3f}"
        )
        print(
            f"    CPU time (user+sys) medians: plugin {startup['plugin_cpu_median_s'] * 1000:.1f}"
            f" ms, baseline {startup['baseline_cpu_median_s'] * 1000:.1f} ms, "
            f"ratio {startup['cpu_ratio']:.3f} (informational)"
        )
        print()
    print(f"(b) @tool per call: f(1, b=2), best of {repeats} repeats; recording with a fresh")
    print(f"    Recorder every {chunk} calls (us/call: undecorated -> decorated)")
    for key in ("sync_idle", "sync_recording", "async_idle", "async_recording"):
        r = tools[key]
        print(
            f"    {key:<16} {r['baseline_us']:7.3f} -> {r['decorated_us']:7.3f}"
            f"   overhead {r['overhead_us']:7.3f}   ({r['calls_per_repeat']} calls/repeat)"
        )
    print()

    headers = ("measurement", "value", "target", "status")
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    print(line)
    print("-" * len(line))
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    print()
    print(
        f"total benchmark time {total_s:.1f} s, "
        f"1-min load average after {env['loadavg_1min_after']:.2f}"
    )

    if args.json:
        doc = {
            "environment": env,
            "figures": figures,
            "startup": startup,
            "tool": tools,
            "total_s": total_s,
        }
        Path(args.json).write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
