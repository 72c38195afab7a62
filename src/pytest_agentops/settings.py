"""Settings resolved once per session and kept in ``config.stash``.

Precedence everywhere: command line > marker (per test, where one applies) > ini > default.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass(frozen=True)
class Settings:
    #: Print the agentops terminal summary (``--agentops`` or ini ``agentops = true``).
    summary: bool
    #: Write the JSON report here (``--agentops-report`` or ini ``agentops_report``).
    report_path: Path | None
    #: Record litellm calls while a test records (ini ``agentops_capture_litellm``).
    capture_litellm: bool

    @property
    def enabled(self) -> bool:
        return self.summary or self.report_path is not None


SETTINGS_KEY = pytest.StashKey[Settings]()


def _ini_bool(config: pytest.Config, name: str) -> bool:
    value = config.getini(name)
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("", "0", "false", "no", "off"):
        return False
    raise pytest.UsageError(f"ini option {name} = {value!r} is not a boolean; use true or false")


def resolve(config: pytest.Config) -> Settings:
    report: str | None = config.getoption("agentops_report") or config.getini("agentops_report")
    report_path = Path(report) if report else None
    if report_path is not None and not Path(report_path).is_absolute():
        base = (
            config.invocation_params.dir if config.getoption("agentops_report") else config.rootpath
        )
        report_path = Path(base) / report_path
    if report_path is not None and report_path.is_dir():
        raise pytest.UsageError(
            f"--agentops-report={report} is a directory; give a file path such as "
            f"{Path(str(report)) / 'agentops-report.json'}"
        )
    return Settings(
        summary=bool(config.getoption("agentops")) or _ini_bool(config, "agentops"),
        report_path=report_path,
        capture_litellm=_ini_bool(config, "agentops_capture_litellm"),
    )
