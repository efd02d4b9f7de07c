"""A claim's outcome (mvq.outcome) in the reader's words, for both adapters: the unit's pages
show these sentences and the claim's JSON carries them as `outcome.message`, so a member reads
the same thing wherever they look.

Also what every page calls the codes admins may label (mvq.rules.labels): the label in the
reader's language if an admin wrote one, else the words below for the codes mvq ships with
(the demo rules' target types, the two outcomes, the reject
reasons), else the code itself. Staff pages and unit
pages read the same labels, so a tank is "танк" on both."""

from collections.abc import Mapping

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from edge.i18n import (
    N_,
    default_language,
    from_accept_language,
    gettext,
    ngettext,
    supported,
    using,
)
from mvq.auth.models import Role, StaffUser
from mvq.rules.labels import labels_of
from mvq.submissions.schemas import OutcomeOut, ReversalOut

DEFAULT_LABELS: dict[str, dict[str, str]] = {
    "target_type": {
        "tank": N_("tank"),
        "mlrs": N_("MLRS"),
        "artillery": N_("artillery"),
        "apc": N_("APC"),
        "infantry": N_("infantry"),
        "armoured_vehicle": N_("armoured vehicle"),
    },
    "outcome": {"destroyed": N_("destroyed"), "damaged": N_("damaged")},
    "reject_reason": {
        "not_visible": N_("Target not visible"),
        "wrong_target": N_("Wrong target type"),
        "duplicate": N_("Duplicate of another claim"),
        "staged_or_fake": N_("Staged or fake"),
        "insufficient_evidence": N_("Insufficient evidence"),
        "wrong_location": N_("Wrong location"),
        "wrong_time": N_("Wrong time"),
        "other": N_("Other"),
    },
}


def labels(kind: str, admins: Mapping[str, str]) -> dict[str, str]:
    """Code -> what the reader calls it: the admins' labels in the reader's language over the
    defaults. Call it while handling a request (the defaults are translated then)."""
    found = {code: gettext(text) for code, text in DEFAULT_LABELS.get(kind, {}).items()}
    return found | dict(admins)


def _points(n: int) -> str:
    return ngettext("%(num)s point", "%(num)s points", abs(n))


def sentences(outcome: OutcomeOut, *, reasons: Mapping[str, str]) -> list[str]:
    """The outcome, then the appeal's fate, then each reversal, one sentence each."""
    said = []
    share = outcome.dispute
    if outcome.kind == "approved":
        said.append(gettext("Approved: %(points)s.", points=_points(outcome.points)))
    elif outcome.kind == "awaiting_second":
        said.append(gettext("Approved by one reviewer. A claim worth this much needs a second "
                            "approval, and it is waiting for it."))  # fmt: skip
    elif outcome.kind == "held_in_dispute":
        said.append(gettext("Approved. Another claim may show the same target, so the points "
                            "wait until a senior reviewer shares the credit."))  # fmt: skip
    elif outcome.kind == "dispute_settled" and share is not None:
        said.append(gettext(
            "Another claim showed the same target. A senior reviewer shared the credit: this "
            "claim gets %(share)s of the target's %(total)s.",
            share=_points(share.share or 0), total=_points(share.total or 0)))  # fmt: skip
        if share.note:
            said.append(gettext("The senior reviewer's note: %(note)s", note=share.note))
    elif outcome.kind == "rejected":
        reason = reasons.get(outcome.reason_code or "", outcome.reason_code)
        said.append(gettext("Rejected: %(reason)s.", reason=reason) if reason
                    else gettext("Rejected."))  # fmt: skip
    if outcome.appeal == "upheld":
        said.append(gettext("Your appeal was upheld."))
    elif outcome.appeal == "denied":
        said.append(gettext("Your appeal was denied."))
    elif outcome.appeal == "pending":
        said.append(gettext("Your appeal is waiting for a senior reviewer."))
    said += [taken_back(r, reasons=reasons) for r in outcome.reversals]
    return said


def taken_back(reversal: ReversalOut, *, reasons: Mapping[str, str]) -> str:
    points = _points(reversal.points)
    if reversal.reason:
        return gettext("%(points)s taken back: %(reason)s", points=points, reason=reversal.reason)
    if reversal.cause == "undo":
        return gettext("%(points)s taken back: the reviewer took the approval back.",
                       points=points)  # fmt: skip
    if reversal.reason_code:
        reason = reasons.get(reversal.reason_code, reversal.reason_code)
        return gettext("%(points)s taken back: a senior reviewer overturned the approval "
                       "(%(reason)s).", points=points, reason=reason)  # fmt: skip
    return gettext("%(points)s taken back: a senior reviewer overturned the approval.",
                   points=points)  # fmt: skip


def tell(outcome: OutcomeOut, *, reasons: Mapping[str, str]) -> str:
    return " ".join(sentences(outcome, reasons=reasons))


def told_in(session: Session, outcome: OutcomeOut, *, language: str) -> OutcomeOut:
    """The outcome with its `message` in `language`, outside a page (the JSON API), with the
    admins' labels for that language."""
    with using(language):
        admins = labels_of(session, kind="reject_reason", language=language)
        return outcome.model_copy(
            update={"message": tell(outcome, reasons=labels("reject_reason", admins))}
        )


def told_to_unit(session: Session, outcome: OutcomeOut, unit_id: str) -> OutcomeOut:
    """For the unit's webhooks (mvq.webhooks.events.Tell): in the unit's language."""
    return told_in(session, outcome, language=unit_language(session, unit_id=unit_id))


def unit_language(session: Session, *, unit_id: str) -> str:
    """A unit has no language of its own: the one most of its active members chose, else (none
    chose, or a tie) the configured default."""
    chosen = session.execute(
        select(StaffUser.language, func.count())
        .where(StaffUser.unit_id == unit_id, StaffUser.role == Role.unit,
               StaffUser.disabled_at.is_(None), StaffUser.language.is_not(None))
        .group_by(StaffUser.language)
        .order_by(func.count().desc())
    ).all()  # fmt: skip
    counts = [(supported(language), n) for language, n in chosen if supported(language)]
    if counts and (len(counts) == 1 or counts[0][1] > counts[1][1]):
        return str(counts[0][0])
    return default_language()


def reader_language(accept_language: str | None, stored: str | None) -> str:
    """An API client's language: what its request asks for, else the person's stored choice,
    else the configured default (as the pages choose, with the header first: a client sets
    it on purpose)."""
    return from_accept_language(accept_language) or supported(stored) or default_language()
