"""Two integrators of the audit log's Merkle tree at once (`mvq audit verify` and the sweeper,
or two sweepers): on Postgres both used to read the same tree size and insert the same leaves,
and the second failed on a duplicate key. Each must leave the one tree the events make."""

import threading
import uuid

from sqlalchemy import func, insert, select

from mvq.audit import merkle, tree
from mvq.audit.models import AuditEvent, AuditLeaf, AuditTreeNode
from mvq.audit.service import event_leaf
from mvq.db import session_factory
from tests.helpers import run_threads

EVENTS = 20_000  # enough that one integration takes long enough for the other to overlap it


def _append_events(url: str, count: int) -> None:
    """Events as rows, straight in: the tree reads only their bytes, not the chain's links."""
    with session_factory(url)() as session:
        rows = [
            {"actor": "test", "action": "test.event", "object_type": "test",
             "object_id": str(n), "data": {"n": n}, "prev_hash": uuid.uuid4().hex * 2,
             "hash": uuid.uuid4().hex * 2}
            for n in range(count)
        ]  # fmt: skip
        session.execute(insert(AuditEvent), rows)
        session.commit()


def test_two_integrators_at_once_build_one_tree(postgres_database: str) -> None:
    url = postgres_database
    _append_events(url, EVENTS)
    sizes: list[int] = []
    start = threading.Barrier(2)

    def integrator() -> None:
        with session_factory(url)() as session:
            start.wait()
            sizes.append(tree.integrate(session))
            session.commit()

    for _ in range(2):  # from an empty tree, then from a partial one with a new batch
        run_threads([integrator, integrator])
        start.reset()
        _append_events(url, 3_000)

    with session_factory(url)() as session:
        integrated = tree.integrate(session)
        session.commit()
        events = session.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()
        compact = merkle.CompactRange()
        for event in events:
            compact.append(merkle.leaf_hash(event_leaf(event)))
        assert integrated == len(events) == EVENTS + 6_000
        assert session.scalar(select(func.count()).select_from(AuditLeaf)) == len(events)
        assert session.scalar(
            select(func.count()).select_from(AuditTreeNode).where(AuditTreeNode.level == 0)
        ) == len(events)
        assert tree.root(session, integrated) == compact.root()
    assert sorted(sizes) == [EVENTS, EVENTS, EVENTS + 3_000, EVENTS + 3_000]
