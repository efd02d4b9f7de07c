"""Evidence that names other claims, read with where each of them stands now."""

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mvq.review.decisions import latest_decisions
from mvq.submissions.models import Flag, Submission
from mvq.submissions.visibility import CLAIM_LISTS, Scope, is_hidden


def standing(session: Session, *, submission_ids: list[str]) -> dict[str, dict[str, Any]]:
    """Where each claim stands now (status and latest decision): evidence that names another
    claim shows this, read when shown, never the status at the time the flag was written."""
    ids = list(dict.fromkeys(submission_ids))
    found: dict[str, dict[str, Any]] = {
        sid: {"submission_status": status, "decision": None, "decided_at": None}
        for sid, status in session.execute(
            select(Submission.id, Submission.status).where(Submission.id.in_(ids))
        )
    }
    for sid, d in latest_decisions(session, submission_ids=ids).items():
        found[sid] |= {"decision": d.decision, "decided_at": d.created_at}
    return found


def live_evidence(session: Session, flag: Flag, *, scope: Scope) -> dict[str, Any]:
    """The flag's evidence with each claim it names ("matches", "claims") as it stands now, as
    the scope's viewer may see it: a claim they may not see is a placeholder (`HIDDEN`)."""
    shown = scope.evidence(flag.evidence)
    entries = [e for key in CLAIM_LISTS for e in shown.get(key, []) if not is_hidden(e)]
    now = standing(session, submission_ids=[e["submission_id"] for e in entries])
    return {
        key: [e if is_hidden(e) else e | now.get(e["submission_id"], {}) for e in value]
        if key in CLAIM_LISTS else value
        for key, value in shown.items()
    }  # fmt: skip
