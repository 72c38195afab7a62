"""The support desk's data: customers, orders, refund approvals and tickets, kept in memory.

A real deployment would talk to a database or internal APIs; the agent only ever sees the
store through its tools (``support_agent.tools``).  ``SupportStore.demo()`` builds a fresh
store with the same demo data every time, so every agent run (and every test) starts clean.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Customer:
    id: str
    name: str
    email: str


@dataclass
class Order:
    id: str
    customer_id: str
    items: list[str]
    total: float
    status: str  # "processing", "shipped" or "delivered"
    refunded: float = 0.0

    @property
    def refundable(self) -> float:
        """How much of the order can still be refunded."""
        return round(self.total - self.refunded, 2)


@dataclass
class Approval:
    id: str
    order_id: str
    amount: float
    reason: str


@dataclass
class Refund:
    id: str
    order_id: str
    amount: float


@dataclass
class Ticket:
    id: str
    summary: str
    priority: str


@dataclass
class SupportStore:
    customers: dict[str, Customer] = field(default_factory=dict)
    orders: dict[str, Order] = field(default_factory=dict)
    approvals: list[Approval] = field(default_factory=list)
    refunds: list[Refund] = field(default_factory=list)
    tickets: list[Ticket] = field(default_factory=list)

    @classmethod
    def demo(cls) -> SupportStore:
        """A fresh store with two customers and their orders."""
        customers = [
            Customer("C1001", "Ada Lovelace", "ada@example.com"),
            Customer("C1002", "Alan Turing", "alan@example.com"),
        ]
        orders = [
            Order("ORD-1001", "C1001", ["USB-C cable", "Phone case"], 45.00, "shipped"),
            Order("ORD-1002", "C1001", ["Noise-cancelling headphones"], 249.00, "delivered"),
            Order("ORD-1003", "C1001", ["Mechanical keyboard"], 129.00, "processing"),
            Order("ORD-2001", "C1002", ["Standing desk"], 899.00, "delivered"),
        ]
        return cls(
            customers={c.id: c for c in customers},
            orders={o.id: o for o in orders},
        )

    def approved_amount(self, order_id: str) -> float:
        """The largest refund a manager has approved for this order (0 if none)."""
        return max((a.amount for a in self.approvals if a.order_id == order_id), default=0.0)
