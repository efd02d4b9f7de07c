from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Response

from edge.deps import NowDep, PrincipalDep, StaffDep
from edge.unit_of_work import SessionDep, keep_so_far
from mvq.flows import bulk, decisions
from mvq.flows import qa as qa_flow
from mvq.review import leases, notes, queue, stats
from mvq.review.models import Decision
from mvq.review.qa import tasks as qa_tasks
from mvq.review.qa import undo as qa_undo
from mvq.review.schemas import (
    BulkIn,
    BulkItemOut,
    BulkOut,
    ClaimOut,
    DecisionIn,
    DecisionResult,
    HeartbeatIn,
    LeaseOut,
    NoteIn,
    NoteOut,
    OverturnIn,
    QueueItemOut,
    QueueOut,
    ReviewerStatsOut,
)
from mvq.review.warnings import TooFast
from mvq.scoring import ledger
from mvq.settings import get_settings
from mvq.submissions import service as submissions

router = APIRouter(prefix="/api/v1/review", tags=["review"])


@router.get("/queue", response_model=QueueOut)
def queue_page(
    session: SessionDep,
    now: NowDep,
    principal: PrincipalDep,
    flag: str | None = None,
    unit_id: str | None = None,
    target_type: str | None = None,
    min_age_minutes: Annotated[int | None, Query(ge=0, le=1_000_000)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
    sort: Annotated[str, Query(pattern="^(claim|oldest|newest)$")] = "claim",
    after: Annotated[str | None, Query(max_length=400)] = None,
) -> QueueOut:
    filters = queue.QueueFilters(flag, unit_id, target_type, min_age_minutes, sort)
    # One row more than asked tells whether there is a next page.
    rows = queue.queue_rows(session, viewer=principal, filters=filters, now=now,
                            limit=limit + 1, after=after)  # fmt: skip
    more, rows = len(rows) > limit, rows[:limit]
    oldest = queue.oldest_waiting(session, viewer=principal, now=now)
    return QueueOut(
        counts=queue.state_counts(session, viewer=principal),
        oldest_waiting_seconds=oldest.total_seconds() if oldest is not None else None,
        items=[
            QueueItemOut(
                **{
                    k: v
                    for k, v in row.__dict__.items()
                    if k not in ("waiting", "cursor", "thumb_key")
                },
                waiting_seconds=row.waiting.total_seconds(),
            )
            for row in rows
        ],
        next_cursor=rows[-1].cursor if more else None,
    )


@router.get("/stats", response_model=list[ReviewerStatsOut])
def reviewer_stats(
    session: SessionDep,
    now: NowDep,
    principal: PrincipalDep,
    hours: Annotated[int, Query(ge=1, le=720)] = 24,
) -> list[ReviewerStatsOut]:
    rows = stats.reviewer_stats(session, viewer=principal, since=now - timedelta(hours=hours),
                                until=now)  # fmt: skip
    return [ReviewerStatsOut(**row.__dict__, agreement=row.agreement) for row in rows]


@router.post("/claim", response_model=ClaimOut, responses={204: {"description": "queue empty"}})
def claim(principal: StaffDep, session: SessionDep, now: NowDep) -> ClaimOut | Response:
    claimed = qa_flow.claim_next(
        session, reviewer=principal, now=now, lease_seconds=get_settings().lease_seconds
    )
    if claimed is None:
        return Response(status_code=204)
    item, submission = claimed
    assert item.lease_token is not None and item.lease_expires_at is not None
    return ClaimOut(
        item_id=item.id,
        submission_id=submission.id,
        lease_token=item.lease_token,
        lease_expires_at=item.lease_expires_at,
    )


@router.post("/{item_id}/claim", response_model=ClaimOut)
def claim_item(item_id: str, principal: StaffDep, session: SessionDep, now: NowDep) -> ClaimOut:
    """Claims this one item, under the same rules as the next-item claim."""
    task = qa_tasks.find(session, item_id=item_id, reviewer=principal)
    if task is not None:
        qa_tasks.relet(session, reviewer=principal, task=task, now=now,
                       lease_seconds=get_settings().lease_seconds)  # fmt: skip
        item, submission = qa_tasks.masked(session, task=task)
    else:
        item, submission = leases.claim_item(
            session, reviewer=principal, item_id=item_id, now=now,
            lease_seconds=get_settings().lease_seconds,
        )  # fmt: skip
    assert item.lease_token is not None and item.lease_expires_at is not None
    return ClaimOut(item_id=item.id, submission_id=submission.id, lease_token=item.lease_token,
                    lease_expires_at=item.lease_expires_at)  # fmt: skip


@router.post("/{item_id}/release", status_code=204)
def release(
    item_id: str, body: HeartbeatIn, principal: StaffDep, session: SessionDep, now: NowDep
) -> Response:
    """Gives the lease back at once; the item returns to its lane."""
    if qa_tasks.find(session, item_id=item_id, reviewer=principal) is not None:
        qa_tasks.release(session, reviewer=principal, task_id=item_id,
                         lease_token=body.lease_token, now=now)  # fmt: skip
    else:
        leases.release(session, reviewer=principal, item_id=item_id,
                       lease_token=body.lease_token, now=now, reason="left")  # fmt: skip
    return Response(status_code=204)


@router.post("/decisions/{decision_id}/undo", response_model=ClaimOut)
def undo(decision_id: str, principal: StaffDep, session: SessionDep, now: NowDep) -> ClaimOut:
    """Takes back one's own last decision within `undo_seconds`; the item is leased again."""
    settings = get_settings()
    if qa_undo.is_qa_record(session, decision_id=decision_id, reviewer=principal):
        task = qa_undo.undo(session, reviewer=principal, record_id=decision_id, now=now,
                            lease_seconds=settings.lease_seconds,
                            undo_seconds=settings.undo_seconds)  # fmt: skip
        item, submission = qa_tasks.masked(session, task=task)
        assert item.lease_token is not None and item.lease_expires_at is not None
        return ClaimOut(
            item_id=item.id,
            submission_id=submission.id,
            lease_token=item.lease_token,
            lease_expires_at=item.lease_expires_at,
        )
    undone = decisions.undo(session, reviewer=principal, decision_id=decision_id, now=now,
                            lease_seconds=settings.lease_seconds,
                            undo_seconds=settings.undo_seconds)  # fmt: skip
    item = undone.item
    assert item.lease_token is not None and item.lease_expires_at is not None
    return ClaimOut(
        item_id=item.id,
        submission_id=undone.submission.id,
        lease_token=item.lease_token,
        lease_expires_at=item.lease_expires_at,
    )


@router.post("/{item_id}/heartbeat", response_model=LeaseOut)
def heartbeat(
    item_id: str, body: HeartbeatIn, principal: StaffDep, session: SessionDep, now: NowDep
) -> LeaseOut:
    if qa_tasks.find(session, item_id=item_id, reviewer=principal) is not None:
        expires = qa_tasks.renew(session, reviewer=principal, task_id=item_id,
                                 lease_token=body.lease_token, now=now,
                                 lease_seconds=get_settings().lease_seconds)  # fmt: skip
        return LeaseOut(item_id=item_id, lease_expires_at=expires)
    expires = leases.renew_lease(
        session,
        reviewer=principal,
        item_id=item_id,
        lease_token=body.lease_token,
        now=now,
        lease_seconds=get_settings().lease_seconds,
    )
    return LeaseOut(item_id=item_id, lease_expires_at=expires)


def _result(session: SessionDep, decision: Decision) -> DecisionResult:
    submission = submissions.get_any(session, submission_id=decision.submission_id)
    return DecisionResult(
        decision_id=decision.id,
        submission_id=submission.id,
        status=submission.status,
        points=ledger.points_for_decision(session, decision_id=decision.id),
    )


@router.post("/{item_id}/decision", response_model=DecisionResult)
def decide(
    item_id: str, body: DecisionIn, principal: StaffDep, session: SessionDep, now: NowDep
) -> DecisionResult:
    try:
        decision = qa_flow.decide(
            session, reviewer=principal, item_id=item_id, now=now, **body.model_dump()
        )
    except TooFast:
        keep_so_far(session)  # the warning stays on record; the verdict was not given
        raise
    if isinstance(decision, qa_tasks.QaDecided):
        # What a live first look with this verdict would answer (mvq.review.qa.tasks).
        return DecisionResult(decision_id=decision.record.id, submission_id=decision.alias_id,
                              status=decision.status, points=decision.points)  # fmt: skip
    return _result(session, decision)


@router.post("/{item_id}/overturn", response_model=DecisionResult)
def overturn(
    item_id: str, body: OverturnIn, principal: StaffDep, session: SessionDep
) -> DecisionResult:
    decision = decisions.overturn(session, senior=principal, item_id=item_id, **body.model_dump())
    return _result(session, decision)


@router.post("/bulk", response_model=BulkOut)
def act_in_bulk(body: BulkIn, principal: StaffDep, session: SessionDep, now: NowDep) -> BulkOut:
    """A senior's one action on many items; each is its own decision (or lease change), and
    those that could not be done are listed with why. 200 even when some failed."""
    settings = get_settings()
    results = bulk.act(session, senior=principal, item_ids=body.item_ids, action=body.action,
                       now=now, lease_seconds=settings.lease_seconds,
                       reassign_lease_seconds=settings.reassign_lease_seconds,
                       reason_code=body.reason_code, comment=body.comment,
                       assignee_id=body.assignee_id)  # fmt: skip
    items = [
        BulkItemOut(item_id=r.item_id, ok=r.ok, submission_id=r.submission_id, status=r.status,
                    decision_id=r.decision_id,
                    error=None if r.ok else {"code": r.code or "", "message": r.message or ""})
        for r in results
    ]  # fmt: skip
    done = sum(r.ok for r in results)
    return BulkOut(done=done, failed=len(results) - done, items=items)


def _note_out(note: notes.Note) -> NoteOut:
    n = note.note
    # A note written on a QA copy names the copy, never the real claim's item.
    return NoteOut(id=n.id, item_id=n.qa_task_id or n.review_item_id, author=note.author_email,
                   body=n.body, mentioned=note.mentioned, created_at=n.created_at)  # fmt: skip


@router.get("/{item_id}/notes", response_model=list[NoteOut])
def item_notes(item_id: str, principal: StaffDep, session: SessionDep) -> list[NoteOut]:
    return [_note_out(n) for n in notes.thread(session, viewer=principal, item_id=item_id)]


@router.post("/{item_id}/notes", response_model=NoteOut, status_code=201)
def add_note(item_id: str, body: NoteIn, principal: StaffDep, session: SessionDep) -> NoteOut:
    return _note_out(notes.add(session, author=principal, item_id=item_id, body=body.body))
