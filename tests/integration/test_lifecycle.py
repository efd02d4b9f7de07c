"""The claim's transition table, walked whole on both databases: every allowed move happens and
is audited on the claim; every other (status, cause, target) is refused and changes nothing."""

import itertools
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mvq.audit.models import AuditEvent
from mvq.db import utcnow
from mvq.errors import Conflict
from mvq.submissions import lifecycle
from mvq.submissions.models import Submission, SubmissionStatus
from testkit.people import make_unit

STATUSES = list(SubmissionStatus)


def claim_in(session: Session, unit_id: str, status: SubmissionStatus) -> Submission:
    submission = Submission(
        unit_id=unit_id,
        status=status,
        target_type="tank",
        outcome="destroyed",
        occurred_at=utcnow() - timedelta(hours=1),
    )
    session.add(submission)
    session.commit()
    return submission


def stored_status(session: Session, submission_id: str) -> str:
    session.expire_all()
    return session.get_one(Submission, submission_id).status


def claim_events(session: Session, submission_id: str) -> list[AuditEvent]:
    return list(
        session.scalars(
            select(AuditEvent)
            .where(AuditEvent.object_id == submission_id, AuditEvent.object_type == "submission")
            .order_by(AuditEvent.seq)
        )
    )


def test_the_table_reaches_every_status_and_every_status_but_the_start_is_reached() -> None:
    targets = {t.target for t in lifecycle.TRANSITIONS}
    sources = {t.source for t in lifecycle.TRANSITIONS}
    assert targets == set(STATUSES) - {SubmissionStatus.awaiting_upload}
    # `failed` is the only dead end; a decided claim can still be overturned.
    assert set(STATUSES) - sources == {SubmissionStatus.failed}


@pytest.mark.parametrize(
    "transition",
    sorted(lifecycle.TRANSITIONS, key=lambda t: (t.source, t.target, t.cause)),
    ids=lambda t: f"{t.source}->{t.target} by {t.cause}",
)
def test_every_allowed_move_happens_and_is_audited_on_the_claim(
    session: Session, transition: lifecycle.Transition
) -> None:
    unit_id, _ = make_unit(session)
    submission = claim_in(session, unit_id, transition.source)
    lifecycle.move(session, submission, to=transition.target, cause=transition.cause,
                   actor="test", data={"note": "walk"})  # fmt: skip
    session.commit()
    assert stored_status(session, submission.id) == transition.target
    [event] = claim_events(session, submission.id)
    assert event.action == f"submission.{transition.target}"
    assert event.data == {"from": transition.source, "cause": transition.cause, "note": "walk"}


def test_every_other_move_is_refused_and_changes_nothing(session: Session) -> None:
    unit_id, _ = make_unit(session)
    claims = {status: claim_in(session, unit_id, status) for status in STATUSES}
    events_before = session.scalar(select(func.count()).select_from(AuditEvent))
    refused = 0
    for source, target, cause in itertools.product(STATUSES, STATUSES, sorted(lifecycle.CAUSES)):
        if lifecycle.Transition(source, target, cause) in lifecycle.TRANSITIONS:
            continue
        with pytest.raises(lifecycle.IllegalMove):
            lifecycle.move(session, claims[source], to=target, cause=cause, actor="test")
        refused += 1
    session.commit()
    assert refused == len(STATUSES) ** 2 * len(lifecycle.CAUSES) - len(lifecycle.TRANSITIONS)
    for status, submission in claims.items():
        assert stored_status(session, submission.id) == status
    assert session.scalar(select(func.count()).select_from(AuditEvent)) == events_before


def test_a_move_from_a_status_the_claim_has_left_is_refused(session: Session) -> None:
    """Two callers that both saw `in_queue`: the second finds the claim moved and changes
    nothing (the conditional UPDATE, not the caller's stale copy, decides)."""
    unit_id, _ = make_unit(session)
    submission = claim_in(session, unit_id, SubmissionStatus.in_queue)
    lifecycle.move(session, submission, to=SubmissionStatus.in_review, cause="review.leased",
                   actor="first")  # fmt: skip
    session.commit()
    stale = Submission(id=submission.id, status=SubmissionStatus.in_queue)
    with pytest.raises(Conflict) as refused:
        lifecycle.move(session, stale, to=SubmissionStatus.in_review, cause="review.leased",
                       actor="second")  # fmt: skip
    assert refused.value.code == "claim_moved"
    session.rollback()
    assert stored_status(session, submission.id) == SubmissionStatus.in_review
    assert [e.actor for e in claim_events(session, submission.id)] == ["first"]
