"""Fixtures for the support agent's trajectory tests.

Nothing here reaches the network and no API key is needed.  Every test replays its model
responses (and tool results) from its cassette under ``cassettes/examples/``.  They were
recorded against ``FakeLLM``, a scripted OpenAI-compatible server on 127.0.0.1, with
``pytest examples/ --agentops-record=rewrite``, which starts that server for the tests that
record.  To record against a real model instead, change ``agent_options`` (e.g.
``model="gpt-4o-mini"`` and no ``api_base``) and record with your API key set: the key is
never written to the cassettes.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from support_agent.agent import run_support_agent
from support_agent.fake_llm import FakeLLM

if TYPE_CHECKING:
    from pytest_agentops import Cassette

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
    # frameworks/test_langgraph.py uses langgraph's prebuilt ReAct agent, which LangGraph 1.x
    # moved to the `langchain` package (not installed here): same agent, one more dependency.
    config.addinivalue_line("filterwarnings", "ignore:create_react_agent has been moved")


#: Where the agent is pointed while a test replays its cassette: nothing listens there, and
#: nothing needs to, since every response comes from the cassette (loopback ports are not
#: part of request matching, so the port the recording was made on does not matter).
REPLAY_BASE_URL = "http://127.0.0.1:9/v1"


@pytest.fixture(scope="session")
def model_servers() -> Iterator[dict[str, FakeLLM]]:
    """The scripted model servers, by behaviour, started on first use and stopped at the end."""
    servers: dict[str, FakeLLM] = {}
    yield servers
    for server in servers.values():
        server.stop()


@pytest.fixture
def model_url(
    agentops_cassette: Cassette | None, model_servers: dict[str, FakeLLM]
) -> Callable[[str], str]:
    """``model_url(behaviour)``: the ``api_base`` of a scripted model.

    A local server runs only when the test records (``--agentops-record=...``); replaying
    from ``cassettes/`` needs none.
    """

    def url(behaviour: str = "careful") -> str:
        if agentops_cassette is not None and not agentops_cassette.recording:
            return REPLAY_BASE_URL
        if behaviour not in model_servers:
            model_servers[behaviour] = FakeLLM(behaviour=behaviour).start()
        return model_servers[behaviour].base_url

    return url


@pytest.fixture
def agent_options(model_url: Callable[[str], str]) -> dict[str, Any]:
    """The keyword arguments that point the agent at a well-behaved model."""
    return {"model": MODEL, "api_base": model_url("careful"), "api_key": "fake-key"}


@pytest.fixture
def reckless_options(model_url: Callable[[str], str]) -> dict[str, Any]:
    """The same for a model that skips identity checks and manager approval."""
    return {"model": MODEL, "api_base": model_url("reckless"), "api_key": "fake-key"}


@pytest.fixture
def agentops_judge_config(
    agentops_cassette: Cassette | None, model_servers: dict[str, FakeLLM]
) -> dict[str, Any]:
    """Where the LLM judge (``agentops_judge`` markers, ``agent_judge``) sends its requests:
    a scripted judge on 127.0.0.1 while the test records; on replay the cassette answers."""
    if agentops_cassette is not None and not agentops_cassette.recording:
        return {"api_base": REPLAY_BASE_URL}
    if "judge" not in model_servers:
        model_servers["judge"] = FakeLLM(behaviour="judge").start()
    return {"api_base": model_servers["judge"].base_url}


@pytest.fixture
def ask_agent(agent_options: dict[str, Any]) -> Callable[..., str]:
    """``ask_agent(question, **kwargs)``: run the support agent and return its answer."""
    return functools.partial(run_support_agent, **agent_options)
