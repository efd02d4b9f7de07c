"""Points rules: versions immutable once in force, and the price table at any moment. A
scheduled version can be withdrawn before it takes effect; a withdrawn one is never in force
but stays on record."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mvq.audit import service as audit
from mvq.auth import policy
from mvq.auth.policy import Action
from mvq.auth.principal import Principal
from mvq.errors import Conflict, Invalid, NotFound
from mvq.rules.models import Outcome, Rule, RuleVersion

# Demo figures only (the 2025 public table): never real policy.
DEMO_RULES: list[tuple[str, str, int]] = [
    ("tank", "destroyed", 40),
    ("tank", "damaged", 20),
    ("mlrs", "destroyed", 50),
    ("mlrs", "damaged", 25),
    ("artillery", "destroyed", 30),
    ("artillery", "damaged", 15),
    ("apc", "destroyed", 20),
    ("apc", "damaged", 10),
    ("infantry", "destroyed", 6),
]
DEMO_EFFECTIVE_FROM = datetime(2025, 1, 1, tzinfo=UTC)
# A claim may state a time a few minutes ahead of the server's clock (submissions.CLOCK_SKEW,
# 5 minutes), and is priced by the version in force then: a version this close to its start
# may already have priced one, so it is no longer withdrawn.
WITHDRAW_NOTICE = timedelta(minutes=10)


@dataclass(frozen=True)
class RuleRow:
    target_type: str
    outcome: str
    points: int


def version_in_force(session: Session, *, at: datetime) -> RuleVersion | None:
    return session.scalar(
        select(RuleVersion)
        .where(RuleVersion.effective_from <= at, RuleVersion.withdrawn_at.is_(None))
        .order_by(RuleVersion.effective_from.desc())
        .limit(1)
    )


def rules_of(session: Session, *, version_id: str) -> list[Rule]:
    return list(
        session.scalars(
            select(Rule)
            .where(Rule.version_id == version_id)
            .order_by(Rule.target_type, Rule.outcome)
        )
    )


def history(session: Session) -> list[RuleVersion]:
    return list(session.scalars(select(RuleVersion).order_by(RuleVersion.effective_from.desc())))


@dataclass(frozen=True)
class PriceTable:
    """The rules in force at one moment: what each (target_type, outcome) is worth."""

    version: RuleVersion | None
    points: dict[tuple[str, str], int]

    @property
    def target_types(self) -> set[str]:
        return {target for target, _ in self.points}

    def worth(self, target_type: str, outcome: str) -> int | None:
        return self.points.get((target_type, outcome))


def price_table(session: Session, *, at: datetime) -> PriceTable:
    version = version_in_force(session, at=at)
    if version is None:
        return PriceTable(None, {})
    rules = rules_of(session, version_id=version.id)
    return PriceTable(version, {(r.target_type, r.outcome): r.points for r in rules})


def known_target_types(session: Session, *, at: datetime) -> set[str]:
    return price_table(session, at=at).target_types


def check_version(
    session: Session, *, editor: Principal, effective_from: datetime, rows: list[RuleRow],
    now: datetime,
) -> None:  # fmt: skip
    """What create_version would refuse for this editor's draft, without writing."""
    policy.require(editor, Action.edit_rules)
    _check_version(session, effective_from=effective_from, rows=rows, seeding=False, now=now)


def _check_version(
    session: Session,
    *,
    effective_from: datetime,
    rows: list[RuleRow],
    seeding: bool,
    now: datetime,
) -> None:
    """Everything create_version would refuse, without writing: an editor asks about removed
    rules only for a draft that could be saved."""
    if effective_from < now and not seeding:
        # A version that is already in force could change awards already made.
        raise Invalid("effective_from must not be in the past", code="rules_in_past")
    if not rows:
        raise Invalid("a rules version needs at least one rule")
    seen: set[tuple[str, str]] = set()
    for row in rows:
        if row.outcome not in set(Outcome):
            raise Invalid(f"unknown outcome {row.outcome!r}")
        if row.points < 0:
            raise Invalid("points must not be negative")
        if (row.target_type, row.outcome) in seen:
            raise Invalid(f"duplicate rule for {row.target_type}/{row.outcome}")
        seen.add((row.target_type, row.outcome))
    taken = session.scalar(select(RuleVersion).where(RuleVersion.effective_from == effective_from))
    if taken is not None:
        # A withdrawn version keeps its moment: the history must not show two versions for it.
        if taken.withdrawn_at is not None:
            raise Conflict("a withdrawn version was scheduled for this moment; choose another",
                           code="rules_exist")  # fmt: skip
        raise Conflict("a version with this effective_from exists", code="rules_exist")


def create_version(
    session: Session, *, editor: Principal, effective_from: datetime, rows: list[RuleRow],
    now: datetime,
) -> RuleVersion:  # fmt: skip
    policy.require(editor, Action.edit_rules)
    return _create_version(session, effective_from=effective_from, rows=rows,
                           seeding=False, actor=editor.actor, now=now,
                           # The command line's operator has no staff row to point to.
                           created_by=editor.id if editor.kind == "staff" else None)  # fmt: skip


def _create_version(
    session: Session,
    *,
    effective_from: datetime,
    rows: list[RuleRow],
    seeding: bool,
    created_by: str | None,
    actor: str,
    now: datetime,
) -> RuleVersion:
    _check_version(session, effective_from=effective_from, rows=rows, seeding=seeding, now=now)
    version = RuleVersion(effective_from=effective_from, created_by=created_by)
    session.add(version)
    session.flush()
    session.add_all(
        Rule(
            version_id=version.id,
            target_type=r.target_type.strip().lower(),
            outcome=r.outcome,
            points=r.points,
        )
        for r in rows
    )
    audit.record(
        session,
        actor=actor,
        action="rules.version_created",
        object_type="rule_version",
        object_id=version.id,
        data={"effective_from": effective_from.isoformat(), "rules": [r.__dict__ for r in rows]},
    )
    return version


def withdraw(session: Session, *, editor: Principal, version_id: str, now: datetime) -> RuleVersion:
    """Withdraw a version scheduled for the future. Once in force it may have priced awards,
    so it is never withdrawn: a change then is a new version."""
    policy.require(editor, Action.edit_rules)
    version = session.get(RuleVersion, version_id, with_for_update=True)
    if version is None:
        raise NotFound("no such rules version")
    if version.withdrawn_at is not None:
        raise Conflict("this version is already withdrawn", code="rules_withdrawn")
    if version.effective_from <= now:
        raise Conflict("this version is already in force; save a new version instead",
                       code="rules_in_force")  # fmt: skip
    if version.effective_from <= now + WITHDRAW_NOTICE:
        raise Conflict("this version takes effect within minutes and may already price claims; "
                       "save a new version instead", code="rules_in_force")  # fmt: skip
    version.withdrawn_at = now
    audit.record(
        session,
        actor=editor.actor,
        action="rules.version_withdrawn",
        object_type="rule_version",
        object_id=version.id,
        data={"effective_from": version.effective_from.isoformat()},
    )
    session.flush()
    return version


def seed_demo_rules(session: Session, *, now: datetime) -> RuleVersion | None:
    if session.scalar(select(func.count()).select_from(RuleVersion)):
        return None
    return _create_version(
        session,
        effective_from=DEMO_EFFECTIVE_FROM,
        rows=[RuleRow(t, o, p) for t, o, p in DEMO_RULES],
        seeding=True,
        created_by=None,
        actor="system:seed",
        now=now,
    )


@dataclass(frozen=True)
class RuleChange:
    target_type: str
    outcome: str
    before: int | None
    after: int | None

    @property
    def kind(self) -> str:
        if self.before is None:
            return "added"
        if self.after is None:
            return "removed"
        return "unchanged" if self.before == self.after else "changed"


def diff(before: list[Rule] | list[RuleRow], after: list[Rule] | list[RuleRow]) -> list[RuleChange]:
    """Row by row, what a version (or a draft) changes against the one before it."""
    old = {(r.target_type, r.outcome): r.points for r in before}
    new = {(r.target_type, r.outcome): r.points for r in after}
    return [RuleChange(t, o, old.get((t, o)), new.get((t, o))) for t, o in sorted(old | new)]


def as_text(rules: list[Rule]) -> str:
    """A version as the editor reads it back: one `target_type outcome points` a line."""
    return "".join(f"{r.target_type} {r.outcome} {r.points}\n" for r in rules)


def is_demo(version: RuleVersion) -> bool:
    return version.created_by is None and version.effective_from == DEMO_EFFECTIVE_FROM


def changes_by_version(
    session: Session, *, viewer: Principal
) -> list[tuple[RuleVersion, list[RuleChange], bool]]:
    """The history as staff read it, newest first: each version against the one it followed
    (a withdrawn version was never followed), and whether it is the demo table."""
    policy.require(viewer, Action.view_rules)
    versions = history(session)
    live = [v for v in versions if v.withdrawn_at is None]
    shown = []
    for version in versions:
        rules = rules_of(session, version_id=version.id)
        before_it = next((v for v in live if v.effective_from < version.effective_from), None)
        before = rules_of(session, version_id=before_it.id) if before_it else []
        shown.append((version, diff(before, rules), is_demo(version)))
    return shown
