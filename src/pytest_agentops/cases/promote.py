"""``pytest-agentops promote``: a production trace becomes a regression case file.

The trace is read by the importers (any format, ``--trace-id`` for a file with many); the
policies given are run on it to record which rules the incident broke; secrets (API keys,
also under their names) and the personal data the policy detectors find (emails, phone
numbers, card numbers) are masked everywhere unless ``--no-redact``; the case file is written
atomically inside the cases directory, never over an existing case without ``--force``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pytest_agentops.trajectory.model import Trajectory

from .case import SUFFIX, Case, CaseError, Expectations, Provenance, check_name

#: Where cases go when neither ``--out`` nor ini ``agentops_cases_dir`` says.
DEFAULT_DIR = "tests/agent_cases"


def promote(
    trace: str,
    name: str,
    *,
    out: str | Path = DEFAULT_DIR,
    format: str = "auto",
    trace_id: str | None = None,
    policies: Sequence[str] = (),
    expect_tools: Sequence[str] = (),
    forbid_tools: Sequence[str] = (),
    judge: Sequence[str] = (),
    note: str = "",
    force: bool = False,
    redact: bool = True,
) -> tuple[Path, Case]:
    """Write ``NAME.case.yaml`` under ``out`` from the incident in ``trace``."""
    from pytest_agentops.policy.loading import load_policy
    from pytest_agentops.policy.rules import check_policies

    check_name(name)
    folder = Path(out)
    path = folder / f"{name}{SUFFIX}"
    if path.resolve().parent != folder.resolve():
        raise CaseError(f"{path}: a case is written in its cases directory, {folder}")
    if path.exists() and not force:
        raise CaseError(f"{path} exists: pick another --name, or replace it with --force")
    incident = Trajectory.load(trace, format=format, trace_id=trace_id)
    loaded = [load_policy(p) for p in policies]
    broken = sorted({v.rule_id for v in check_policies(incident, loaded)})
    if format == "auto":
        from pytest_agentops.trajectory.io import detect_format

        format = detect_format(trace)
    case = Case(
        name=name,
        note=note,
        provenance=Provenance(
            source=str(trace),
            format=format,
            trace_id=str(incident.metadata.get("trace_id") or incident.id),
            imported_at=datetime.now(timezone.utc).replace(microsecond=0),
        ),
        input=incident.input,
        expect=Expectations(
            policies=[_relative(p, folder) for p in policies],
            violated_rules=broken,
            expect_tools=list(expect_tools),
            forbid_tools=list(forbid_tools),
            judge=list(judge),
        ),
        incident=incident,
    )
    if redact:
        case = Case.model_validate(masked(case.model_dump(mode="json")))
    case.dump(path)
    return path, case


def _relative(policy: str, folder: Path) -> str:
    """A policy path as the case refers to it: relative to the case file when both are in
    one tree (the case then moves with the project), else as given."""
    import os

    try:
        return Path(os.path.relpath(Path(policy).resolve(), folder.resolve())).as_posix()
    except ValueError:  # another drive (Windows)
        return str(policy)


def masked(data: Any) -> Any:
    """``data`` with API keys and the personal data the policy detectors find masked."""
    from pytest_agentops.policy.pii import DETECTORS
    from pytest_agentops.policy.pii import redact as mask_found
    from pytest_agentops.redact import redact_document

    detectors = [DETECTORS[name] for name in ("email", "phone", "credit_card", "api_key")]
    return mask_found(redact_document(data), detectors, numbers=False)


def cases_dir(start: Path | None = None) -> str:
    """``agentops_cases_dir`` from the project's pytest configuration (``pytest.ini``,
    ``pyproject.toml``, ``tox.ini``, ``setup.cfg`` in this directory or above), relative to
    that file's directory; :data:`DEFAULT_DIR` when none sets it."""
    import configparser

    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        for name in ("pytest.ini", ".pytest.ini", "pyproject.toml", "tox.ini", "setup.cfg"):
            config = folder / name
            if not config.is_file():
                continue
            if name == "pyproject.toml":
                value = _toml_value(config)
                if value is None and "[tool.pytest.ini_options]" not in config.read_text():
                    continue
            else:
                parser = configparser.ConfigParser(interpolation=None)
                try:
                    parser.read(config, encoding="utf-8")
                except configparser.Error:
                    continue
                section = "pytest" if name != "setup.cfg" else "tool:pytest"
                if not parser.has_section(section):
                    continue
                value = parser.get(section, "agentops_cases_dir", fallback=None)
            if value is not None:
                return str(folder / value)
            return str(folder / DEFAULT_DIR)
    return DEFAULT_DIR


def _toml_value(config: Path) -> str | None:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # Python 3.10: pytest depends on tomli there
        import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]
    try:
        data = tomllib.loads(config.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    value = data.get("tool", {}).get("pytest", {}).get("ini_options", {}).get("agentops_cases_dir")
    return str(value) if value is not None else None
