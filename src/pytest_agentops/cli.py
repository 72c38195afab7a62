"""The ``pytest-agentops`` command line."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from .trajectory.importers.registry import FORMATS as TRACE_FORMATS

#: The file formats `schema` describes: name -> (module, pydantic model).
FORMATS = {
    "trajectory": ("pytest_agentops.trajectory.model", "Trajectory"),
    "report": ("pytest_agentops.report.model", "Report"),
    "policy": ("pytest_agentops.policy.rules", "Policy"),
    "case": ("pytest_agentops.cases.case", "Case"),
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


def _use_plugins(modules: list[str]) -> None:
    """Importers of projects' own formats: ``pytest_agentops_import_trace`` in ``modules``."""
    import importlib

    from .errors import AgentopsError
    from .trajectory.importers.registry import CUSTOM

    for name in modules:
        sys.path.insert(0, os.getcwd())
        try:
            module = importlib.import_module(name)
        except ImportError as exc:
            raise AgentopsError(f"--plugin {name}: cannot import it ({exc})") from None
        finally:
            sys.path.pop(0)
        hook = getattr(module, "pytest_agentops_import_trace", None)
        if hook is None:
            raise AgentopsError(
                f"--plugin {name}: the module has no pytest_agentops_import_trace function"
            )
        CUSTOM.append(_keywords(hook))


def _keywords(hook: Any) -> Any:
    """The hook as the registry calls importers (positionally)."""

    def read(data: Any, format: str) -> Any:
        return hook(data=data, format=format)

    return read


def _trajectories(args: argparse.Namespace, path: str) -> list[Any]:
    """The trajectories of one trace file (the one with ``--trace-id`` when given)."""
    from .trajectory.model import Trajectory

    if args.plugin and not getattr(args, "plugins_loaded", False):
        _use_plugins(args.plugin)
        args.plugins_loaded = True
    if args.trace_id:
        return [Trajectory.load(path, format=args.trace_format, trace_id=args.trace_id)]
    return list(Trajectory.load_all(path, format=args.trace_format))


def _label(path: str, traj: Any, many: bool) -> str:
    return f"{path} [{traj.metadata.get('trace_id') or traj.id}]" if many else path


def cmd_check(args: argparse.Namespace) -> int:
    """Check production traces against policies: 0 clean, 1 violations, 2 unusable input."""
    from .errors import AgentopsError
    from .policy.loading import load_policy
    from .policy.rules import check_policies
    from .policy.violations import format_violations

    try:
        policies = [load_policy(path) for path in args.policy]
        traces = []
        for path in args.traces:
            found = _trajectories(args, path)
            traces += [(_label(path, traj, len(found) > 1), traj) for traj in found]
    except AgentopsError as exc:
        _out(f"pytest-agentops check: {exc}", file=sys.stderr)
        return 2
    results = [(label, traj, check_policies(traj, policies)) for label, traj in traces]
    total = sum(len(violations) for _, _, violations in results)
    if args.format == "json":
        document = {
            "schema_version": 1,
            "policies": [p.name for p in policies],
            "violations": total,
            "traces": [
                {
                    "trace": label,
                    "trace_id": traj.metadata.get("trace_id") or traj.id,
                    "violations": [v.model_dump(mode="json") for v in violations],
                }
                for label, traj, violations in results
            ],
        }
        from .redact import redact_document

        _out(json.dumps(redact_document(document), indent=2))
    else:
        for label, traj, violations in results:
            if violations:
                _out(f"{label}: {len(violations)} violation(s)")
                for line in format_violations(violations, traj).splitlines():
                    _out(f"  {line}")
            else:
                _out(f"{label}: ok")
        names = ", ".join(p.name for p in policies)
        _out(f"{len(results)} trace(s) checked against {names}: {total} violation(s)")
    return 1 if total else 0


def cmd_convert(args: argparse.Namespace) -> int:
    """Write traces of any format in the native form: 0 written, 2 unusable input."""
    from ._util import atomic_write_text, format_from_suffix
    from .errors import AgentopsError

    try:
        found = _trajectories(args, args.trace)
    except AgentopsError as exc:
        _out(f"pytest-agentops convert: {exc}", file=sys.stderr)
        return 2
    output = args.output
    lines = output is not None and output.lower().endswith((".jsonl", ".ndjson"))
    if len(found) > 1 and not lines:
        ids = ", ".join(str(t.metadata.get("trace_id") or t.id) for t in found[:5])
        _out(
            f"pytest-agentops convert: {args.trace} holds {len(found)} trajectories ({ids}"
            f"{', ...' if len(found) > 5 else ''}): write them all with -o OUT.jsonl, or pick "
            "one with --trace-id",
            file=sys.stderr,
        )
        return 2
    redact = not args.no_redact
    if lines:
        text = "".join(
            json.dumps(json.loads(t.dump(format="json", redact=redact)), ensure_ascii=False) + "\n"
            for t in found
        )
    else:
        fmt = format_from_suffix(output, default="yaml") if output else "yaml"
        text = found[0].dump(format=fmt, redact=redact)
    if output is None:
        _out(text.rstrip("\n"))
    else:
        atomic_write_text(output, text)
        _out(
            f"wrote {output} ({len(found)} trajectory)"
            if len(found) == 1
            else f"wrote {output} ({len(found)} trajectories)",
            file=sys.stderr,
        )
    return 0


def cmd_promote(args: argparse.Namespace) -> int:
    """Turn an incident trace into a regression case: 0 written, 2 unusable input."""
    from .cases.promote import cases_dir, promote
    from .errors import AgentopsError

    if args.plugin:
        _use_plugins(args.plugin)
    out = args.out or cases_dir()
    try:
        path, case = promote(
            args.trace,
            args.name,
            out=out,
            format=args.trace_format,
            trace_id=args.trace_id,
            policies=args.policy,
            expect_tools=args.expect_tool,
            forbid_tools=args.forbid_tool,
            judge=args.judge,
            note=args.note,
            force=args.force,
            redact=not args.no_redact,
        )
    except AgentopsError as exc:
        _out(f"pytest-agentops promote: {exc}", file=sys.stderr)
        return 2
    steps = case.incident.totals()
    _out(f"wrote {path}: {steps.llm_calls} LLM call(s), {steps.tool_calls} tool call(s)")
    if case.expect.violated_rules:
        _out(f"the incident broke: {', '.join(case.expect.violated_rules)}")
    if not args.no_redact:
        _out("secrets and personal data (emails, phones, cards, keys) are masked")
    _out(f"run it offline: pytest {path} (ini agentops_agent names the agent's entry point)")
    return 0


#: ``diff --mode``: ``assertions.matching.MODES``, spelt out so the command line starts
#: without pydantic.
MATCH_MODES = ("strict", "ordered", "unordered", "superset", "subset")


def _one_trajectory(args: argparse.Namespace, path: str) -> Any:
    """The trajectory of a trace file to diff: its only one, or the one with ``--trace-id``
    (which picks among several and leaves a single-trajectory file alone)."""
    from .errors import AgentopsError

    wanted, args.trace_id = args.trace_id, None
    try:
        found = _trajectories(args, path)
    finally:
        args.trace_id = wanted
    ids = [str(t.metadata.get("trace_id") or t.id) for t in found]
    if len(found) > 1 and wanted:
        found = [t for t in found if wanted in (t.id, t.metadata.get("trace_id"))]
        if not found:
            raise AgentopsError(f"{path}: no trace with id {wanted!r}; the file has: {ids[:5]}")
    if not found:
        raise AgentopsError(f"{path}: the file holds no trajectory")
    if len(found) > 1:
        raise AgentopsError(
            f"{path} holds {len(found)} trajectories ({', '.join(ids[:5])}"
            f"{', ...' if len(ids) > 5 else ''}): pick one with --trace-id"
        )
    return found[0]


def cmd_diff(args: argparse.Namespace) -> int:
    """Compare two traces semantically: 0 they match, 1 they differ, 2 unusable input."""
    from .cases.diff import diff_trajectories
    from .errors import AgentopsError

    try:
        baseline = _one_trajectory(args, args.baseline)
        run = _one_trajectory(args, args.run)
    except AgentopsError as exc:
        _out(f"pytest-agentops diff: {exc}", file=sys.stderr)
        return 2
    diff = diff_trajectories(
        baseline,
        run,
        mode=args.mode,
        cost_tolerance=args.cost_tolerance,
        tokens_tolerance=args.tokens_tolerance,
        compare_output=args.compare_output,
    )
    if args.format == "json":
        from .redact import redact_document

        document = {"baseline": args.baseline, "run": args.run, **diff.to_jsonable()}
        _out(json.dumps(redact_document(document), indent=2, default=repr))
    else:
        _out(diff.render(args.baseline, args.run))
    return 0 if diff.ok else 1


def _tolerance(text: str) -> float | None:
    """``--cost-tolerance`` / ``--tokens-tolerance``: a relative change (0.2 = 20%) or none."""
    if text.strip().lower() in ("none", "off"):
        return None
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not (value >= 0 and value != float("inf")):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a tolerance: use a relative change (0.2 = 20%) or none"
        )
    return value


def _trace_options(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--trace-format",
        default="auto",
        help="format of the trace files (default: detect from the content): "
        + "; ".join(f"{name}: {text}" for name, text in TRACE_FORMATS.items()),
    )
    command.add_argument(
        "--trace-id", default=None, help="read only the trace with this id (files with many)"
    )
    command.add_argument(
        "--plugin",
        action="append",
        default=[],
        metavar="MODULE",
        help="import MODULE for its pytest_agentops_import_trace (your own trace formats)",
    )


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
    _trace_options(check)
    check.set_defaults(func=cmd_check)
    convert = sub.add_parser(
        "convert",
        help="write a trace of any format as a pytest-agentops trajectory",
        description="Exit status: 0 written, 2 unusable input. Secrets are redacted unless "
        "--no-redact.",
    )
    convert.add_argument("trace", metavar="TRACE", help="the trace file")
    convert.add_argument(
        "-o",
        "--output",
        metavar="OUT",
        default=None,
        help="output file: .yaml, .json, or .jsonl for every trajectory of the file "
        "(default: YAML on standard output)",
    )
    convert.add_argument(
        "--no-redact", action="store_true", help="keep secrets (API keys) as they are"
    )
    _trace_options(convert)
    convert.set_defaults(func=cmd_convert)
    diff = sub.add_parser(
        "diff",
        help="compare two traces semantically (tool calls, LLM calls, cost, tokens, output)",
        description="Compare RUN with BASELINE as agent_trace.assert_matches_baseline() does; "
        "ids, timestamps and latencies are ignored. Exit status: 0 they match, 1 they differ, "
        "2 unusable input.",
    )
    diff.add_argument("baseline", metavar="BASELINE", help="the reference trace file")
    diff.add_argument("run", metavar="RUN", help="the trace file compared with it")
    diff.add_argument(
        "--mode",
        choices=MATCH_MODES,
        default="strict",
        help="how tool calls are matched, as in assert_tool_calls (default: strict)",
    )
    for metric in ("cost", "tokens"):
        diff.add_argument(
            f"--{metric}-tolerance",
            type=_tolerance,
            default=0.2,
            metavar="REL",
            help=f"allowed relative change of the total {metric} (default: 0.2 = 20%%; "
            "none: not compared)",
        )
    diff.add_argument(
        "--compare-output", action="store_true", help="a different final output is a difference"
    )
    diff.add_argument("--format", choices=["text", "json"], default="text", help="output format")
    _trace_options(diff)
    diff.set_defaults(func=cmd_diff)
    promote = sub.add_parser(
        "promote",
        help="turn an incident trace into a regression case (NAME.case.yaml) pytest runs",
        description="Exit status: 0 written, 2 unusable input. Secrets and personal data are "
        "masked unless --no-redact.",
    )
    promote.add_argument("trace", metavar="TRACE", help="the incident's trace file (any format)")
    promote.add_argument("--name", required=True, help="the case's name (its file name)")
    promote.add_argument(
        "--out",
        metavar="DIR",
        default=None,
        help="cases directory (default: ini agentops_cases_dir, else tests/agent_cases)",
    )
    promote.add_argument(
        "--policy",
        action="append",
        default=[],
        metavar="FILE",
        help="policy YAML: the rules the incident broke must not be broken again (repeatable)",
    )
    promote.add_argument(
        "--expect-tool",
        action="append",
        default=[],
        metavar="NAME",
        help="a tool the run must call",
    )
    promote.add_argument(
        "--forbid-tool", action="append", default=[], metavar="NAME", help="a tool it must not call"
    )
    promote.add_argument(
        "--judge", action="append", default=[], metavar="CRITERIA", help="LLM-judge criteria"
    )
    promote.add_argument("--note", default="", help="what happened (kept in the case file)")
    promote.add_argument("--force", action="store_true", help="replace an existing case")
    promote.add_argument(
        "--no-redact", action="store_true", help="keep secrets and personal data as they are"
    )
    _trace_options(promote)
    promote.set_defaults(func=cmd_promote)
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
