"""The ``pytest-agentops`` command line."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any


def _schemas() -> dict[str, Any]:
    from .report.model import Report
    from .trajectory.model import Trajectory

    return {
        "trajectory": Trajectory.model_json_schema(),
        "report": Report.model_json_schema(),
    }


def cmd_schema(args: argparse.Namespace) -> int:
    schemas = _schemas()
    if args.name == "all":
        out: Any = schemas
    else:
        out = schemas[args.name]
    print(json.dumps(out, indent=2))
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    """Check production traces against policies: 0 clean, 1 violations, 2 unusable input."""
    from .errors import AgentopsError
    from .policy.loading import load_policy
    from .policy.rules import check_policies
    from .policy.violations import format_violations
    from .trajectory.model import Trajectory

    try:
        policies = [load_policy(path) for path in args.policy]
        traces = [(path, Trajectory.load(path, format=args.trace_format)) for path in args.traces]
    except AgentopsError as exc:
        print(f"pytest-agentops check: {exc}", file=sys.stderr)
        return 2
    results = [(path, traj, check_policies(traj, policies)) for path, traj in traces]
    total = sum(len(violations) for _, _, violations in results)
    if args.format == "json":
        document = {
            "schema_version": 1,
            "policies": [p.name for p in policies],
            "violations": total,
            "traces": [
                {"trace": path, "violations": [v.model_dump(mode="json") for v in violations]}
                for path, _, violations in results
            ],
        }
        print(json.dumps(document, indent=2))
    else:
        for path, traj, violations in results:
            if violations:
                print(f"{path}: {len(violations)} violation(s)")
                for line in format_violations(violations, traj).splitlines():
                    print(f"  {line}")
            else:
                print(f"{path}: ok")
        names = ", ".join(p.name for p in policies)
        print(f"{len(results)} trace(s) checked against {names}: {total} violation(s)")
    return 1 if total else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pytest-agentops",
        description="Tools for pytest-agentops trajectories and reports.",
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    schema = sub.add_parser(
        "schema", help="print the JSON Schema of the file formats (trajectory, report)"
    )
    schema.add_argument(
        "name",
        nargs="?",
        default="all",
        choices=["all", "trajectory", "report"],
        help="which schema to print (default: all, as one object keyed by name)",
    )
    schema.set_defaults(func=cmd_schema)
    check = sub.add_parser(
        "check",
        help="check traces captured in production against policy files",
        description="Exit status: 0 no violations, 1 violations found, 2 unusable input.",
    )
    check.add_argument("traces", nargs="+", metavar="TRACE", help="trace files (JSON or YAML)")
    check.add_argument(
        "--policy", action="append", required=True, metavar="FILE", help="policy YAML (repeatable)"
    )
    check.add_argument("--format", choices=["text", "json"], default="text", help="output format")
    check.add_argument(
        "--trace-format",
        choices=["auto", "native", "openai", "anthropic"],
        default="auto",
        help="format of the trace files (default: detect)",
    )
    check.set_defaults(func=cmd_check)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        from . import __version__

        print(f"pytest-agentops {__version__}")
        return 0
    if args.command is None:
        parser.print_help()
        return 2
    result: int = args.func(args)
    return result


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
