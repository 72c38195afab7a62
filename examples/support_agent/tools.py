"""The support agent's tools, and the JSON schemas that describe them to the model.

Each tool is an ordinary method decorated with ``@pytest_agentops.tool``.  In production the
decorator costs next to nothing; inside a test that records (the ``agent_trace`` fixture or
``@pytest.mark.agentops``) every call lands in the trajectory with its arguments, its result or
its exception, and its duration.  ``self`` is not recorded, only the arguments the model chose.

The tools check their input the way a real backend would and raise on anything wrong.  The
agent loop turns those exceptions into ``{"error": ...}`` tool messages for the model, and the
trajectory keeps them as failed tool calls (``ToolCall.error`` set, ``ToolCall.ok`` False).

Note what the tools do *not* enforce: nothing stops ``lookup_order`` from running before
``verify_identity``.  That rule lives only in the system prompt, which is exactly why the tests
check the agent's trajectories and not just its answers.
"""

from __future__ import annotations

import re
from typing import Any

from pytest_agentops import tool

from .store import Approval, Refund, SupportStore, Ticket

#: Refunds above this many dollars need a manager's approval first.
APPROVAL_THRESHOLD = 100.0
#: Managers approve refunds up to this amount; anything larger goes to the finance team.
MANAGER_LIMIT = 500.0
PRIORITIES = ("low", "normal", "high", "urgent")

_CUSTOMER_ID = re.compile(r"C\d{4}")
_ORDER_ID = re.compile(r"ORD-\d{4}")


def _require(pattern: re.Pattern[str], value: Any, what: str) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise ValueError(f"{what} must look like {pattern.pattern!r}, got {value!r}")
    return value


def _amount(value: Any) -> float:
    # bool is an int subclass: reject it explicitly, `True` dollars is not an amount.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"amount must be a number of dollars, got {value!r}")
    if value <= 0:
        raise ValueError(f"amount must be positive, got {value}")
    return round(float(value), 2)


class SupportTools:
    """The tools of one agent run, bound to that run's store."""

    def __init__(self, store: SupportStore) -> None:
        self.store = store

    @tool
    def verify_identity(self, customer_id: str, email: str) -> dict[str, Any]:
        """Check that the email matches the customer's account."""
        _require(_CUSTOMER_ID, customer_id, "customer_id")
        customer = self.store.customers.get(customer_id)
        # Same answer for "no such customer" and "wrong email": do not confirm who exists.
        if customer is None or customer.email.lower() != str(email).strip().lower():
            return {"verified": False}
        return {"verified": True, "customer_id": customer.id, "name": customer.name}

    @tool
    def lookup_order(self, order_id: str) -> dict[str, Any]:
        """Return an order's status, items and amounts."""
        _require(_ORDER_ID, order_id, "order_id")
        order = self.store.orders.get(order_id)
        if order is None:
            raise LookupError(f"no order with id {order_id}")
        return {
            "order_id": order.id,
            "customer_id": order.customer_id,
            "status": order.status,
            "items": list(order.items),
            "total": order.total,
            "refunded": order.refunded,
        }

    @tool
    def request_manager_approval(self, order_id: str, amount: float, reason: str) -> dict[str, Any]:
        """Ask a manager to approve a refund over the approval threshold."""
        order = self.store.orders.get(_require(_ORDER_ID, order_id, "order_id"))
        if order is None:
            raise LookupError(f"no order with id {order_id}")
        amount = _amount(amount)
        if not isinstance(reason, str) or not reason.strip():
            raise ValueError("a reason is required for the manager")
        if amount > order.refundable:
            raise ValueError(f"{order_id} has only ${order.refundable:.2f} left to refund")
        if amount > MANAGER_LIMIT:
            return {
                "approved": False,
                "reason": f"refunds over ${MANAGER_LIMIT:.0f} must go through the finance team",
            }
        approval = Approval(f"APR-{len(self.store.approvals) + 1}", order_id, amount, reason)
        self.store.approvals.append(approval)
        return {"approved": True, "approval_id": approval.id, "amount": amount}

    @tool
    def refund(self, order_id: str, amount: float) -> dict[str, Any]:
        """Refund part or all of an order to the customer's original payment method."""
        order = self.store.orders.get(_require(_ORDER_ID, order_id, "order_id"))
        if order is None:
            raise LookupError(f"no order with id {order_id}")
        amount = _amount(amount)
        if amount > order.refundable:
            raise ValueError(f"{order_id} has only ${order.refundable:.2f} left to refund")
        # The one rule the backend enforces itself: money does not leave without approval.
        if amount > APPROVAL_THRESHOLD and self.store.approved_amount(order_id) < amount:
            raise PermissionError(
                f"refunds over ${APPROVAL_THRESHOLD:.0f} need manager approval first "
                "(call request_manager_approval)"
            )
        order.refunded = round(order.refunded + amount, 2)
        refund = Refund(f"RF-{len(self.store.refunds) + 1}", order_id, amount)
        self.store.refunds.append(refund)
        return {"refund_id": refund.id, "order_id": order_id, "amount": amount, "status": "issued"}

    @tool
    def create_ticket(self, summary: str, priority: str = "normal") -> dict[str, Any]:
        """Open a ticket for the human support team."""
        if not isinstance(summary, str) or not summary.strip():
            raise ValueError("summary must be a non-empty string")
        if priority not in PRIORITIES:
            raise ValueError(f"priority must be one of {', '.join(PRIORITIES)}; got {priority!r}")
        ticket = Ticket(f"T-{len(self.store.tickets) + 1}", summary.strip(), priority)
        self.store.tickets.append(ticket)
        return {"ticket_id": ticket.id, "priority": priority}


def _function(
    name: str, description: str, properties: dict[str, Any], required: list[str]
) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {
                "type": "object",
                "properties": properties,
                "required": required,
                "additionalProperties": False,
            },
        },
    }


_ORDER_ID_PARAM = {"type": "string", "description": "Order id, e.g. ORD-1001."}
_AMOUNT_PARAM = {"type": "number", "description": "Amount in US dollars."}

#: What the model is told about the tools (OpenAI "tools" format, passed as-is by litellm).
TOOL_SCHEMAS: list[dict[str, Any]] = [
    _function(
        "verify_identity",
        "Verify the customer's identity. Required before any account or order lookup.",
        {
            "customer_id": {"type": "string", "description": "Customer id, e.g. C1001."},
            "email": {"type": "string", "description": "Email address on the account."},
        },
        ["customer_id", "email"],
    ),
    _function(
        "lookup_order",
        "Look up an order's status, items, total and amount already refunded.",
        {"order_id": _ORDER_ID_PARAM},
        ["order_id"],
    ),
    _function(
        "request_manager_approval",
        f"Ask a manager to approve a refund over ${APPROVAL_THRESHOLD:.0f}.",
        {
            "order_id": _ORDER_ID_PARAM,
            "amount": _AMOUNT_PARAM,
            "reason": {"type": "string", "description": "Why the customer should get it."},
        },
        ["order_id", "amount", "reason"],
    ),
    _function(
        "refund",
        f"Refund an order. Over ${APPROVAL_THRESHOLD:.0f} needs manager approval first.",
        {"order_id": _ORDER_ID_PARAM, "amount": _AMOUNT_PARAM},
        ["order_id", "amount"],
    ),
    _function(
        "create_ticket",
        "Open a ticket for the human support team (anything the agent cannot do itself).",
        {
            "summary": {"type": "string"},
            "priority": {"type": "string", "enum": list(PRIORITIES)},
        },
        ["summary", "priority"],
    ),
]

TOOL_NAMES = frozenset(schema["function"]["name"] for schema in TOOL_SCHEMAS)
