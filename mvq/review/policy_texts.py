"""The written policy behind each decision reason: what "target not visible" means, and what an
approval needs. One text per reason in Ukrainian and English, in versions: an admin's edit
appends a version and never rewrites one (the table refuses it), so a decision can be read
against the words in force when it was made. Staff read the current version; admins the
history too."""

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mvq.audit import service as audit
from mvq.auth import policy
from mvq.auth.models import StaffUser
from mvq.auth.policy import Action
from mvq.auth.principal import Principal
from mvq.errors import Invalid, NotFound
from mvq.review.decisions import REJECT_REASONS
from mvq.review.models import ReasonPolicy

# Every reason a decision can give: the approval itself, and each reject reason.
CODES = ("approve", *REJECT_REASONS)
MAX_TEXT = 8000


def _known(code: str) -> None:
    if code not in CODES:
        raise NotFound("no such decision reason")


def current(session: Session, *, viewer: Principal, code: str) -> ReasonPolicy | None:
    policy.require(viewer, Action.view_queue)
    _known(code)
    return session.scalar(
        select(ReasonPolicy)
        .where(ReasonPolicy.reason_code == code)
        .order_by(ReasonPolicy.version.desc())
        .limit(1)
    )


def all_current(session: Session, *, viewer: Principal) -> dict[str, ReasonPolicy]:
    """Each reason's current version (reasons without a written policy are absent)."""
    policy.require(viewer, Action.view_queue)
    found: dict[str, ReasonPolicy] = {}
    for row in session.scalars(select(ReasonPolicy).order_by(ReasonPolicy.version)):
        found[row.reason_code] = row
    return found


def for_editing(session: Session, *, editor: Principal) -> dict[str, ReasonPolicy]:
    """The admins' editor: each reason's current version, to start the next from."""
    policy.require(editor, Action.edit_policy)
    return all_current(session, viewer=editor)


def history(session: Session, *, editor: Principal, code: str) -> list[ReasonPolicy]:
    """Every version of one reason's policy, the newest first: the admins' view."""
    policy.require(editor, Action.edit_policy)
    _known(code)
    return list(
        session.scalars(
            select(ReasonPolicy)
            .where(ReasonPolicy.reason_code == code)
            .order_by(ReasonPolicy.version.desc())
        )
    )


def authors(session: Session, versions: list[ReasonPolicy]) -> dict[str, str]:
    """Each version's author as people know them (an e-mail), by the actor it was saved as."""
    ids = {v.created_by.split(":", 1)[1] for v in versions if v.created_by.startswith("staff:")}
    found = session.execute(select(StaffUser.id, StaffUser.email).where(StaffUser.id.in_(ids)))
    return {f"staff:{user_id}": email for user_id, email in found}


def publish(
    session: Session, *, editor: Principal, code: str, text_uk: str, text_en: str, now: datetime
) -> ReasonPolicy | None:
    """A new version of the reason's policy, in force from now; None when both texts are as
    they stand (nothing is appended for an unchanged save)."""
    policy.require(editor, Action.edit_policy)
    _known(code)
    texts = {"uk": text_uk.strip(), "en": text_en.strip()}
    if not texts["uk"] or not texts["en"]:
        raise Invalid("a policy needs its text in Ukrainian and in English", code="bad_policy")
    if max(len(t) for t in texts.values()) > MAX_TEXT:
        raise Invalid(f"a policy has at most {MAX_TEXT} characters", code="policy_too_long")
    last = current(session, viewer=editor, code=code)
    if last is not None and (last.text_uk, last.text_en) == (texts["uk"], texts["en"]):
        return None
    version = 1 + (session.scalar(select(func.max(ReasonPolicy.version))
                                  .where(ReasonPolicy.reason_code == code)) or 0)  # fmt: skip
    row = ReasonPolicy(reason_code=code, version=version, text_uk=texts["uk"],
                       text_en=texts["en"], created_by=editor.actor, created_at=now)  # fmt: skip
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=editor.actor,
        action="policy.version_created",
        object_type="reason_policy",
        object_id=row.id,
        data={"reason_code": code, "version": version, "text_uk": texts["uk"],
              "text_en": texts["en"]},
    )  # fmt: skip
    return row
