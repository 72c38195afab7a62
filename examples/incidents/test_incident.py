"""The incident's regression case fails on the code that was in production.

(``agent_cases/refund-without-approval.case.yaml`` itself is collected with the rest of the
suite and passes on the fixed code.)
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import incidents.shop

HERE = Path(__file__).resolve().parent


def test_the_case_fails_on_the_code_that_was_in_production(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(incidents.shop, "APPROVAL_GUARD", False)  # the production code
    shutil.copytree(HERE / "agent_cases", pytester.path / "agent_cases")
    shutil.copy(HERE / "approval.yaml", pytester.path / "approval.yaml")
    pytester.makeini("[pytest]\nagentops_agent = incidents.shop:run\n")
    result = pytester.runpytest("-p", "no:randomly", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*the incident's rules broken again: refund-approval*",
            "*[[]refund-approval[]]*refund(order_id='ORD-1002', amount=249.0)*",
            "*the agent repeated the incident*",
        ]
    )
