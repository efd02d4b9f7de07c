"""Which audit events become which webhook events, and what each carries.

Every change a receiver hears of is already in the audit log, written in the same transaction
as the change, so reading the log in order loses nothing and keeps each claim's order. Payloads
carry ids and states only: never a media URL, a storage key or anyone's words (a reviewer's
comment, a unit's appeal), which stay behind the API's own access checks. The one exception is
what a senior writes *to* the units: a settlement's note and a reversal's reason, which the
unit is owed (they are on its own pages too).

An audit event that concerns several units (a dispute opened or settled) makes one event per
claim, each to that claim's unit and naming no other claim; a reversal makes both
`ledger.reversal` (the ledger's entry) and `ledger.reversed` (with its cause and reason).

Each claim-outcome event (a decision, an appeal decided, a dispute opened or settled, a
reversal) also carries `result`: the claim's outcome as "my claims" and the claim's JSON tell
it (mvq.outcome), with `message`, that outcome as sentences in the unit's language. The
sentences are the adapters' (gettext catalogues): the caller hands in `tell`, which fills the
message in. It is the outcome when the event is dispatched (the next sweep, seconds later), so
the latest event's `result` is the claim's state.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mvq import outcome
from mvq.audit.models import AuditEvent
from mvq.media.models import Media, MediaStatus
from mvq.review.models import Decision
from mvq.scoring.models import LedgerEntry
from mvq.submissions.models import Submission
from mvq.submissions.schemas import OutcomeOut

# (session, the claim's outcome, its unit's id) → the outcome with `message` in the unit's words
Tell = Callable[[Session, OutcomeOut, str], OutcomeOut]

SUBMISSION_PROCESSED = "submission.processed"
SUBMISSION_FAILED = "submission.failed"
DECISION_MADE = "decision.made"
APPEAL_DECIDED = "appeal.decided"
LEDGER_AWARD = "ledger.award"
LEDGER_REVERSAL = "ledger.reversal"
LEDGER_DEBIT = "ledger.debit"
LEDGER_REVERSED = "ledger.reversed"
DISPUTE_OPENED = "dispute.opened"
DISPUTE_SETTLED = "dispute.settled"
TYPES = (SUBMISSION_PROCESSED, SUBMISSION_FAILED, DECISION_MADE, APPEAL_DECIDED, LEDGER_AWARD,
         LEDGER_REVERSAL, LEDGER_DEBIT, LEDGER_REVERSED, DISPUTE_OPENED,
         DISPUTE_SETTLED)  # fmt: skip

# The events that tell a claim's outcome: each carries `result`.
OUTCOME_TYPES = (DECISION_MADE, APPEAL_DECIDED, DISPUTE_OPENED, DISPUTE_SETTLED, LEDGER_REVERSED)

DECISION_ACTIONS = ("review.approve", "review.reject", "review.escalate", "review.undo",
                    "review.overturn")  # fmt: skip
# The audit actions read at all; `submission.in_queue` also follows a released lease, so
# `mapped` looks at its cause.
# A claim comes into a dispute when one opens, when it joins one, or when one reopens for it.
DISPUTE_ENTERED = ("dispute.opened", "dispute.joined", "dispute.reopened")
AUDIT_ACTIONS = ("submission.in_queue", "submission.failed", *DECISION_ACTIONS, "appeal.upheld",
                 "appeal.denied", "ledger.award", "ledger.reversal", "ledger.debit",
                 *DISPUTE_ENTERED, "dispute.settled")  # fmt: skip


@dataclass(frozen=True)
class Mapped:
    type: str
    unit_id: str
    data: dict[str, Any]


def mapped(session: Session, event: AuditEvent, *, tell: Tell) -> list[Mapped]:
    """The webhook events an audit event makes, in order (their `part`). Rows read here are
    append-only (decisions, ledger entries) or never change in the fields read (a claim's
    unit, a settled file's fate); a settlement's shares come from its audit event, since a
    dispute may be settled again later."""
    action, data = event.action, event.data
    if action in DISPUTE_ENTERED:
        found = [_disputed(session, event, sid) for sid in data.get("submissions", [])]
    elif action == "dispute.settled":
        found = [_settled(session, event, sid) for sid in _settled_members(data)]
    elif action == "ledger.reversal":
        found = [m for m in (_one(session, event), _reversed(session, event)) if m is not None]
    else:
        found = [m for m in (_one(session, event),) if m is not None]
    return [_with_result(session, m, tell) for m in found]


def _with_result(session: Session, found: Mapped, tell: Tell) -> Mapped:
    submission_id = found.data.get("submission_id")
    if found.type not in OUTCOME_TYPES or submission_id is None:
        return found
    told = tell(session, outcome.of_claim(session, submission=session.get_one(
        Submission, submission_id)), found.unit_id)  # fmt: skip
    return Mapped(found.type, found.unit_id,
                  {**found.data, "result": told.model_dump(mode="json")})  # fmt: skip


def _one(session: Session, event: AuditEvent) -> Mapped | None:
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
        "needs_second_approval": bool(event.data.get("needs_second_approval")),
    })  # fmt: skip


def _disputed(session: Session, event: AuditEvent, submission_id: str) -> Mapped:
    unit_id = _unit_of(session, submission_id)
    return Mapped(DISPUTE_OPENED, unit_id, {
        "dispute_id": event.object_id, "submission_id": submission_id, "unit_id": unit_id,
        "status": "open",
    })  # fmt: skip


def _settled_members(data: dict[str, Any]) -> list[str]:
    """Every claim of the dispute when it was settled (older events: those it names)."""
    if "members" in data:
        return list(data["members"])
    paid_before = data.get("paid_before")
    named = [*data.get("shares", {}), *(paid_before if isinstance(paid_before, dict) else {}),
             *data.get("reversed", []),
             *([data["submission_id"]] if "submission_id" in data else []),
             *data.get("rejected", [])]  # fmt: skip
    return list(dict.fromkeys(named))


def _settled(session: Session, event: AuditEvent, submission_id: str) -> Mapped:
    """This claim's part of a settlement: its share (None: it could get none, being rejected
    or paid before), the target's worth and the senior's note."""
    data, unit_id = event.data, _unit_of(session, submission_id)
    automatic = bool(data.get("automatic"))
    if automatic:
        share = data.get("share") if data.get("submission_id") == submission_id else None
    else:
        share = data.get("shares", {}).get(submission_id)
    return Mapped(DISPUTE_SETTLED, unit_id, {
        "dispute_id": event.object_id, "submission_id": submission_id, "unit_id": unit_id,
        "status": "settled", "share": share, "total": data.get("points"),
        "note": None if automatic else data.get("note"), "automatic": automatic,
        "reversed": submission_id in data.get("reversed", []),
    })  # fmt: skip


def _reversed(session: Session, event: AuditEvent) -> Mapped | None:
    entry = session.get(LedgerEntry, event.object_id)
    if entry is None:
        return None
    decision = session.get(Decision, entry.decision_id) if entry.decision_id else None
    told = outcome.reversal(entry, decision)
    return Mapped(LEDGER_REVERSED, entry.unit_id, {
        "ledger_entry_id": entry.id, "unit_id": entry.unit_id,
        "submission_id": entry.submission_id, "points": entry.points, "cause": told.cause,
        "reason": told.reason, "reason_code": told.reason_code, "dispute_id": entry.dispute_id,
        "decision_id": entry.decision_id,
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
