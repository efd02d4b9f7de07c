"""Which audit events become which webhook events, and what each carries.

Every change a receiver hears of is already in the audit log, written in the same transaction
as the change, so reading the log in order loses nothing and keeps each claim's order. Payloads
carry ids and states only: never a media URL, a storage key or anyone's words (a reviewer's
comment, a unit's appeal), which stay behind the API's own access checks.
"""

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mvq.audit.models import AuditEvent
from mvq.media.models import Media, MediaStatus
from mvq.review.models import Decision
from mvq.submissions.models import Submission

SUBMISSION_PROCESSED = "submission.processed"
SUBMISSION_FAILED = "submission.failed"
DECISION_MADE = "decision.made"
APPEAL_DECIDED = "appeal.decided"
LEDGER_AWARD = "ledger.award"
LEDGER_REVERSAL = "ledger.reversal"
LEDGER_DEBIT = "ledger.debit"
TYPES = (SUBMISSION_PROCESSED, SUBMISSION_FAILED, DECISION_MADE, APPEAL_DECIDED, LEDGER_AWARD,
         LEDGER_REVERSAL, LEDGER_DEBIT)  # fmt: skip

DECISION_ACTIONS = ("review.approve", "review.reject", "review.escalate", "review.undo",
                    "review.overturn")  # fmt: skip
# The audit actions read at all; `submission.in_queue` also follows a released lease, so
# `mapped` looks at its cause.
AUDIT_ACTIONS = ("submission.in_queue", "submission.failed", *DECISION_ACTIONS, "appeal.upheld",
                 "appeal.denied", "ledger.award", "ledger.reversal", "ledger.debit")  # fmt: skip


@dataclass(frozen=True)
class Mapped:
    type: str
    unit_id: str
    data: dict[str, Any]


def mapped(session: Session, event: AuditEvent) -> Mapped | None:
    """The webhook event an audit event makes, or None. Rows read here are append-only
    (decisions) or never change in the fields read (a claim's unit, a settled file's fate)."""
    action, data = event.action, event.data
    if action == "submission.in_queue" and data.get("cause") == "media.settled":
        unit_id = _unit_of(session, event.object_id)
        claim = {"submission_id": event.object_id, "unit_id": unit_id, "status": "in_queue"}
        return Mapped(SUBMISSION_PROCESSED, unit_id, claim)
    if action == "submission.failed":
        unit_id = _unit_of(session, event.object_id)
        return Mapped(SUBMISSION_FAILED, unit_id,
                      {"submission_id": event.object_id, "unit_id": unit_id, "status": "failed",
                       "failures": _failures(session, event.object_id)})  # fmt: skip
    if action in DECISION_ACTIONS:
        return _decision(session, event)
    if action in ("appeal.upheld", "appeal.denied"):
        unit_id = _unit_of(session, data["submission_id"])
        return Mapped(APPEAL_DECIDED, unit_id, {
            "appeal_id": event.object_id, "submission_id": data["submission_id"],
            "unit_id": unit_id, "outcome": action.removeprefix("appeal."),
            "decision_id": data.get("decision_id"), "claim_status": data.get("claim_status"),
        })  # fmt: skip
    if action in ("ledger.award", "ledger.reversal", "ledger.debit"):
        return Mapped(action, data["unit_id"], {
            "ledger_entry_id": event.object_id, "unit_id": data["unit_id"],
            "entry_type": action.removeprefix("ledger."), "points": data["points"],
            "submission_id": data.get("submission_id"), "decision_id": data.get("decision_id"),
            "dispute_id": data.get("dispute_id"),
        })  # fmt: skip
    return None


def _decision(session: Session, event: AuditEvent) -> Mapped:
    decision = session.get_one(Decision, event.object_id)
    unit_id = _unit_of(session, decision.submission_id)
    return Mapped(DECISION_MADE, unit_id, {
        "decision_id": decision.id, "submission_id": decision.submission_id, "unit_id": unit_id,
        "decision": decision.decision, "stage": decision.stage,
        "reason_code": decision.reason_code, "target_type": decision.target_type,
        "outcome": decision.outcome, "overturns_id": decision.overturns_id,
    })  # fmt: skip


def _unit_of(session: Session, submission_id: str) -> str:
    return session.get_one(Submission, submission_id).unit_id


def _failures(session: Session, submission_id: str) -> list[dict[str, str | None]]:
    rows = session.execute(
        select(Media.id, Media.failure_reason)
        .where(Media.submission_id == submission_id, Media.status == MediaStatus.failed)
        .order_by(Media.created_at, Media.id)
    )
    return [{"media_id": media_id, "reason": reason} for media_id, reason in rows]
