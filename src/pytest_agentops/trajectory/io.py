"""Reading and writing trajectories with errors that name the file and the field.

The trajectory class is passed in by :meth:`Trajectory.load` (this module never imports the
model, so the model's I/O methods and this module do not import each other).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from pytest_agentops._util import (
    MAX_NESTING,
    UnsafeYaml,
    atomic_write_text,
    dump_plain_yaml,
    format_from_suffix,
    load_plain_yaml,
    too_deep,
    version_problem,
)
from pytest_agentops.errors import TrajectoryLoadError

if TYPE_CHECKING:
    from .model import Trajectory

_STEP_KINDS = {"tool", "llm", "message", "span"}


def format_location(loc: tuple[int | str, ...]) -> str:
    """Render a pydantic error location as ``steps[3].arguments``.

    Discriminated unions add the tag (``tool``) after the list index; it is not part of the
    path a user wrote, so it is dropped.
    """
    out = ""
    prev: int | str | None = None
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(prev, int) and part in _STEP_KINDS:
            pass
        else:
            out += f".{part}" if out else str(part)
        prev = part
    return out or "(top level)"


def describe_validation_error(exc: ValidationError, source: str) -> str:
    errors = exc.errors(include_url=False)
    first = errors[0]
    where = format_location(tuple(first["loc"]))
    got = first.get("input")
    got_text = ""
    if first["type"] not in ("missing",) and not isinstance(got, (dict, list)):
        got_text = f" (got {got!r})"
    more = f"; and {len(errors) - 1} more problem(s)" if len(errors) > 1 else ""
    return f"{source}: field `{where}`: {first['msg']}{got_text}{more}"


#: The first line of a YAML trajectory the plugin writes; such a file ends with YAML's
#: document end marker ``...``, so one cut short at a line boundary (still valid YAML, a
#: partial run) is refused rather than read as a shorter trajectory.
_YAML_HEADER = "# pytest-agentops trajectory: the last line is `...`\n"


def _cut_short(text: str) -> bool:
    return text.startswith(_YAML_HEADER) and text.rstrip().rsplit("\n", 1)[-1] != "..."


def _read_file(path: Path, fmt: str) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TrajectoryLoadError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise TrajectoryLoadError(f"{path}: cannot read the file: {exc}") from None
    if not text.strip():
        raise TrajectoryLoadError(f"{path}: the file is empty (expected a JSON or YAML trajectory)")
    kind = format_from_suffix(path, default="")
    if kind != "yaml":
        try:
            return json.loads(text)
        except RecursionError:
            raise TrajectoryLoadError(f"{path}: nested too deeply to be a trajectory") from None
        except json.JSONDecodeError as exc:
            if kind == "json":
                raise TrajectoryLoadError(
                    f"{path}: not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
                    " (is the file truncated?)"
                ) from None
    import yaml

    if _cut_short(text):
        raise TrajectoryLoadError(
            f"{path}: the file was cut short (a trajectory written by pytest-agentops ends "
            "with a line `...`, this one does not): restore it or record it again"
        )
    try:
        return load_plain_yaml(text, "a trajectory file")
    except UnsafeYaml as exc:
        where = f" at line {exc.line}" if exc.line else ""
        raise TrajectoryLoadError(f"{path}{where}: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise TrajectoryLoadError(
            f"{path}: not valid YAML{where}: {problem} (is the file truncated?)"
        ) from None


def _is_jsonl(path: Path) -> bool:
    """JSON Lines by suffix, or by content: a first line that is a whole JSON value followed
    by more lines (a JSON document never continues after its first complete value)."""
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        return True
    if path.suffix.lower() in (".yaml", ".yml"):
        return False
    try:
        with path.open("rb") as fh:
            first = fh.readline(1 << 20)
            rest = fh.read(1)
    except OSError:
        return False
    if not rest or not first.strip().startswith(b"{"):
        return False
    try:
        json.loads(first)
    except (ValueError, RecursionError):
        return False
    return True


def _lines(path: Path) -> Iterator[tuple[Any, str]]:
    """The documents of a JSON Lines file, one line at a time, with where each came from."""
    try:
        fh = path.open(encoding="utf-8")
    except OSError as exc:
        raise TrajectoryLoadError(f"{path}: cannot read the file: {exc}") from None
    with fh:
        number = 0
        try:
            for number, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    document = json.loads(line)
                except RecursionError:
                    raise TrajectoryLoadError(
                        f"{path}:{number}: nested too deeply to be a trace"
                    ) from None
                except json.JSONDecodeError as exc:
                    raise TrajectoryLoadError(
                        f"{path}:{number}: not valid JSON at column {exc.colno}: {exc.msg} "
                        "(each line of a JSON Lines file is one JSON document)"
                    ) from None
                if too_deep(document):
                    raise TrajectoryLoadError(
                        f"{path}:{number}: lists and objects nest more than {MAX_NESTING} "
                        "levels deep, which no trace needs"
                    )
                yield document, f"line {number}"
        except UnicodeDecodeError as exc:
            raise TrajectoryLoadError(
                f"{path}:{number + 1}: not UTF-8 text ({exc.reason})"
            ) from None
    if number == 0:
        raise TrajectoryLoadError(f"{path}: the file is empty (expected JSON Lines of traces)")


def _documents(source: Any) -> tuple[Iterator[tuple[Any, str]], str]:
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file() and not path.exists():
            raise TrajectoryLoadError(f"{path}: no such file")
        if _is_jsonl(path):
            return _lines(path), str(path)
        data = _read_file(path, "auto")
        if too_deep(data):
            raise TrajectoryLoadError(
                f"{path}: lists and objects nest more than {MAX_NESTING} levels deep, which no "
                "trace needs (and which could not be written back): is this the right file?"
            )
        return iter([(data, "")]), str(path)
    if too_deep(source):
        raise TrajectoryLoadError(
            "<trajectory data>: lists and objects nest more than "
            f"{MAX_NESTING} levels deep, which no trace needs"
        )
    return iter([(source, "")]), "<trajectory data>"


def detect_format(source: Any) -> str:
    """The format of a trace file or of parsed data, detected from its (first) document."""
    from .importers.registry import detect

    documents, _ = _documents(source)
    for document, _where in documents:
        return detect(document)
    return "unknown"


def _validate(cls: type[Trajectory], data: Any, label: str) -> Trajectory:
    schema_version = cls.model_fields["schema_version"].default
    if not isinstance(data, dict):
        raise TrajectoryLoadError(
            f"{label}: expected an object with `schema_version` and `steps`, "
            f"got {type(data).__name__}"
        )
    version = data.get("schema_version", schema_version)
    if version != schema_version or type(version) is not type(schema_version):
        raise TrajectoryLoadError(
            version_problem(
                label,
                "schema_version",
                version,
                schema_version,
                "re-record the trajectory with this version",
            )
        )
    try:
        return cls.model_validate(data)
    except ValidationError as exc:
        raise TrajectoryLoadError(describe_validation_error(exc, label)) from None
    except RecursionError:
        raise TrajectoryLoadError(f"{label}: nested too deeply to be a trajectory") from None


def iter_trajectories(
    cls: type[Trajectory], source: Any, format: str = "auto"
) -> Iterator[Trajectory]:
    """Every trajectory in ``source`` (a file path or parsed data), in ``format``."""
    from .importers.registry import check_format, import_documents

    check_format(format)
    documents, label = _documents(source)
    for data, where, native in import_documents(documents, format, label):
        trajectory = _validate(cls, data, f"{label}:{where}" if where else label)
        if not native:
            _complete(trajectory)
        yield trajectory


def _complete(trajectory: Trajectory) -> None:
    """What an imported trace implies but does not say, derived as for live recordings."""
    from .derive import conversation_tool_calls, derive_input, derive_output, link_tool_calls, price

    steps = trajectory.steps
    link_tool_calls(steps)
    steps[:] = conversation_tool_calls(steps)
    for step in steps:
        if step.kind == "llm" and step.cost_usd is None:
            step.cost_usd = price(
                {
                    "model": step.model,
                    "provider": step.provider,
                    "input_tokens": step.input_tokens,
                    "output_tokens": step.output_tokens,
                }
            )
    if trajectory.input is None:
        trajectory.input = derive_input(steps)
    if trajectory.output is None:
        trajectory.output = derive_output(steps)


def load_trajectory(
    cls: type[Trajectory], source: Any, format: str = "auto", trace_id: str | None = None
) -> Trajectory:
    """The one trajectory in ``source`` (or the one with ``trace_id``)."""
    label = str(source) if isinstance(source, (str, Path)) else "<trajectory data>"
    found: list[Trajectory] = []
    ids: list[str] = []
    for trajectory in iter_trajectories(cls, source, format):
        ids.append(trajectory.id)
        if (
            trace_id is None
            or trajectory.id == trace_id
            or (trajectory.metadata.get("trace_id") == trace_id)
        ):
            found.append(trajectory)
    if trace_id is not None and not found:
        raise TrajectoryLoadError(
            f"{label}: no trace with id {trace_id!r}; the file has: {_listed(ids)}"
        )
    if len(found) > 1:
        raise TrajectoryLoadError(
            f"{label} holds {len(found)} trajectories ({_listed(ids)}): pick one with "
            "trace_id=... (--trace-id on the command line), or read them all with "
            "Trajectory.load_all()"
        )
    if not found:
        raise TrajectoryLoadError(f"{label}: no trajectory in it")
    return found[0]


def _listed(ids: list[str], limit: int = 5) -> str:
    shown = ", ".join(ids[:limit])
    return shown + (f" and {len(ids) - limit} more" if len(ids) > limit else "")


def trajectory_to_text(traj: Trajectory, fmt: str, redact: bool = True) -> str:
    try:
        data = traj.model_dump(mode="json", exclude_none=True)
    except ValueError as exc:
        if "depth" not in str(exc):
            raise
        raise ValueError(
            f"trajectory {traj.name or traj.id}: a value nests too deeply to be written "
            f"(keep arguments, results and outputs under {MAX_NESTING} levels)"
        ) from None
    if redact:
        from pytest_agentops.redact import redact_document

        data = redact_document(data)
    if fmt == "yaml":
        return _YAML_HEADER + dump_plain_yaml(data, explicit_end=True)
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def dump_trajectory(
    traj: Trajectory, path: str | Path | None, format: str = "auto", *, redact: bool = True
) -> str:
    if format not in ("auto", "json", "yaml"):
        raise ValueError(f"unknown dump format {format!r}; use 'auto', 'json' or 'yaml'")
    fmt = format if format != "auto" else (format_from_suffix(path) if path else "json")
    text = trajectory_to_text(traj, fmt, redact)
    if path is not None:
        atomic_write_text(path, text)
    return text
