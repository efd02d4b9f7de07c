"""`mvq audit verify`: the chain, the rows bound to it, and the Merkle tree against the
checkpoints the witnesses hold (not the operator's bucket, which storage keys can empty)."""

import httpx
from sqlalchemy.orm import Session

from mvq.audit import binding, checkpoint, merkle, tree, witnesses
from mvq.audit.models import AuditEvent
from mvq.audit.service import event_leaf, verify_chain
from mvq.db import session_factory
from mvq.exports.dataset import BOUND_TABLES


class VerifyFailed(Exception):
    pass


def _roots(session: Session, sizes: set[int]) -> dict[int, bytes]:
    """The roots at `sizes`, recomputed from the events themselves in one pass."""
    from sqlalchemy import select

    compact = merkle.CompactRange()
    found = {0: merkle.EMPTY_ROOT} if 0 in sizes else {}
    for event in session.scalars(select(AuditEvent).order_by(AuditEvent.seq)).yield_per(5_000):
        compact.append(merkle.leaf_hash(event_leaf(event)))
        if compact.size in sizes:
            found[compact.size] = compact.root()
    return found


def verify() -> str:
    with session_factory()() as session:
        tree.integrate(session)  # what the sweeper would do next; the walk checks it
        session.commit()
    with session_factory()() as session:
        # One snapshot for the log and the rows, so an award committed meanwhile is not
        # taken for a row without its event (SQLite's transaction is one already).
        if session.get_bind().dialect.name == "postgresql":
            session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        report = verify_chain(session, bound_types=BOUND_TABLES)
        if report.first_bad_seq is not None:
            raise VerifyFailed(
                f"audit chain broken at event {report.first_bad_seq}: {report.problem}"
            )
        row = binding.verify_rows(session, BOUND_TABLES, report.bindings)
        if row is not None:
            raise VerifyFailed(f"audit chain does not vouch for {row}")
        held: list[tuple[witnesses.Witness, checkpoint.Checkpoint]] = []
        configured = witnesses.configured()
        for witness in configured:
            try:
                found = witnesses.held(witness)
            except (witnesses.WitnessRefused, checkpoint.CheckpointInvalid, httpx.HTTPError) as exc:
                raise VerifyFailed(
                    f"witness {witness.url} cannot be checked, so a rewrite cannot be ruled "
                    f"out: {exc}"
                ) from exc
            if found is not None:
                held.append((witness, found[0]))
        stored = None if configured else checkpoint.latest(session)
        anchors = [(f"witness {w.url}", c) for w, c in held]
        if stored is not None:
            anchors.append(("its newest checkpoint in S3", stored[0]))
        events = report.events
        roots = _roots(session, {events, *(c.size for _, c in anchors)})
        for name, anchored in anchors:
            problem = witnesses.check_witnessed(anchored, events=events, roots=roots)
            if problem is not None:
                raise VerifyFailed(f"audit log contradicts {name}: {problem}")
        size = tree.size(session)
        if size != events or (size and tree.root(session, size) != roots[size]):
            raise VerifyFailed("the stored Merkle tree does not match the events")
        for name, anchored in anchors:
            problem = witnesses.check_proof(session, anchored, size=size, root=roots[size])
            if problem is not None:
                raise VerifyFailed(f"audit log contradicts {name}: {problem}")
    if held:
        anchor = "; extends " + ", ".join(f"{w.url} at {c.size}" for w, c in held)
    elif configured:
        anchor = "; no witness holds a checkpoint of this log yet"
    else:
        anchor = "; not witnessed (MVQ_WITNESSES is empty)" + (
            f", operator's checkpoint at {stored[0].size} holds" if stored else ""
        )
    return f"ok: {report.events} events, head {report.head}, root {roots[events].hex()}{anchor}"
