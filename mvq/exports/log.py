"""The audit log as its readers see it: the chain check, events in order, and the log a page
at a time (or one claim's story). `mvq.audit` sits below the policy, since every domain records
into it, so the reads that need a role to see them live here and ask the policy first."""

from dataclasses import replace

from sqlalchemy.orm import Session

from mvq.audit import query, status
from mvq.audit import service as audit
from mvq.audit.models import AuditEvent
from mvq.auth import policy
from mvq.auth.policy import Action
from mvq.auth.principal import Principal
from mvq.exports import integrity, trail


def check(*, auditor: Principal) -> integrity.Result:
    """The log's whole check, as `mvq audit verify` runs it (against the witnesses)."""
    policy.require(auditor, Action.read_audit)
    return integrity.check()


def verify_now(session: Session, *, auditor: Principal) -> status.Verification:
    """Walks the whole chain now and records who checked it and what they found."""
    policy.require(auditor, Action.read_audit)
    # Before `session` begins: the check integrates the tree in a session of its own.
    result = integrity.check()
    data = {
        "ok": result.ok, "events": result.events, "up_to": result.up_to, "head": result.head,
        "first_bad_seq": result.first_bad_seq, "problem": result.problem,
        "seconds": result.seconds, "witnessed": result.witnessed,
        "witnesses": result.witnesses,
    }  # fmt: skip
    return status.record(session, actor=auditor.actor, data=data)


def events(
    session: Session, *, auditor: Principal, object_id: str | None, after_seq: int, limit: int
) -> list[AuditEvent]:
    policy.require(auditor, Action.read_audit)
    found = audit.events(session, object_id=object_id, after_seq=after_seq, limit=limit)
    return as_seen(session, auditor=auditor, events=found)


def page(
    session: Session,
    *,
    auditor: Principal,
    where: query.Filters,
    claim: str | None,
    before: int | None,
    after: int | None,
    limit: int,
) -> query.EventPage:
    """A page of the log, newest first; with `claim`, of that claim's story only."""
    policy.require(auditor, Action.read_audit)
    if claim:
        found = trail.claim_events(session, submission_id=claim, where=where, before=before,
                                   after=after, limit=limit)  # fmt: skip
    else:
        found = query.page(session, where=where, before=before, after=after, limit=limit)
    return replace(found, events=as_seen(session, auditor=auditor, events=found.events))


def as_seen(session: Session, *, auditor: Principal, events: list[AuditEvent]) -> list[AuditEvent]:
    """The events as an auditor may read them: one linked to a unit reads every event, but
    where one names that unit's claims (or the unit) its data and those names are hidden.
    Hidden events are unsaved copies, so the stored log is never touched."""
    if auditor.unit_id is None:
        return events
    traces = trail.unit_traces(session, unit_id=auditor.unit_id)
    shown = []
    for event in events:
        row = {c.key: getattr(event, c.key) for c in AuditEvent.__mapper__.column_attrs}
        seen = trail.without_traces(row, traces)
        shown.append(event if seen is row else AuditEvent(**seen))
    return shown
