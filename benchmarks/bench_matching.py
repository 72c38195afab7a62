"""Cost of trajectory matching and policy checks on a long run, as ratios against a baseline.

Run from the repository root::

    .venv/bin/python benchmarks/bench_matching.py            # full run (about a minute)
    .venv/bin/python benchmarks/bench_matching.py --quick    # smoke test (a few seconds)
    .venv/bin/python benchmarks/bench_matching.py --json out.json
    .venv/bin/python benchmarks/bench_matching.py --profile --per-rule   # where the time goes

One synthetic but realistic trajectory is built first (not timed), from a fixed random seed:
100,000 steps (10,000 with ``--quick``) of customer-support conversations.  Each model
response (an ``LLMCall``) requests one to three tool calls (``RequestedToolCall`` with ids;
two or three requested together form a parallel group, executed in any order), and each
requested call is executed as a ``ToolCall`` step answering that id.  Ten tools
(verify_identity, lookup_order, refund, search, create_ticket, ...) take nested dict
arguments; about 3% of the calls fail with an ``error``; the model answers in text at the end
of each conversation, once in a while it retries a search in a loop, and rare steps break a
rule of the policy below (a refund over the cap, an email address in an answer, a forbidden
tool, a missed identity check).

Every figure is a ratio to a baseline measured in the same run: a plain loop that reads
every step's tool name once (``for s in steps: if s.kind == "tool": names.append(s.name)``)
over the same trajectory the measured call ran on.  The baseline and the measured call are
timed alternately; each figure is the best of several repeats (timeit style), short calls
looped so that one repeat lasts at least 0.1 s (0.02 s with ``--quick``), and repeats cut to
fit a time budget per measurement (one call that takes longer than the budget is timed once).
The garbage collector stays enabled, as it is in a real test run, but is run once after the
build so that no measurement pays for collecting the freshly built run; the two targeted
figures are also given with the collector off, for information.  On a long run the baseline
is bound by memory latency (at 100,000 steps it costs about twice as much per step as at
10,000), so ``--quick`` ratios come out higher and are not comparable with full ones.
Measured:

(1) ``assert_tool_calls(traj, expected, mode="ordered", args="partial")`` with 1,000 expected
    calls: actual calls picked in order and spread over the whole run, written with
    ``call(name, **args)``; every fourth one with matchers (``ANY``, ``Lt``, ``Regex``) and
    every third one with only part of its arguments.

(2) Any-order matching of 1,000 shuffled expected calls.  ``mode="unordered"`` needs as many
    actual calls as expected ones, so on the long run this is ``mode="superset"`` (any order,
    extra calls allowed), which runs the same bipartite machinery: (a) every expectation with
    all of its arguments and ``args="exact"`` (the keyed fast path), (b) the expectations of
    (1) with ``args="partial"`` (the general Hopcroft-Karp path).  Then ``mode="unordered"``
    on the shortest prefix of the run that holds exactly the 1,000 expected calls, in the
    same two variants, each against the baseline loop over that prefix.

(3) ``Policy.check`` of a 20-rule policy (every rule kind: allow_tools, forbid_tools,
    require_tools, require_before with ``when`` and ``same_args``, args conditions, budgets
    with max_calls, forbid_output with regexes and pii detectors, max_repeats) over the long
    run, twice: (a) with every forbid_output rule in its default scopes (the final output
    and the LLM outputs), the figure with a target; (b) the same policy with one forbid_output
    rule scanning the tool calls' arguments and results instead (``POLICY_YAML`` as written),
    for information: that scope JSON-encodes every call's arguments and result (megabytes of
    text on the long run) and runs the detectors over all of it; the output says what that
    adds.  The policies are parsed once, untimed; the number of violations is printed so one
    can see that they really evaluate.

Every assertion is checked to pass (and the policy to find violations) once; that call is
the first sample.  ``--per-rule`` adds each rule's own cost (a one-rule policy's check minus a
check with no rules), ``--profile`` a cProfile of the two measurements that have a target.
Only figures are printed (and optionally written as JSON); nothing here asserts on time.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import math
import os
import platform
import pstats
import random
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pydantic

from pytest_agentops import ANY, Lt, Regex, assert_tool_calls, call
from pytest_agentops.assertions.matching import ExpectedCall
from pytest_agentops.trajectory.model import LLMCall, RequestedToolCall, Step, ToolCall, Trajectory

SEED = 20240601
N_EXPECTED = 1_000

ORDERED_RATIO_TARGET = 3.0
POLICY_RATIO_TARGET = 20.0


# ---- the synthetic trajectory --------------------------------------------------------------

FIRST_NAMES = ("ana", "ben", "chloe", "dev", "emma", "farid", "grace", "hugo", "ines", "jon")
CITIES = ("Lyon", "Porto", "Leeds", "Graz", "Turin", "Ghent", "Malmo", "Cork", "Brno", "Basel")
PRODUCTS = ("headphones", "kettle", "desk lamp", "backpack", "monitor", "router", "blender")
CATEGORIES = ("audio", "kitchen", "office", "travel", "networking")
REASONS = ("damaged", "late", "wrong_item", "not_as_described", "changed_mind")
WAREHOUSES = ("AMS", "NYC", "SIN", "FRA", "LHR")


class _Generator:
    """A customer-support agent at work: conversations of tool calls, deterministic by seed."""

    def __init__(self, n_steps: int, seed: int) -> None:
        self.rng = random.Random(seed)
        self.n_steps = n_steps
        self.steps: list[Step] = []
        self.n_calls = 0

    # ---- arguments and results ----
    def customer(self) -> dict[str, Any]:
        rng = self.rng
        name = rng.choice(FIRST_NAMES)
        return {
            "id": f"C-{rng.randrange(10**6):06d}",
            "tier": rng.choice(("basic", "silver", "gold")),
            "contact": {"email": f"{name}.{rng.randrange(1000)}@example.com", "locale": "en-GB"},
        }

    def order_id(self) -> str:
        return f"ORD-{self.rng.randrange(10**7):07d}"

    def order(self, order_id: str) -> dict[str, Any]:
        rng = self.rng
        items: list[dict[str, Any]] = [
            {
                "sku": f"SKU-{rng.randrange(10**5):05d}",
                "name": rng.choice(PRODUCTS),
                "qty": rng.randint(1, 3),
                "price": round(rng.uniform(5, 400), 2),
            }
            for _ in range(rng.randint(1, 3))
        ]
        return {
            "order_id": order_id,
            "status": rng.choice(("shipped", "delivered", "processing")),
            "items": items,
            "total": round(sum(i["qty"] * i["price"] for i in items), 2),
        }

    # ---- steps ----
    def llm(self, requests: list[tuple[str, dict[str, Any]]], text: str | None = None) -> list[str]:
        rng = self.rng
        ids = []
        requested = []
        for name, arguments in requests:
            self.n_calls += 1
            call_id = f"call_{self.n_calls:07d}"
            ids.append(call_id)
            requested.append(RequestedToolCall(id=call_id, name=name, arguments=arguments))
        message: dict[str, Any] = {"role": "assistant", "content": text}
        if requests:
            message["tool_calls"] = [
                {"id": r.id, "type": "function", "function": {"name": r.name}} for r in requested
            ]
        self.steps.append(
            LLMCall(
                id=f"s{len(self.steps) + 1:06d}",
                model="gpt-4o-mini",
                provider="openai",
                input_messages=[{"role": "user", "content": "Where is my order?"}],
                output_message=message,
                requested_tool_calls=requested,
                input_tokens=rng.randint(800, 4000),
                output_tokens=rng.randint(20, 300),
                cost_usd=round(rng.uniform(0.0002, 0.002), 6),
                duration_ms=round(rng.uniform(300, 2500), 1),
            )
        )
        return ids

    def tool(self, call_id: str | None, name: str, arguments: dict[str, Any], result: Any) -> None:
        rng = self.rng
        error = None
        if rng.random() < 0.03:
            error, result = (
                rng.choice(
                    (
                        "TimeoutError: upstream timed out after 10s",
                        "HTTPError: 503 Service Unavailable",
                    )
                ),
                None,
            )
        self.steps.append(
            ToolCall(
                id=f"s{len(self.steps) + 1:06d}",
                name=name,
                arguments=arguments,
                result=result,
                error=error,
                call_id=call_id,
                duration_ms=round(rng.uniform(5, 400), 1),
            )
        )

    def turn(self, calls: list[tuple[str, dict[str, Any], Any]], text: str | None = None) -> None:
        """One model response requesting `calls` (a parallel group if several), then them."""
        ids = self.llm([(name, args) for name, args, _ in calls], text)
        order = list(range(len(calls)))
        self.rng.shuffle(order)  # parallel calls finish in any order
        for i in order:
            name, args, result = calls[i]
            self.tool(ids[i], name, args, result)

    def conversation(self) -> None:
        rng = self.rng
        cust = self.customer()
        cid = cust["id"]
        oid = self.order_id()
        order = self.order(oid)
        verified = {"verified": True, "customer_id": cid}
        if rng.random() > 0.002:  # very rarely the agent skips identity checks (a violation)
            method = rng.choice(("sms", "email"))
            self.turn([("verify_identity", {"customer_id": cid, "method": method}, verified)])
        self.turn(
            [
                ("lookup_order", {"order_id": oid, "customer": cust}, order),
                ("get_customer", {"customer_id": cid}, {**cust, "orders": rng.randint(1, 40)}),
            ]
        )
        for _ in range(rng.randint(0, 3)):
            query = f"{rng.choice(PRODUCTS)} {rng.choice(('warranty', 'return', 'manual'))}"
            search = {
                "query": query,
                "filters": {"category": rng.choice(CATEGORIES), "max_price": rng.randint(20, 500)},
                "limit": 10,
            }
            hits = {"hits": [{"title": f"{query} guide", "score": round(rng.random(), 3)}]}
            sku = rng.choice(order["items"])["sku"]
            stock = {"sku": sku, "in_stock": rng.randint(0, 50)}
            inventory = {"sku": sku, "warehouses": rng.sample(WAREHOUSES, 2)}
            if rng.random() < 0.3:
                self.turn([("search", search, hits), ("check_inventory", inventory, stock)])
            else:
                self.turn([("search", search, hits)])
            if rng.random() < 0.002:  # stuck in a loop: the same search again and again
                for _ in range(4):
                    self.turn([("search", search, hits)])
        if rng.random() < 0.4:
            amount = round(rng.uniform(5, min(order["total"], 480)), 2)
            if rng.random() < 0.001:
                amount = 750.0  # over the refund cap (a violation)
            refund = {
                "order_id": oid,
                "amount": amount,
                "currency": rng.choice(("EUR", "GBP", "USD")),
                "reason": {"code": rng.choice(REASONS), "note": "customer reported via chat"},
            }
            if amount > 100 and rng.random() > 0.002:
                approval = {"order_id": oid, "amount": amount, "requested_by": "agent"}
                self.turn([("request_manager_approval", approval, {"approved": True})])
            self.turn([("refund", refund, {"refund_id": f"R-{rng.randrange(10**6):06d}"})])
        if rng.random() < 0.25:
            address = {
                "street": f"{rng.randint(1, 200)} High Street",
                "city": rng.choice(CITIES),
                "zip": f"{rng.randint(1000, 99999)}",
                "country": rng.choice(("GB", "FR", "DE", "PT")),
            }
            update = {"customer_id": cid, "address": address}
            self.turn([("update_address", update, {"updated": True})])
        ticket = {
            "subject": f"Order {oid}: {rng.choice(REASONS).replace('_', ' ')}",
            "priority": rng.choice(("low", "normal", "normal", "high")),
            "customer": {"id": cid, "tier": cust["tier"]},
            "tags": rng.sample(("refund", "shipping", "vip", "follow-up", "escalated"), 2),
        }
        email = {
            "to": cust["contact"]["email"],
            "template": "case_update",
            "vars": {"order_id": oid, "name": rng.choice(FIRST_NAMES).title()},
        }
        ticket_id = {"ticket_id": f"T-{rng.randrange(10**6):06d}"}
        self.turn(
            [("create_ticket", ticket, ticket_id), ("send_email", email, {"queued": True})]
            if rng.random() < 0.5
            else [("create_ticket", ticket, ticket_id)]
        )
        if rng.random() < 0.0005:
            self.turn([("delete_account", {"customer_id": cid}, {"deleted": True})])
        reply = f"Your order {oid} is {order['status']}. Ticket {ticket_id['ticket_id']} is open."
        if rng.random() < 0.001:
            reply += f" I wrote to you at {cust['contact']['email']}."  # leaks PII (a violation)
        self.llm([], text=reply)

    def build(self) -> Trajectory:
        while len(self.steps) < self.n_steps:
            self.conversation()
        del self.steps[self.n_steps :]
        last = self.steps[-1]
        output = last.output_text if isinstance(last, LLMCall) else None
        return Trajectory(
            id="bench-matching",
            name="support-agent-long-run",
            input="Help the customers in the queue.",
            output=output or "Queue processed.",
            steps=self.steps,
            metadata={"seed": SEED, "synthetic": True},
        )


def build_trajectory(n_steps: int, seed: int = SEED) -> Trajectory:
    return _Generator(n_steps, seed).build()


def prefix_with_calls(traj: Trajectory, n_calls: int) -> Trajectory:
    """The shortest prefix of `traj` that holds exactly its first `n_calls` tool calls."""
    seen = 0
    for number, step in enumerate(traj.steps, start=1):
        if isinstance(step, ToolCall):
            seen += 1
            if seen == n_calls:
                return traj.model_copy(update={"steps": traj.steps[:number]})
    raise ValueError(f"the trajectory has only {seen} tool calls")


# ---- expectations --------------------------------------------------------------------------


ID_PATTERNS = (
    ("order_id", r"ORD-\d{7}"),
    ("customer_id", r"C-\d{6}"),
    ("sku", r"SKU-\d{5}"),
    ("to", r"[a-z]+\.\d+@example\.com"),
)


def _with_matchers(arguments: dict[str, Any], i: int) -> dict[str, Any]:
    """`arguments` with one value replaced by a matcher that accepts it: by turns `Lt` on a
    number (possibly nested), `Regex` on an id, `ANY` (also when the others do not apply)."""
    out = dict(arguments)
    if i % 3 == 0:
        for key in ("amount", "limit"):
            value = out.get(key)
            if isinstance(value, (int, float)):
                out[key] = Lt(math.floor(value) + 1)
                return out
        filters = out.get("filters")
        if isinstance(filters, dict) and isinstance(filters.get("max_price"), int):
            out["filters"] = {**filters, "max_price": Lt(filters["max_price"] + 1)}
            return out
    if i % 3 in (0, 1):
        for key, pattern in ID_PATTERNS:
            if isinstance(out.get(key), str):
                out[key] = Regex(pattern)
                return out
    out[sorted(out)[i % len(out)]] = ANY
    return out


def _partial(arguments: dict[str, Any], i: int) -> dict[str, Any]:
    """`arguments` without one of its keys (when it has more than one)."""
    if len(arguments) < 2:
        return dict(arguments)
    dropped = sorted(arguments)[i % len(arguments)]
    return {k: v for k, v in arguments.items() if k != dropped}


def mixed_expectations(calls: list[ToolCall]) -> list[ExpectedCall]:
    """Mostly exact `call(name, **args)`; every 4th with a matcher, every 3rd partial."""
    out = []
    for i, c in enumerate(calls):
        arguments = c.arguments
        if i % 4 == 0:
            arguments = _with_matchers(arguments, i // 4)
        if i % 3 == 0:
            arguments = _partial(arguments, i // 3)
        out.append(call(c.name, **arguments))
    return out


def exact_expectations(calls: list[ToolCall]) -> list[ExpectedCall]:
    return [call(c.name, **c.arguments) for c in calls]


def spread_calls(traj: Trajectory, n: int) -> list[ToolCall]:
    """`n` tool calls in run order, evenly spread from the first to the last."""
    calls = traj.tool_calls
    if len(calls) < n:
        raise ValueError(f"the trajectory has only {len(calls)} tool calls, {n} are needed")
    step = (len(calls) - 1) / (n - 1)
    return [calls[round(i * step)] for i in range(n)]


# ---- the policy ----------------------------------------------------------------------------

POLICY_YAML = r"""
schema_version: 1
name: support-agent
description: Guardrails of the support agent (benchmark copy, 20 rules).
rules:
  - id: allowed-tools
    allow_tools: [verify_identity, lookup_order, get_customer, search, check_inventory,
                  request_manager_approval, refund, update_address, create_ticket, send_email]
  - {id: never-delete, forbid_tools: [delete_account, drop_table]}
  - {id: no-admin-tools, forbid_tools: [run_sql, shell, impersonate_user]}
  - {id: must-open-ticket, require_tools: [create_ticket, lookup_order]}
  - {id: verify-first, require_before: {tool: lookup_order, first: verify_identity}}
  - id: verify-same-customer
    require_before: {tool: get_customer, first: verify_identity, same_args: [customer_id]}
  - id: refund-approval
    require_before:
      tool: refund
      first: request_manager_approval
      when: {args.amount: {gt: 100}}
  - id: refund-after-lookup
    require_before: {tool: refund, first: lookup_order, same_args: [order_id]}
  - id: refund-cap
    tool: refund
    args:
      amount: {le: 500, gt: 0}
      currency: {in: [EUR, GBP, USD]}
      order_id: {regex: "^ORD-[0-9]{7}$"}
      reason.code: {not_in: [fraud, chargeback]}
  - id: search-limits
    tool: search
    args: {limit: {le: 50}, filters.max_price: {ge: 0, le: 1000}}
  - id: ticket-fields
    tool: create_ticket
    args: {priority: {in: [low, normal, high]}, customer.tier: {ne: banned}}
  - {id: email-template, tool: send_email, args: {template: {regex: "^[a-z_]+$"}}}
  - {id: step-budget, max_steps: 200000, max_tool_calls: 150000, max_llm_calls: 80000}
  - id: call-budget
    max_calls: {refund: 20000, delete_account: 0, request_manager_approval: 20000}
  - {id: spend-budget, max_cost_usd: 25.0, max_tokens: 200000000, max_duration_s: 100000}
  - id: no-secrets-in-answers
    forbid_output:
      - {regex: "sk-[A-Za-z0-9]{20,}"}
      - {regex: "(?i)password\\s*[:=]"}
      - {pii: api_key}
  - {id: no-pii-in-answers, forbid_output: [{pii: email}, {pii: phone}, {pii: credit_card}]}
  - id: no-cards-in-tools
    forbid_output: [{pii: credit_card}, {pii: api_key}]
    scope: [tool_arguments, tool_results]
  - {id: no-loops, max_repeats: 3}
  - {id: no-tight-loops, max_repeats: 10}
"""

#: The rule of POLICY_YAML that scans tool calls, and its scope line.
TOOL_SCOPE_RULE = "no-cards-in-tools"
TOOL_SCOPE_LINE = "    scope: [tool_arguments, tool_results]\n"


def default_scopes(policy_yaml: str) -> str:
    """`policy_yaml` with the tool scopes of TOOL_SCOPE_RULE removed: every forbid_output rule
    then reads its default scopes (the final output and the LLM outputs); the other 19 rules
    are unchanged."""
    if policy_yaml.count(TOOL_SCOPE_LINE) != 1:
        raise ValueError(f"expected one {TOOL_SCOPE_LINE.strip()!r} line (in {TOOL_SCOPE_RULE})")
    return policy_yaml.replace(TOOL_SCOPE_LINE, "")


# ---- timing --------------------------------------------------------------------------------


def baseline_loop(traj: Trajectory) -> list[str]:
    """Read every step's tool name once: the least any matching over the run must do."""
    names = []
    for s in traj.steps:
        if s.kind == "tool":
            names.append(s.name)
    return names


def _baseline_of(traj: Trajectory) -> Callable[[], list[str]]:
    return lambda: baseline_loop(traj)


def _time_once(fn: Callable[[], Any], number: int) -> float:
    t0 = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - t0) / number


def best_pair(
    baseline: Callable[[], Any],
    measured: Callable[[], Any],
    first_s: float,
    repeats: int,
    min_time: float,
    budget_s: float,
    collect: bool = True,
) -> dict[str, Any]:
    """Best-of-repeats seconds per call of `baseline` and `measured`, timed alternately.

    Each repeat loops a call enough times to last at least `min_time`.  The number of repeats
    shrinks when they would not fit into `budget_s`, down to none at all when one call takes
    longer than that.  `first_s` is the time of one call of `measured` already made (the
    sanity check): it sets the loop counts and counts as a sample, the only one if there are
    no repeats.  With `collect` false the garbage collector is off while timing, and the
    figures come only from the repeats (at least one).
    """
    first = {"baseline": _time_once(baseline, 1), "measured": first_s}
    numbers = {k: max(1, math.ceil(min_time / max(t, 1e-9))) for k, t in first.items()}
    per_repeat = sum(numbers[k] * first[k] for k in first)
    planned = repeats
    repeats = min(repeats, int(budget_s / max(per_repeat, 1e-9)))
    if not collect:
        repeats = max(1, repeats)  # its only samples
    best = dict(first) if collect else {"baseline": math.inf, "measured": math.inf}
    if not collect:
        gc.collect()
        gc.disable()
    try:
        for _ in range(repeats):
            for key, fn in (("baseline", baseline), ("measured", measured)):
                best[key] = min(best[key], _time_once(fn, numbers[key]))
        for _ in range(repeats, planned):  # the baseline is cheap: give it all its samples
            best["baseline"] = min(best["baseline"], _time_once(baseline, numbers["baseline"]))
    finally:
        gc.enable()
    return {
        "baseline_s": best["baseline"],
        "measured_s": best["measured"],
        "ratio": best["measured"] / best["baseline"],
        "repeats": repeats,
        "repeats_planned": planned,
        "calls_per_repeat": numbers["measured"],
    }


def profile(fn: Callable[[], Any], limit: int = 15) -> str:
    """cProfile of one call: the functions of pytest_agentops with most own time, as text."""
    gc.collect()  # so that a pending full collection is not billed to whatever runs first
    profiler = cProfile.Profile()
    profiler.enable()
    fn()
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats("pytest_agentops", limit)
    return out.getvalue()


def _source_state() -> str:
    """The git commit of the checkout, and whether src/ has uncommitted changes."""
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "src"], cwd=root, capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        return "unknown (no git)"
    if not head:
        return "unknown (not a git checkout)"
    return f"git {head}" + (" + uncommitted changes in src/" if dirty else "")


# ---- the measurements ----------------------------------------------------------------------


def _checked(fn: Callable[[], Any], what: str) -> tuple[float, Any]:
    """Call `fn` once, timed; exit if its assertion fails.  Returns (seconds, its result)."""
    t0 = time.perf_counter()
    try:
        value = fn()
    except AssertionError as exc:
        head = "\n".join(str(exc).splitlines()[:12])
        raise SystemExit(f"sanity check failed: {what} does not pass:\n{head}") from None
    return time.perf_counter() - t0, value


def bench(n_steps: int, repeats: int, min_time: float, budget_s: float) -> dict[str, Any]:
    from pytest_agentops.policy import parse_policy

    t0 = time.perf_counter()
    traj = build_trajectory(n_steps)
    build_s = time.perf_counter() - t0
    tool_calls = traj.tool_calls
    groups = sum(1 for s in traj.llm_calls if len(s.requested_tool_calls) > 1)
    shape = {
        "steps": len(traj.steps),
        "tool_calls": len(tool_calls),
        "llm_calls": len(traj.llm_calls),
        "parallel_groups": groups,
        "failed_tool_calls": sum(1 for c in tool_calls if not c.ok),
        "tool_names": len({c.name for c in tool_calls}),
        "build_s": build_s,
    }

    picked = spread_calls(traj, N_EXPECTED)
    ordered_expected = mixed_expectations(picked)
    rng = random.Random(SEED + 1)
    exact_shuffled = exact_expectations(picked)
    rng.shuffle(exact_shuffled)
    mixed_shuffled = list(ordered_expected)
    rng.shuffle(mixed_shuffled)

    short = prefix_with_calls(traj, N_EXPECTED)
    short_exact = exact_expectations(short.tool_calls)
    rng.shuffle(short_exact)
    short_mixed = mixed_expectations(short.tool_calls)
    rng.shuffle(short_mixed)

    policy = parse_policy(default_scopes(POLICY_YAML), source="bench_matching.py (default scopes)")
    tool_policy = parse_policy(POLICY_YAML, source="bench_matching.py:POLICY_YAML")
    # What the tool scopes scan: every call's arguments and result, as JSON (untimed here).
    scanned = [c.arguments for c in tool_calls] + [c.result for c in tool_calls]
    tool_text_mb = len(json.dumps(scanned, ensure_ascii=False, default=str)) / 1e6
    del scanned
    # Building made a million long-lived objects; the first allocation-heavy call would pay for
    # the full collection that follows (most of a second at 100,000 steps).  Do it now.
    gc.collect()

    cases: dict[str, tuple[Trajectory, Callable[[], Any]]] = {
        "ordered": (
            traj,
            lambda: assert_tool_calls(traj, ordered_expected, mode="ordered", args="partial"),
        ),
        "superset_exact": (
            traj,
            lambda: assert_tool_calls(traj, exact_shuffled, mode="superset", args="exact"),
        ),
        "superset_matchers": (
            traj,
            lambda: assert_tool_calls(traj, mixed_shuffled, mode="superset", args="partial"),
        ),
        "unordered_exact": (
            short,
            lambda: assert_tool_calls(short, short_exact, mode="unordered", args="exact"),
        ),
        "unordered_matchers": (
            short,
            lambda: assert_tool_calls(short, short_mixed, mode="unordered", args="partial"),
        ),
        "policy": (traj, lambda: policy.check(traj)),
        "policy_tool_scopes": (traj, lambda: tool_policy.check(traj)),
    }

    results: dict[str, Any] = {
        "shape": shape,
        "short_steps": len(short.steps),
        "tool_text_mb": tool_text_mb,
    }
    for name, (t, fn) in cases.items():
        wall0 = time.perf_counter()
        first_s, value = _checked(fn, name)
        results[name] = best_pair(_baseline_of(t), fn, first_s, repeats, min_time, budget_s)
        results[name]["wall_s"] = time.perf_counter() - wall0
        if name in ("policy", "policy_tool_scopes"):
            if not value:
                raise SystemExit(f"sanity check failed: the policy ({name}) found no violation")
            by_rule: dict[str, int] = {}
            for v in value:
                by_rule[v.rule_id] = by_rule.get(v.rule_id, 0) + 1
            results[name].update(
                rules=len(policy.rules), violations=len(value), violations_by_rule=by_rule
            )
    # The same with the garbage collector off: how much of the cost is the collector walking
    # the long-lived trajectory while the matcher allocates (informational).
    for name in ("ordered", "policy"):
        t, fn = cases[name]
        nogc = best_pair(
            _baseline_of(t),
            fn,
            results[name]["measured_s"],
            min(repeats, 3),
            min_time,
            budget_s / 3,
            collect=False,
        )
        results[name]["measured_nogc_s"] = nogc["measured_s"]
        results[name]["ratio_nogc"] = nogc["ratio"]
    results["_cases"] = {name: fn for name, (_, fn) in cases.items()}
    results["_traj"] = traj
    return results


def per_rule_costs(traj: Trajectory, repeats: int) -> tuple[float, list[tuple[str, str, float]]]:
    """Seconds of `Policy.check` with no rule (indexing the run), and each rule's own cost.

    Public API only: each rule is checked as a one-rule policy; its cost is the best time of
    that check minus the best time of a policy with no rules.
    """
    import yaml

    from pytest_agentops.policy import parse_policy

    def best(policy: Any) -> float:
        return min(_time_once(lambda: policy.check(traj), 1) for _ in range(repeats))

    data = yaml.safe_load(POLICY_YAML)
    head = {"schema_version": data["schema_version"], "name": data["name"]}
    empty = best(parse_policy(yaml.safe_dump({**head, "rules": []})))
    costs = []
    for rule in data["rules"]:
        one = parse_policy(yaml.safe_dump({**head, "rules": [rule]}))
        kind = type(one.rules[0]).__name__
        costs.append((rule["id"], kind, max(best(one) - empty, 0.0)))
    return empty, costs


# ---- report --------------------------------------------------------------------------------


def _status(ok: bool) -> str:
    return "ok" if ok else "MISSES TARGET"


LABELS = {
    "ordered": "ordered, 1000 expected (partial, matchers)",
    "superset_exact": "superset, 1000 shuffled, exact args (keyed)",
    "superset_matchers": "superset, 1000 shuffled, matchers (Hopcroft-Karp)",
    "unordered_exact": "unordered, 1000 = 1000 calls, exact args",
    "unordered_matchers": "unordered, 1000 = 1000 calls, matchers",
    "policy": "Policy.check, 20 rules (default scopes)",
    "policy_tool_scopes": "Policy.check, 20 rules, one scanning tool calls",
}
#: Figures printed for information only, with why they cost more.
INFORMATIONAL = {
    "policy_tool_scopes": (
        "{label}: information only (no target). It costs {extra_ms:.0f} ms ({extra_x:.1f} x the "
        "baseline) more than the default scopes: its rule {rule} (scope: tool_arguments, "
        "tool_results) JSON-encodes every tool call's arguments and result ({mb:.1f} MB of text "
        "on this run) and runs its detectors over all of it."
    ),
}


def _no_target(key: str) -> str:
    return "(information)" if key in INFORMATIONAL else "(none)"


def _print_table(rows: list[tuple[str, str, str, str]]) -> None:
    headers = ("measurement", "value", "target", "status")
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    print(line)
    print("-" * len(line))
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="10,000 steps, few repeats")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON to PATH")
    parser.add_argument(
        "--steps", type=int, metavar="N", help="steps in the long run (default 100,000)"
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also print a cProfile of the measurements that have a target",
    )
    parser.add_argument(
        "--per-rule",
        action="store_true",
        help="also print each policy rule's cost (adds about 30 s at 100,000 steps)",
    )
    args = parser.parse_args(argv)

    if args.quick:
        n_steps, repeats, min_time, budget = 10_000, 3, 0.02, 2.0
    else:
        n_steps, repeats, min_time, budget = 100_000, 7, 0.1, 15.0
    if args.steps is not None:
        n_steps = args.steps

    env: dict[str, Any] = {
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "pydantic": pydantic.VERSION,
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "source": _source_state(),
        "mode": "quick" if args.quick else "full",
        "loadavg_1min_before": os.getloadavg()[0],
    }
    print(f"Python   {env['python']} ({env['python_implementation']}) {sys.executable}")
    print(f"pydantic {env['pydantic']}")
    print(f"platform {env['platform']} ({env['machine']}, {env['cpu_count']} CPUs)")
    print(f"source   {env['source']}")
    print(f"mode     {env['mode']}, 1-min load average {env['loadavg_1min_before']:.2f}")
    if env["loadavg_1min_before"] > 0.5:
        print("         (other processes are busy: expect noisier figures)")
    print()

    t_start = time.perf_counter()
    results = bench(n_steps, repeats, min_time, budget)
    cases = results.pop("_cases")
    traj = results.pop("_traj")

    rows: list[tuple[str, str, str, str]] = []
    figures: list[dict[str, Any]] = []
    for key, label in LABELS.items():
        target = {"ordered": ORDERED_RATIO_TARGET, "policy": POLICY_RATIO_TARGET}.get(key)
        ratio = results[key]["ratio"]
        ok = target is None or ratio <= target
        rows.append(
            (
                f"{label} / baseline",
                f"{ratio:.1f} x",
                f"<= {target:.0f} x" if target is not None else _no_target(key),
                _status(ok) if target is not None else "",
            )
        )
        figures.append(
            {
                "measurement": key,
                "value": ratio,
                "unit": "x",
                "target": target,
                "ok": ok,
                "informational": key in INFORMATIONAL,
            }
        )

    if args.per_rule:
        wall0 = time.perf_counter()
        index_s, costs = per_rule_costs(traj, 3)
        per_rule = results["policy_tool_scopes"]  # the rules of POLICY_YAML, as written
        per_rule["per_rule_wall_s"] = time.perf_counter() - wall0
        per_rule["index_s"] = index_s
        per_rule["per_rule_s"] = {rule_id: cost for rule_id, _, cost in costs}
    total_s = time.perf_counter() - t_start
    env["loadavg_1min_after"] = os.getloadavg()[0]

    shape = results["shape"]
    print(
        f"trajectory: {shape['steps']:,} steps = {shape['tool_calls']:,} tool calls "
        f"({shape['failed_tool_calls']:,} failed, {shape['tool_names']} tool names) + "
        f"{shape['llm_calls']:,} LLM calls ({shape['parallel_groups']:,} parallel groups); "
        f"built in {shape['build_s']:.1f} s (untimed), seed {SEED}"
    )
    print(
        f"unordered runs on its first {results['short_steps']:,} steps "
        f"(the first {N_EXPECTED:,} tool calls)"
    )
    print()
    print("ms per call: baseline loop over the same trajectory -> measured (best of all samples)")
    for key, label in LABELS.items():
        r = results[key]
        samples = f"the checked call + {r['repeats']} x {r['calls_per_repeat']}"
        print(
            f"    {label:<52} {r['baseline_s'] * 1000:8.3f} -> {r['measured_s'] * 1000:9.3f}"
            f"   ({samples})"
        )
    for key in ("ordered", "policy"):
        r = results[key]
        print(
            f"    {LABELS[key]}, garbage collector off: {r['measured_nogc_s'] * 1000:.1f} ms "
            f"({r['ratio_nogc']:.1f} x its baseline; informational)"
        )
    for key in ("policy", "policy_tool_scopes"):
        found = results[key]
        print(
            f"    {LABELS[key]} found {found['violations']} violations: "
            + ", ".join(f"{k} {v}" for k, v in sorted(found["violations_by_rule"].items()))
        )
    pol = results["policy_tool_scopes"]
    if "per_rule_s" in pol:
        base = pol["baseline_s"]
        print()
        print(
            "Policy.check cost by rule of POLICY_YAML, as written (a one-rule policy minus a "
            "policy with no rule; best of 3; ms and x baseline):"
        )
        print(
            f"    {'(indexing the run: a policy with no rule)':<44} "
            f"{pol['index_s'] * 1000:8.1f}  {pol['index_s'] / base:6.1f} x"
        )
        ranked = sorted(pol["per_rule_s"].items(), key=lambda kv: -kv[1])
        for rule_id, cost in ranked:
            print(f"    {rule_id:<44} {cost * 1000:8.1f}  {cost / base:6.1f} x")
        print(
            f"    (sum {sum(pol['per_rule_s'].values()) * 1000:.0f} ms: rules of a policy share "
            "what the index computes on first use, so alone each pays for it in full)"
        )
    print()

    _print_table(rows)
    extra_s = results["policy_tool_scopes"]["measured_s"] - results["policy"]["measured_s"]
    for key, why in INFORMATIONAL.items():
        print(
            why.format(
                label=LABELS[key],
                rule=TOOL_SCOPE_RULE,
                mb=results["tool_text_mb"],
                extra_ms=extra_s * 1000,
                extra_x=extra_s / results["policy_tool_scopes"]["baseline_s"],
            )
        )
    missed = [f["measurement"] for f in figures if not f["ok"]]
    if missed:
        print()
        print(
            "A target is missed: --profile prints where the time goes"
            + (", --per-rule the cost of each policy rule" if "policy" in missed else "")
            + "."
        )
    print()
    print(
        f"total benchmark time {total_s:.1f} s, "
        f"1-min load average after {env['loadavg_1min_after']:.2f}"
    )

    if args.profile:
        for key in ("ordered", "policy"):
            print(f"\n==== cProfile of one call: {LABELS[key]} (functions of pytest_agentops)")
            print(profile(cases[key]).rstrip())

    if args.json:
        doc = {"environment": env, "figures": figures, "results": results, "total_s": total_s}
        Path(args.json).write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
