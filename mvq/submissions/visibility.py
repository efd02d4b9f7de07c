"""What one viewer may see of the claims a read touches: the claim itself, and every other claim
that appears only as its evidence (a copy of its footage, a claim already credited for its
target, a dispute's other members).

Every read of a claim goes through a `Scope`. The rule is the policy's (`may_see_claim`: a unit
sees its own claims; staff linked to a unit never see that unit's); this module applies it to
evidence. Where the viewer may not see the other claim they learn only that the footage matches
a claim they may not see: the entry is replaced by `HIDDEN`, with no id, unit, status, frame or
stored object of that claim left in it.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, String, cast, column, exists, select, table
from sqlalchemy.orm import Session

from mvq.auth import policy
from mvq.auth.principal import Principal
from mvq.submissions.models import Flag, Submission

# A dispute's members, read by table name: disputes are scored above this layer, and whether a
# claim's dispute touches a unit is all this module asks of them.
_members = table("dispute_members", column("dispute_id"), column("submission_id"),
                 column("unit_id"))  # fmt: skip

# What stands in for a claim reference the viewer may not see (JSON and evidence bundles).
HIDDEN: dict[str, Any] = {"hidden": True, "reason": "not_visible"}
# The evidence keys that list other claims, each entry naming its claim's `submission_id`.
CLAIM_LISTS = ("matches", "claims")


def is_hidden(entry: Any) -> bool:
    return isinstance(entry, dict) and entry.get("hidden") is True


@dataclass
class Scope:
    """One viewer's view of claims, with the claims' units read once per request."""

    session: Session
    viewer: Principal
    _units: dict[str, str | None] = field(default_factory=dict)

    def sees_unit(self, unit_id: str | None) -> bool:
        return unit_id is not None and policy.may_see_claim(self.viewer, claim_unit_id=unit_id)

    def sees(self, submission_id: str) -> bool:
        self._load([submission_id])
        return self.sees_unit(self._units.get(submission_id))

    def unit_of(self, submission_id: str) -> str | None:
        self._load([submission_id])
        return self._units.get(submission_id)

    def hidden_of(self, submission_ids: Iterable[str]) -> set[str]:
        """The claims among these the viewer may not see (an unknown id counts as hidden)."""
        ids = list(dict.fromkeys(submission_ids))
        self._load(ids)
        return {sid for sid in ids if not self.sees_unit(self._units.get(sid))}

    def evidence(self, evidence: dict[str, Any]) -> dict[str, Any]:
        """A flag's evidence with every entry about a claim the viewer may not see replaced by
        `HIDDEN`; evidence about the file itself (signals, times) is kept."""
        named = [
            e["submission_id"]
            for key in CLAIM_LISTS
            for e in evidence.get(key, [])
            if isinstance(e, dict) and "submission_id" in e
        ]
        hidden = self.hidden_of(named)
        if not hidden:
            return evidence
        return {
            key: [dict(HIDDEN) if e.get("submission_id") in hidden else e for e in value]
            if key in CLAIM_LISTS else value
            for key, value in evidence.items()
        }  # fmt: skip

    def _load(self, submission_ids: list[str]) -> None:
        missing = [sid for sid in submission_ids if sid not in self._units]
        if not missing:
            return
        self._units.update({sid: None for sid in missing})
        self._units.update(
            {
                sid: unit_id
                for sid, unit_id in self.session.execute(
                    select(Submission.id, Submission.unit_id).where(Submission.id.in_(missing))
                )
            }
        )


def evidence_touches_unit(unit_id: str) -> ColumnElement[bool]:
    """As a query condition on `Submission`: the claim's evidence names a claim of this unit (a
    copy of its footage, a claim already credited for its target) or it shares a dispute with
    one. A reviewer linked to the unit is never given such a claim: rejecting a copier helps
    their unit as much as approving the unit's own claim would."""
    others = _members.alias("others")
    mine = _members.alias("mine")
    return exists().where(
        Flag.submission_id == Submission.id,
        # Entries name their claim's unit by id; a UUID found in the evidence's text is it.
        cast(Flag.evidence, String).contains(unit_id),
    ) | exists().where(
        mine.c.submission_id == Submission.id,
        others.c.dispute_id == mine.c.dispute_id,
        others.c.unit_id == unit_id,
    )


def scope(session: Session, *, viewer: Principal) -> Scope:
    return Scope(session, viewer)
