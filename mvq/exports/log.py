"""The audit log as its readers see it: the chain check, events in order, and the log a page
at a time (or one claim's story). `mvq.audit` sits below the policy, since every domain records
into it, so the reads that need a role to see them live here and ask the policy first."""

from sqlalchemy.orm import Session

from mvq.audit import query, status
from mvq.audit import service as audit
from mvq.audit.models import AuditEvent
from mvq.auth import policy
from mvq.auth.policy import Action
from mvq.auth.principal import Principal
from mvq.exports import trail


def check_chain(session: Session, *, auditor: Principal) -> audit.ChainReport:
    policy.require(auditor, Action.read_audit)
    return audit.verify_chain(session)


def verify_now(session: Session, *, auditor: Principal) -> status.Verification:
    """Walks the whole chain now and records who checked it and what they found."""
    policy.require(auditor, Action.read_audit)
    return status.verify(session, actor=auditor.actor)


def events(
    session: Session, *, auditor: Principal, object_id: str | None, after_seq: int, limit: int
) -> list[AuditEvent]:
    policy.require(auditor, Action.read_audit)
    return audit.events(session, object_id=object_id, after_seq=after_seq, limit=limit)


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
        return trail.claim_events(session, submission_id=claim, where=where, before=before,
                                  after=after, limit=limit)  # fmt: skip
    return query.page(session, where=where, before=before, after=after, limit=limit)
