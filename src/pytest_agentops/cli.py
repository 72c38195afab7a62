"""The ``pytest-agentops`` command line."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

#: The file formats `schema` describes: name -> (module, pydantic model).
FORMATS = {
    "trajectory": ("pytest_agentops.trajectory.model", "Trajectory"),
    "report": ("pytest_agentops.report.model", "Report"),
    "policy": ("pytest_agentops.policy.rules", "Policy"),
}


def _schemas() -> dict[str, Any]:
    import importlib

    return {
        name: getattr(importlib.import_module(module), model).model_json_schema()
        for name, (module, model) in FORMATS.items()
    }


def _out(text: str = "", file: Any = None) -> None:
    """``print``, quiet when the reader went away (``pytest-agentops schema | head``)."""
    stream = sys.stdout if file is None else file
    try:
        print(text, file=stream)
        stream.flush()
    except BrokenPipeError:
        _silence(stream)


def _silence(stream: Any) -> None:
    """Send what is left to /dev/null, so the flush at exit does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
    except (OSError, ValueError):
        pass


def cmd_schema(args: argparse.Namespace) -> int:
    schemas = _schemas()
    if args.name == "all":
        out: Any = schemas
    else:
        out = schemas[args.name]
    _out(json.dumps(out, indent=2))
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
        _out(f"pytest-agentops check: {exc}", file=sys.stderr)
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
        _out(json.dumps(document, indent=2))
    else:
        for path, traj, violations in results:
            if violations:
                _out(f"{path}: {len(violations)} violation(s)")
                for line in format_violations(violations, traj).splitlines():
                    _out(f"  {line}")
            else:
                _out(f"{path}: ok")
        names = ", ".join(p.name for p in policies)
        _out(f"{len(results)} trace(s) checked against {names}: {total} violation(s)")
    return 1 if total else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pytest-agentops",
        description="Tools for pytest-agentops trajectories and reports.",
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    schema = sub.add_parser(
        "schema", help="print the JSON Schema of the file formats (trajectory, report, policy)"
    )
    schema.add_argument(
        "name",
        nargs="?",
        default="all",
        choices=["all", *FORMATS],
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

        _out(f"pytest-agentops {__version__}")
        return 0
    if args.command is None:
        parser.print_help()
        return 2
    result: int = args.func(args)
    return result


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
