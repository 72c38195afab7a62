"""The ``pytest-agentops`` command line."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any


def _schemas() -> dict[str, Any]:
    from .models import Trajectory
    from .report import Report

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
