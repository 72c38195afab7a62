"""Reading and writing trajectories with errors that name the file and the field.

The trajectory class is passed in by :meth:`Trajectory.load` (this module never imports the
model, so the model's I/O methods and this module do not import each other).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from pytest_agentops._util import (
    MAX_NESTING,
    UnsafeYaml,
    atomic_write_text,
    format_from_suffix,
    load_plain_yaml,
    too_deep,
    version_problem,
)
from pytest_agentops.errors import TrajectoryLoadError
from pytest_agentops.trajectory.openai_format import anthropic_blocks

if TYPE_CHECKING:
    from .model import Trajectory

FORMATS = ("auto", "native", "openai", "anthropic")
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
        problem = getattr(exc, "problem", None) or str(exc)
        raise TrajectoryLoadError(
            f"{path}: not valid YAML{where}: {problem} (is the file truncated?)"
        ) from None


def _detect(data: Any) -> str:
    """The format of parsed trace data, by its content."""
    if isinstance(data, dict):
        if "steps" in data or "schema_version" in data:
            return "native"
        messages = data.get("messages")
        if not isinstance(messages, list):
            return "unknown"
        if "system" in data:  # a Messages API request: chat requests put it in `messages`
            return "anthropic"
        data = messages
    if isinstance(data, list):
        return "anthropic" if any(anthropic_blocks(m) for m in data) else "openai"
    return "unknown"


def _imported(cls: type[Trajectory], data: Any, kind: str, label: str) -> Trajectory:
    """A trace in another tool's format, through its importer."""
    if kind == "anthropic":
        from .importers.anthropic_messages import trajectory_from_anthropic_messages

        read = trajectory_from_anthropic_messages(data, source=label)
    else:
        messages = data.get("messages") if isinstance(data, dict) else data
        if not isinstance(messages, list):
            raise TrajectoryLoadError(f"{label}: field `messages`: expected a list of messages")
        from .importers.openai_messages import trajectory_from_openai_messages

        read = trajectory_from_openai_messages(messages, source=label)
    try:
        return cls.model_validate(read)
    except ValidationError as exc:
        raise TrajectoryLoadError(describe_validation_error(exc, label)) from None
    except RecursionError:
        raise TrajectoryLoadError(f"{label}: nested too deeply to be a trajectory") from None


def load_trajectory(cls: type[Trajectory], source: Any, format: str = "auto") -> Trajectory:
    """``cls`` (a :class:`Trajectory`) from a file path or parsed data, in ``format``."""
    schema_version = cls.model_fields["schema_version"].default
    if format not in FORMATS:
        raise TrajectoryLoadError(
            f"unknown trajectory format {format!r}; use one of: {', '.join(FORMATS)}"
        )
    if isinstance(source, (str, Path)):
        path = Path(source)
        label = str(path)
        data = _read_file(path, format)
    else:
        label = "<trajectory data>"
        data = source
    if too_deep(data):
        raise TrajectoryLoadError(
            f"{label}: lists and objects nest more than {MAX_NESTING} levels deep, which no "
            "trace needs (and which could not be written back): is this the right file?"
        )
    kind = _detect(data) if format == "auto" else format
    if kind == "unknown":
        raise TrajectoryLoadError(
            f"{label}: cannot tell the trace format: expected a pytest-agentops trajectory "
            "(an object with `schema_version` and `steps`), OpenAI chat messages or Anthropic "
            "messages (a list of {role, content} objects, or an object with `messages`); "
            f"got {type(data).__name__}"
        )
    if kind in ("openai", "anthropic"):
        return _imported(cls, data, kind, label)
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
        import yaml

        body = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, explicit_end=True)
        return _YAML_HEADER + str(body)
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
