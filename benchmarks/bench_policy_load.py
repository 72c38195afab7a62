"""Cost of loading a large policy file, as ratios against a baseline measured in the same run.

Run from the repository root::

    .venv/bin/python benchmarks/bench_policy_load.py            # 2,000 / 8,000 / 32,000 rules
    .venv/bin/python benchmarks/bench_policy_load.py --quick    # 500 / 2,000 / 8,000 rules

A policy of N rules is generated (not timed): a quarter each of ``forbid_tools``, ``args``
(a number bound and a regex), ``forbid_output`` (a regex) and ``require_before``, written as
YAML flow mappings one per line, as a generated policy would be.  Measured per size, best
of three:

(1) ``parse_policy(text)``: the plain-YAML safety scan, the node tree (for line numbers in
    errors), the checks on keys and ids, validation and regex compilation.
(2) The baseline: ``yaml.load(text, CSafeLoader)``, reading the same text as plain data with
    libyaml and nothing else; no policy loader can be cheaper than this.

Figures: load / baseline per size (target <= 4 x), and linearity: that ratio at the largest
size over the ratio at the smallest (target <= 1.5; a quadratic step in the loader would show
as about 16 at 32,000 rules against 2,000).  The ratio, not the time per rule: reading YAML
itself costs more per rule on a larger file (the garbage collector walks a larger heap), for
the baseline as for the loader.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import yaml

from pytest_agentops.policy import parse_policy


def policy_text(n_rules: int) -> str:
    rules = []
    for i in range(n_rules):
        kind = i % 4
        if kind == 0:
            rules.append(f"  - {{id: r{i}, forbid_tools: [tool_{i}]}}")
        elif kind == 1:
            rules.append(
                f"  - {{id: r{i}, tool: tool_{i}, args: {{amount: {{le: {i}}}, "
                f"order_id: {{regex: '^ORD-{i}-[0-9]+$'}}}}}}"
            )
        elif kind == 2:
            rules.append(f"  - {{id: r{i}, forbid_output: [{{regex: 'secret-{i}-[a-z]{{8,}}'}}]}}")
        else:
            rules.append(f"  - {{id: r{i}, require_before: {{tool: tool_{i}, first: check_{i}}}}}")
    return "schema_version: 1\nname: generated\nrules:\n" + "\n".join(rules) + "\n"


def best(fn: Callable[[], Any], repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller policies")
    args = parser.parse_args()
    sizes = (500, 2_000, 8_000) if args.quick else (2_000, 8_000, 32_000)
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    print(f"YAML loader for the baseline: {loader.__name__}")
    ratios = {}
    rows = []
    for n in sizes:
        text = policy_text(n)
        load = best(lambda text=text: parse_policy(text, "generated.yaml"))
        base = best(lambda text=text: yaml.load(text, Loader=loader))
        ratios[n] = load / base
        rows.append((f"parse_policy, {n:,} rules / baseline", load / base, 4.0, load))
    linear = ratios[sizes[-1]] / ratios[sizes[0]]
    print(f"\n{'measurement':<44} {'value':>8}  {'target':<9} {'status':<14} time")
    print("-" * 86)
    for name, ratio, target, seconds in rows:
        status = "ok" if ratio <= target else "MISSES TARGET"
        print(f"{name:<44} {ratio:>6.2f} x  <= {target:g} x    {status:<14} {seconds:.3f} s")
    status = "ok" if linear <= 1.5 else "MISSES TARGET"
    name = f"growth of the ratio, {sizes[-1]:,} / {sizes[0]:,} rules"
    print(f"{name:<44} {linear:>6.2f}    <= 1.5      {status}")


if __name__ == "__main__":
    main()
