"""The calibration figures read from QA records: agreement between reviewers (Cohen's kappa
per pair, Fleiss' kappa overall), accuracy on golden items with Wilson intervals, and time per
item against the footage's length. A reviewer reads only their own; seniors everyone's."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from itertools import combinations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mvq.auth import policy
from mvq.auth.models import StaffUser
from mvq.auth.policy import Action
from mvq.auth.principal import Principal
from mvq.media.models import Media
from mvq.review import warnings
from mvq.review.models import Decision, DecisionKind, Stage
from mvq.review.qa import agreement
from mvq.review.qa.models import QaRecord, QaTask, RecordKind, Rereview, standing

CATEGORIES = tuple(DecisionKind)
TIMING_POINTS = 2_000  # the newest decisions plotted; enough to see a habit


@dataclass(frozen=True)
class Rate:
    key: str  # a reviewer's e-mail, a reason code ("approve" for approvals) or a target type
    correct: int
    total: int

    @property
    def share(self) -> float:
        return self.correct / self.total if self.total else 0.0

    @property
    def interval(self) -> tuple[float, float] | None:
        return agreement.wilson(self.correct, self.total)


@dataclass(frozen=True)
class PairKappa:
    first: str
    second: str
    kappa: float | None
    items: int


@dataclass(frozen=True)
class TimePoint:
    email: str
    seconds: float
    footage_seconds: float


@dataclass(frozen=True)
class GoldenResult:
    decided_at: datetime
    claim: str  # the claim id the reviewer was shown, to find it in their memory
    target_type: str
    decision: str
    reason_code: str | None
    expected_decision: str | None
    expected_reason: str | None
    correct: bool | None


@dataclass
class Calibration:
    everyone: bool
    fleiss: float | None = None
    fleiss_items: int = 0
    pairs: list[PairKappa] = field(default_factory=list)
    by_reviewer: list[Rate] = field(default_factory=list)
    # Warnings before a likely mistake and their overrides (review.warnings): (e-mail, counts).
    warned: list[tuple[str, warnings.WarningCounts]] = field(default_factory=list)
    by_reason: list[Rate] = field(default_factory=list)
    by_target: list[Rate] = field(default_factory=list)
    timing: list[TimePoint] = field(default_factory=list)
    golden: list[GoldenResult] = field(default_factory=list)


def calibration(session: Session, *, viewer: Principal, since: datetime) -> Calibration:
    policy.require(viewer, Action.view_queue)
    only = policy.figures_of(viewer)
    emails = dict(session.execute(select(StaffUser.id, StaffUser.email)).tuples().all())
    out = Calibration(everyone=only is None)
    ratings = _ratings(session, since=since)
    verdicts = {subject: [v for _, v in given] for subject, given in ratings.items()}
    table = agreement.fleiss_table(verdicts, CATEGORIES)
    out.fleiss, out.fleiss_items = agreement.fleiss_kappa(table), len(table)
    if only is None:
        out.pairs = _pairs(ratings, emails)
    golden = select(QaRecord, QaTask.alias_id).join(QaTask, QaTask.id == QaRecord.task_id)
    golden = golden.where(
        QaRecord.kind == RecordKind.golden, QaRecord.created_at >= since, standing()
    )
    if only is not None:
        golden = golden.where(QaRecord.reviewer_id == only)
    rows = session.execute(golden.order_by(QaRecord.created_at.desc())).all()
    records = [r for r, _ in rows]
    out.by_reviewer = _rates(records, lambda r: emails.get(r.reviewer_id, r.reviewer_id))
    out.warned = [(emails.get(w.reviewer_id, w.reviewer_id), w)
                  for w in warnings.summary(session, reviewer_id=only)]  # fmt: skip
    out.by_reason = _rates(records, lambda r: r.expected_reason or r.expected_decision or "")
    out.by_target = _rates(records, lambda r: r.target_type)
    if only is not None:
        out.golden = [
            GoldenResult(
                r.created_at,
                alias,
                r.target_type,
                r.decision,
                r.reason_code,
                r.expected_decision,
                r.expected_reason,
                r.correct,
            )
            for r, alias in rows
        ]
    out.timing = _timing(session, since=since, only=only, emails=emails)
    return out


def _ratings(session: Session, *, since: datetime) -> dict[str, list[tuple[str, str]]]:
    """Each claim's verdicts from different reviewers, in time order: (reviewer, verdict).
    A re-reviewed claim has the live decision and the blind second look; a golden item one
    answer per reviewer it was served to."""
    found: list[tuple[datetime, str, str, str]] = []
    for d in session.execute(
        select(Decision.created_at, Rereview.submission_id, Decision.reviewer_id, Decision.decision)
        .join(Rereview, Rereview.decision_id == Decision.id)
        .where(Rereview.created_at >= since)
    ):
        found.append(tuple(d))  # type: ignore[arg-type]
    for r in session.execute(
        select(QaRecord.created_at, QaRecord.submission_id, QaRecord.reviewer_id, QaRecord.decision)
        .where(QaRecord.kind.in_([RecordKind.golden, RecordKind.rereview]))
        .where(QaRecord.created_at >= since, standing())
    ):
        found.append(tuple(r))  # type: ignore[arg-type]
    ratings: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for _, subject, reviewer, verdict in sorted(found):
        if reviewer not in {who for who, _ in ratings[subject]}:
            ratings[subject].append((reviewer, verdict))
    return {s: given for s, given in ratings.items() if len(given) >= 2}


def _pairs(ratings: dict[str, list[tuple[str, str]]], emails: dict[str, str]) -> list[PairKappa]:
    both: dict[tuple[str, str], tuple[list[str], list[str]]] = defaultdict(lambda: ([], []))
    for given in ratings.values():
        for (a, va), (b, vb) in combinations(sorted(given), 2):
            both[(a, b)][0].append(va)
            both[(a, b)][1].append(vb)
    out = [
        PairKappa(emails.get(a, a), emails.get(b, b), agreement.cohen_kappa(xs, ys), len(xs))
        for (a, b), (xs, ys) in both.items()
    ]
    return sorted(out, key=lambda p: (p.first, p.second))


def _rates(records: list[QaRecord], key) -> list[Rate]:  # type: ignore[no-untyped-def]
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in records:
        counts[key(r)][0] += bool(r.correct)
        counts[key(r)][1] += 1
    return [Rate(k, c, n) for k, (c, n) in sorted(counts.items())]


def _timing(
    session: Session, *, since: datetime, only: str | None, emails: dict[str, str]
) -> list[TimePoint]:
    """Seconds from lease to decision against the footage's length, live decisions and QA
    items alike (a reviewer cannot tell them apart, so they time alike)."""
    footage = (
        select(Media.submission_id, func.sum(Media.duration_seconds).label("seconds"))
        .group_by(Media.submission_id)
        .subquery()
    )
    stmt = (
        select(Decision.reviewer_id, Decision.leased_at, Decision.created_at, footage.c.seconds)
        .join(footage, footage.c.submission_id == Decision.submission_id)
        .where(Decision.stage.in_([Stage.review, Stage.second]), Decision.created_at >= since)
        .where(Decision.leased_at.is_not(None), footage.c.seconds.is_not(None))
        .order_by(Decision.created_at.desc())
        .limit(TIMING_POINTS)
    )
    qa = (
        select(QaRecord.reviewer_id, QaRecord.seconds, QaRecord.footage_seconds)
        .where(QaRecord.kind != RecordKind.ruling, QaRecord.created_at >= since, standing())
        .where(QaRecord.seconds.is_not(None), QaRecord.footage_seconds.is_not(None))
        .limit(TIMING_POINTS)
    )
    if only is not None:
        stmt = stmt.where(Decision.reviewer_id == only)
        qa = qa.where(QaRecord.reviewer_id == only)
    points = [
        TimePoint(emails.get(who, who), (done - leased).total_seconds(), float(length))
        for who, leased, done, length in session.execute(stmt)
    ]
    points += [
        TimePoint(emails.get(who, who), float(s or 0), float(length or 0))
        for who, s, length in session.execute(qa)
    ]
    return points
