"""The HTML report opened from disk in a real headless Chromium (Debian's package, driven by
Playwright): filtered, sorted, a trajectory expanded, the failing and violating steps found
highlighted, no request leaving the file, and a screenshot saved.

Chromium is installed with apt-get when it is missing; the tests are skipped, saying why, only
when that cannot be done.  Screenshots go to the test's temporary folder, and also to
``$AGENTOPS_SCREENSHOTS`` when it is set.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from html_suite import entry, run_suite
from pytest_agentops.report.html import render_html
from pytest_agentops.report.model import brief

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
# As root in a container, with no network: no sandbox, no GPU, no calls home.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _find_chromium() -> str | None:
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


def _install_chromium() -> str:
    """Debian's chromium package, once per machine (xdist workers wait on a lock)."""
    apt = shutil.which("apt-get")
    if apt is None:
        return "there is no apt-get to install Chromium with; install chromium or chromium-browser"
    command = [apt, "install", "-y", "-q", "--no-install-recommends", "chromium"]
    if os.geteuid() != 0:
        if shutil.which("sudo") is None:
            return "Chromium is missing and apt-get needs root; run: apt-get install chromium"
        command = ["sudo", "-n", *command]
    with open("/tmp/pytest-agentops-chromium.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _find_chromium():
            return ""
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        run = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
        if run.returncode != 0:  # the package lists may be missing on a fresh machine
            update = [*command[: command.index("install")], "update", "-q"]
            subprocess.run(update, capture_output=True, text=True, env=env, check=False)
            run = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
        if run.returncode != 0:
            tail = (run.stderr or run.stdout).strip().splitlines()[-3:]
            return "apt-get could not install chromium: " + " / ".join(tail)
    return ""


@pytest.fixture(scope="session")
def chromium() -> str:
    path = _find_chromium()
    if path is None:
        problem = _install_chromium()
        path = _find_chromium()
        if path is None:
            pytest.skip(problem or "Chromium was installed but is not on PATH")
    return path


@pytest.fixture(scope="module")
def browser(chromium: str) -> Iterator[Any]:
    """Module-scoped: Playwright's sync API runs an event loop in this thread while it is
    open, which other modules' tests that call ``asyncio.run`` must not find."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("Playwright is not installed: python -m pip install -e '.[dev]'")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


class Page:
    """A page opened from disk that refuses, and remembers, any request for another file."""

    def __init__(self, browser: Any, path: Path) -> None:
        self.page = browser.new_page(viewport={"width": 1400, "height": 1000})
        self.outside: list[str] = []
        self.errors: list[str] = []
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on(
            "console",
            lambda m: self.errors.append(m.text) if m.type == "error" else None,
        )
        self.page.route("**/*", self._route)
        self.page.goto(path.as_uri())

    def _route(self, route: Any) -> None:
        url = route.request.url
        if url.startswith("file://"):
            route.continue_()
        else:
            self.outside.append(url)
            route.abort()

    def visible_names(self) -> list[str]:
        names: list[str] = self.page.eval_on_selector_all(
            "tbody.ao-test:not([hidden])", "bodies => bodies.map(b => b.dataset.name)"
        )
        return names

    def screenshot(self, path: Path) -> None:
        self.page.screenshot(path=str(path), full_page=False)
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        folder = os.environ.get("AGENTOPS_SCREENSHOTS")
        if folder:
            Path(folder).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, Path(folder) / path.name)


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    folder = tmp_path_factory.mktemp("html_suite")
    _, report = run_suite(folder)
    return folder / "report.html", report


def test_filter_sort_and_open_a_failing_trajectory(
    browser: Any, suite: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    path, report = suite
    view = Page(browser, path)
    page = view.page
    names = [e["nodeid"] for e in report["tests"]]
    assert view.visible_names() == names

    # filter by outcome: only the failed tests, then all again
    failed = [e["nodeid"] for e in report["tests"] if e["outcome"] == "failed"]
    page.click(".ao-filter[data-outcome='failed']")
    assert view.visible_names() == failed
    assert page.text_content("#ao-shown") == str(len(failed))
    assert page.get_attribute(".ao-filter[data-outcome='failed']", "aria-pressed") == "true"
    page.click(".ao-filter[data-outcome='']")
    assert view.visible_names() == names
    page.fill("#ao-search", "flaky")
    assert view.visible_names() == [n for n in names if "flaky" in n]
    page.fill("#ao-search", "")

    # sort by cost: the most expensive first, then the cheapest
    by_cost = sorted(report["tests"], key=lambda e: -e["totals"]["cost_usd"])
    page.click(".ao-sort[data-key='cost']")
    assert page.get_attribute("th:has(.ao-sort[data-key='cost'])", "aria-sort") == "descending"
    shown = view.visible_names()
    assert shown[0] == by_cost[0]["nodeid"]
    assert shown[0].endswith("::test_refund_without_lookup")  # gpt-4o, 5,800 tokens
    costs = [
        next(e for e in report["tests"] if e["nodeid"] == n)["totals"]["cost_usd"] for n in shown
    ]
    assert costs == sorted(costs, reverse=True)
    page.click(".ao-sort[data-key='cost']")
    assert page.get_attribute("th:has(.ao-sort[data-key='cost'])", "aria-sort") == "ascending"
    assert view.visible_names()[-1] == by_cost[0]["nodeid"]

    # expand the failing test: its failure, and the step it names highlighted and open
    index, failing = entry(report, "test_refund_without_lookup")
    test = page.locator(f"#ao-test-{index}")
    assert test.locator(".ao-detail").count() == 0  # built when first opened
    test.locator(".ao-toggle").click()
    assert test.locator(".ao-toggle").get_attribute("aria-expanded") == "true"
    assert "tool calls do not match" in test.locator(".ao-failure pre").inner_text()
    step = failing["failure"]["step"]
    highlighted = test.locator(".ao-step--failing")
    assert highlighted.count() == 1
    assert highlighted.get_attribute("data-step") == str(step)
    assert highlighted.get_attribute("open") is not None
    assert "refund(order_id=" in highlighted.locator(".ao-label").first.inner_text()
    span = test.locator(".ao-step--span")  # the `plan` step holds it, and is opened for it
    assert span.get_attribute("open") is not None
    assert span.locator(f".ao-step[data-step='{step}']").count() == 1
    view.screenshot(tmp_path / "html-report-failing.png")

    # a violation: its rule, and the violating step highlighted
    index, violating = entry(report, "test_deletes_an_account")
    test = page.locator(f"#ao-test-{index}")
    test.locator(".ao-name").click()  # the name opens the test too
    violation = violating["violations"][0]
    assert f"[{violation['rule_id']}]" in test.locator(".ao-violation").inner_text()
    marked = test.locator(".ao-step--violating")
    assert marked.get_attribute("data-step") == str(violation["step"])
    assert "delete_account" in marked.locator(".ao-label").inner_text()
    test.locator(".ao-step--violating").evaluate("node => node.open = false")
    test.locator(".ao-violation .ao-goto").click()
    assert marked.get_attribute("open") is not None

    # an LLM call opened: its messages, tokens and the tool call it asks for
    index, _ = entry(report, "test_status")
    test = page.locator(f"#ao-test-{index}")
    test.locator(".ao-toggle").click()
    llm = test.locator(".ao-step--llm").first
    llm.locator("summary").first.click()
    llm.locator(".ao-messages > summary").click()
    text = llm.inner_text()
    assert "Where is ORD-1?" in text
    assert "You are a shop assistant." in text
    assert "tokens 120 in / 15 out" in text
    assert 'lookup_order(order_id="ORD-1")' in text
    # a tool call: its arguments and result, and the markup in it as text
    tool = test.locator(".ao-step--tool").first
    tool.locator("summary").first.click()
    assert '"status": "delivered"' in tool.inner_text()
    assert "</script><img src=x" in tool.inner_text()
    assert page.evaluate("window.__xss") is None
    assert page.locator("img").count() == 0

    # a failed tool call: its error, marked
    index, _ = entry(report, "test_refund_over_the_limit")
    test = page.locator(f"#ao-test-{index}")
    test.locator(".ao-toggle").click()
    errored = test.locator(".ao-step--error")
    errored.locator("summary").first.click()
    assert "refund limit exceeded" in errored.locator(".ao-error-text").inner_text()

    # judge scores, unpriced cost and the repeats' tables
    index, judged = entry(report, "test_judged")
    test = page.locator(f"#ao-test-{index}")
    assert test.locator("td").nth(6).inner_text() == "0.00 \u2717"
    test.locator(".ao-toggle").click()
    assert test.locator(".ao-verdicts tbody tr").count() == len(judged["verdicts"]) == 2
    assert "keyword rule" in test.locator(".ao-verdicts").inner_text()
    index, _ = entry(report, "test_unpriced_model")
    assert page.locator(f"#ao-test-{index} td").nth(5).inner_text().endswith("+?")
    repeat = page.locator("#ao-repeats tbody tr")
    assert repeat.count() == 1
    assert repeat.locator("td").nth(1).inner_text() == "3/4"
    hat = page.locator("#ao-pass-k tbody tr").first.locator("td").all_inner_texts()
    assert hat == [f"{report['pass_hat_k'][str(k)]:.3f}" for k in range(1, 5)]

    # a link to a test opens it
    index, _ = entry(report, "test_reads_config")
    assert page.locator(f"#ao-test-{index} .ao-detail").count() == 0
    page.evaluate(f"location.hash = '#ao-test-{index}'")
    page.locator(f"#ao-test-{index} .ao-detail").wait_for()
    assert page.locator(f"#ao-test-{index} .ao-toggle").get_attribute("aria-expanded") == "true"

    page.locator("#ao-test-0").scroll_into_view_if_needed()
    view.screenshot(tmp_path / "html-report.png")
    assert view.outside == []
    assert view.errors == []
    page.close()


def test_five_thousand_tests_filter_and_sort(browser: Any, tmp_path: Path) -> None:
    """The page of a large run: every row there, filtering and sorting over all of them."""
    tests = []
    for i in range(5000):
        steps = [
            {
                "kind": "llm",
                "id": f"l{i}",
                "model": "gpt-4o-mini",
                "input_tokens": i,
                "output_tokens": 10,
                "cost_usd": i / 1e6,
                "input_messages": [{"role": "user", "content": f"question {i}"}],
                "output_message": {"role": "assistant", "content": f"answer {i}"},
            },
            {"kind": "tool", "id": f"t{i}", "name": "lookup", "arguments": {"n": i}, "result": i},
        ]
        tests.append(
            {
                "nodeid": f"tests/test_big.py::test_case[{i}]",
                "outcome": "failed" if i % 100 == 7 else "passed",
                "trial": None,
                "trajectory": {"schema_version": 1, "steps": steps},
                "totals": {"steps": 2, "tool_calls": 1, "llm_calls": 1, "cost_usd": i / 1e6},
                "violations": [],
                "verdicts": [],
                "failure": None,
            }
        )
    path = tmp_path / "big.html"
    page = render_html(
        {"totals": {}, "judge": {}}, [brief(t) for t in tests], [json.dumps(t) for t in tests]
    )
    path.write_text(page, encoding="utf-8")
    view = Page(browser, path)
    page = view.page
    assert page.locator("tbody.ao-test").count() == 5000
    page.click(".ao-filter[data-outcome='failed']")
    assert len(view.visible_names()) == 50
    page.click(".ao-filter[data-outcome='']")
    page.click(".ao-sort[data-key='cost']")
    assert view.visible_names()[0] == "tests/test_big.py::test_case[4999]"
    page.locator("#ao-test-4999 .ao-toggle").click()
    assert page.locator("#ao-test-4999 .ao-step").count() == 2
    assert page.locator(".ao-detail").count() == 1  # only the opened test was built
    view.screenshot(tmp_path / "html-report-5000.png")
    assert view.errors == []
    assert view.outside == []
    page.close()
