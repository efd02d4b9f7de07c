"""QA records for pages and charts to show: golden items answered by several reviewers, some
right and some not, with their times against the footage's length, and a blind re-review that
disagreed. Made at the service level, with a seeded draw so each run shows the same page."""

import random
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from mvq.auth.models import StaffUser
from mvq.auth.principal import Principal
from mvq.db import session_factory
from mvq.media.models import Media
from mvq.review.decisions import REJECT_REASONS
from mvq.review.models import Decision
from mvq.review.qa import golden
from mvq.review.qa.models import QaRecord, QaTask, RecordKind, Rereview, RereviewState
from tests.contested import claim, decide
from tests.helpers import reviewer

# Each worth less than the four-eyes threshold, so one approval decides it.
TARGETS = ("tank", "artillery", "apc", "infantry")


def user_id(email: str) -> str:
    with session_factory()() as session:
        return session.scalars(select(StaffUser.id).where(StaffUser.email == email)).one()


def seed(unit_id: str, reviewer_ids: list[str], *, items: int = 12, seed: int = 32) -> list[str]:
    """Returns the golden items' claim ids."""
    rng = random.Random(seed)
    crew, senior = reviewer(), reviewer_principal("senior")
    now = datetime.now(UTC)
    with session_factory()() as session:
        answers: list[tuple[str, str, str | None, str]] = []
        for n in range(items):
            sub = claim(session, unit_id, TARGETS[n % len(TARGETS)])
            right = "approve" if n % 3 == 0 else "reject"
            decide(session, crew, sub.id, right)
            reason = None if right == "approve" else rng.choice(sorted(REJECT_REASONS)[:4])
            golden.mark(session, senior=senior, submission_id=sub.id, decision=right,
                        reason_code=reason, now=now)  # fmt: skip
            for media in session.scalars(select(Media).where(Media.submission_id == sub.id)):
                media.duration_seconds = rng.uniform(8, 90)
            answers.append((sub.id, right, reason, sub.target_type))
        session.commit()
        for skill, who in zip((0.9, 0.75, 0.55, 0.8), reviewer_ids, strict=False):
            for sub_id, right, reason, target in answers:
                ok = rng.random() < skill
                decision = right if ok else ("reject" if right == "approve" else "approve")
                given = reason if decision == "reject" and ok else (
                    "other" if decision == "reject" else None)  # fmt: skip
                footage = session.scalars(
                    select(Media.duration_seconds).where(Media.submission_id == sub_id)
                ).first()
                task = QaTask(kind="golden", submission_id=sub_id, reviewer_id=who,
                              golden_id=golden.of_claim(session, submission_id=sub_id).id,  # type: ignore[union-attr]
                              leased_at=now, done_at=now, created_at=now)  # fmt: skip
                session.add(task)
                session.flush()
                session.add(
                    QaRecord(
                        kind=RecordKind.golden,
                        task_id=task.id,
                        submission_id=sub_id,
                        reviewer_id=who,
                        target_type=target,
                        decision=decision,
                        reason_code=given,
                        expected_decision=right,
                        expected_reason=reason,
                        correct=decision == right and given == reason,
                        seconds=rng.uniform(3, 1.3 * (footage or 30)),
                        footage_seconds=footage,
                        created_at=now - timedelta(minutes=rng.randint(5, 90)),
                    )
                )
        # One live decision whose blind second look disagreed: a senior rules on it.
        sub = claim(session, unit_id, "tank")
        decide(session, crew, sub.id, "reject")
        first = session.scalars(select(Decision).where(Decision.submission_id == sub.id)).one()
        sampled = Rereview(decision_id=first.id, submission_id=sub.id,
                           first_reviewer_id=crew.id, target_type="tank",
                           state=RereviewState.disputed, created_at=now)  # fmt: skip
        session.add(sampled)
        session.flush()
        session.add(QaRecord(kind=RecordKind.rereview, rereview_id=sampled.id,
                             submission_id=sub.id, reviewer_id=reviewer_ids[0],
                             target_type="tank", decision="approve",
                             expected_decision="reject", expected_reason="not_visible",
                             correct=False, created_at=now))  # fmt: skip
        session.commit()
    return [sub_id for sub_id, _, _, _ in answers]


def reviewer_principal(role: str) -> Principal:
    from mvq.auth.models import Role

    return reviewer(Role(role))
