from datetime import UTC, datetime

from mvq.audit.models import AuditEvent
from mvq.audit.service import GENESIS, canonical, event_hash


def make(prev: str, **changes: object) -> str:
    fields: dict = {
        "prev_hash": prev,
        "occurred_at": datetime(2026, 1, 1, tzinfo=UTC),  # type: ignore[type-arg]
        "actor": "staff:1",
        "action": "review.approve",
        "object_type": "decision",
        "object_id": "d1",
        "data": {"points": 40},
    }
    return event_hash(AuditEvent(**(fields | changes)))


def test_hash_depends_on_every_field_and_the_previous_hash() -> None:
    base = make(GENESIS)
    assert make(GENESIS) == base
    assert make("1" * 64) != base
    assert make(GENESIS, actor="staff:2") != base
    assert make(GENESIS, data={"points": 41}) != base
    assert make(GENESIS, occurred_at=datetime(2026, 1, 1, 0, 0, 1, tzinfo=UTC)) != base


def test_canonical_encoding_ignores_key_order() -> None:
    assert canonical({"a": 1, "b": [1, 2]}) == canonical({"b": [1, 2], "a": 1})
