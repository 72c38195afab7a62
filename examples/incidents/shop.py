"""The support agent as the shop runs it in production: the entry point the regression cases
call (ini ``agentops_agent = incidents.shop:run``).

The base URL points nowhere: a case replays the incident's model answers, so no model server
and no API key are needed.
"""

from __future__ import annotations

import os

from support_agent.agent import run_support_agent

#: The fix for the incident in ``incident.otlp.json`` (a $249 refund without a manager's
#: approval): the agent asks a manager itself before a refund the model requested without
#: one.  ``SHOP_APPROVAL_GUARD=0`` runs the code that was in production.
APPROVAL_GUARD = os.environ.get("SHOP_APPROVAL_GUARD", "1") != "0"


def run(question: str) -> str:
    return run_support_agent(
        question,
        model="openai/gpt-4o-mini",
        api_base="http://127.0.0.1:9/v1",
        api_key="not-needed",
        approval_guard=APPROVAL_GUARD,
    )
