"""What pages call a stored code in each language: target types and reject reasons. Admins
edit the labels; a code nobody labelled shows as itself, so a page never goes blank."""

from collections.abc import Collection, Mapping
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from mvq.audit import service as audit
from mvq.auth import policy
from mvq.auth.policy import Action
from mvq.auth.principal import Principal
from mvq.errors import Invalid
from mvq.rules.models import Label

KINDS = ("target_type", "reject_reason")
LANGUAGES = ("uk", "en")
MAX_TEXT = 200


def label(session: Session, kind: str, code: str, language: str) -> str:
    text = session.get(Label, (kind, code, language))
    return text.text if text is not None else code


def labels_of(session: Session, *, kind: str, language: str) -> dict[str, str]:
    """Code -> label of one kind in one language, for a page that shows many."""
    rows = session.execute(
        select(Label.code, Label.text).where(Label.kind == kind, Label.language == language)
    )
    return {code: text for code, text in rows}


def all_labels(session: Session, *, editor: Principal) -> dict[tuple[str, str, str], str]:
    """(kind, code, language) -> label: the admin page's table."""
    policy.require(editor, Action.edit_labels)
    return {(r.kind, r.code, r.language): r.text for r in session.scalars(select(Label))}


def set_labels(
    session: Session,
    *,
    kind: str,
    known_codes: Collection[str],
    texts: Mapping[tuple[str, str], str],
    editor: Principal,
    now: datetime,
) -> int:
    """(code, language) -> text for codes of one kind; an empty text removes the label (the
    page shows the code again). Only what changed is written, each change with its audit
    event; returns how many changed."""
    policy.require(editor, Action.edit_labels)
    actor = editor.actor
    if kind not in KINDS:
        raise Invalid("unknown kind of label", code="bad_label")
    changed = 0
    for (code, language), raw in sorted(texts.items()):
        if code not in known_codes or language not in LANGUAGES:
            raise Invalid(f"no {kind} {code!r} in {language!r} to label", code="bad_label")
        text = " ".join(raw.split())
        if len(text) > MAX_TEXT:
            raise Invalid(f"a label has at most {MAX_TEXT} characters", code="label_too_long")
        row = session.get(Label, (kind, code, language))
        before = row.text if row is not None else ""
        if text == before:
            continue
        if row is None:
            session.add(Label(kind=kind, code=code, language=language, text=text,
                              updated_by=actor, updated_at=now))  # fmt: skip
        elif text:
            row.text, row.updated_by, row.updated_at = text, actor, now
        else:
            session.delete(row)
        session.flush()
        audit.record(session, actor=actor, action="label.changed", object_type="label",
                     object_id=f"{kind}:{code}:{language}",
                     data={"kind": kind, "code": code, "language": language,
                           "from": before, "to": text})  # fmt: skip
        changed += 1
    return changed
