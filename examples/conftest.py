"""Fixtures for the support agent's trajectory tests.

Nothing here reaches the network and no API key is needed: the agent talks to ``FakeLLM``, a
scripted OpenAI-compatible server on 127.0.0.1.  To run the same tests against a real model,
change ``agent_options`` (e.g. ``model="gpt-4o-mini"`` and no ``api_base``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from support_agent.agent import run_support_agent
from support_agent.fake_llm import FakeLLM

# pytester runs a test module inside a test: test_support_policies.py uses it to check how a
# policy failure reads in pytest's output.
pytest_plugins = ["pytester"]

#: ``openai/`` makes litellm speak the OpenAI protocol to ``api_base``; the rest of the name
#: picks the price table entry, so the fake calls cost what gpt-4o-mini calls would.
MODEL = "openai/gpt-4o-mini"


def pytest_configure(config: pytest.Config) -> None:
    # litellm 1.106 trips pydantic >= 2.11 warnings on every call; they are litellm's to fix,
    # and would bury this suite's own warnings.
    config.addinivalue_line("filterwarnings", "ignore::DeprecationWarning:litellm")
    config.addinivalue_line("filterwarnings", "ignore:Item .* `ReadOnly` qualifier:UserWarning")


@pytest.fixture(scope="session")
def fake_llm() -> Iterator[FakeLLM]:
    """A well-behaved scripted model, shared by the whole session (it keeps no state)."""
    with FakeLLM() as server:
        yield server


@pytest.fixture(scope="session")
def reckless_llm() -> Iterator[FakeLLM]:
    """A scripted model that skips identity checks and manager approval."""
    with FakeLLM(behaviour="reckless") as server:
        yield server


@pytest.fixture
def agent_options(fake_llm: FakeLLM) -> dict[str, Any]:
    """The keyword arguments that point the agent at its model."""
    return {"model": MODEL, "api_base": fake_llm.base_url, "api_key": "fake-key"}


@pytest.fixture
def ask_agent(agent_options: dict[str, Any]) -> Callable[..., str]:
    """``ask_agent(question, **kwargs)``: run the support agent and return its answer."""
    return functools.partial(run_support_agent, **agent_options)
