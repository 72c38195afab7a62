"""What the real trace exports in tests/data/traces/ recorded (see README.md there): the
support agent refunding ORD-1001, shared by the importer tests."""

from __future__ import annotations

from pathlib import Path

TRACES = Path(__file__).parent / "data" / "traces"

LOOKUP_RESULT = {
    "order_id": "ORD-1001",
    "customer_id": "C1001",
    "status": "shipped",
    "items": ["USB-C cable", "Phone case"],
    "total": 45.0,
    "refunded": 0.0,
}
REFUND_RESULT = {"refund_id": "RF-1", "order_id": "ORD-1001", "amount": 45.0, "status": "issued"}
