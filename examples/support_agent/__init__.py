"""An example customer-support agent, tested by its trajectories with pytest-agentops.

Modules:

- ``store``: the in-memory customers/orders/approvals/tickets the agent works on.
- ``tools``: the agent's tools (plain methods decorated with ``@pytest_agentops.tool``) and the
  JSON schemas the model sees.
- ``agent``: the agent loop on ``litellm.completion`` / ``litellm.acompletion``.
- ``fake_llm``: a deterministic OpenAI-compatible server with a scripted "model", so the tests
  run offline, fast and for free (but are still priced as gpt-4o-mini calls).

This file deliberately imports nothing: ``conftest.py`` imports ``support_agent.fake_llm``
(standard library only) without paying for ``import litellm``.
"""
