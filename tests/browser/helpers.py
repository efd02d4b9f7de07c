"""Claims made ready for the pages' tests (queued by a unit, rejected and appealed, approved),
the two screen sizes every page is judged at, and small checks on a page."""

from datetime import timedelta
from pathlib import Path

from playwright.sync_api import Page
from sqlalchemy import select

from mvq.auth.models import Role
from mvq.auth.principal import Principal
from mvq.db import session_factory, utcnow
from mvq.flows import decisions, intake
from mvq.review import appeals, leases
from mvq.review.models import ReviewItem
from mvq.submissions.models import Submission, SubmissionStatus
from testkit import footage, harness
from testkit.claims import upload_claim, wait_for_status
from testkit.people import make_staff


def rejected_and_appealed(unit_id: str, by: Principal, reason: str) -> tuple[str, str]:
    """A tank claim rejected by `by` and appealed by its unit: (claim id, appeal id)."""
    now = utcnow()
    hit = now - timedelta(hours=5)
    with session_factory()() as session:
        s = Submission(unit_id=unit_id, status=SubmissionStatus.in_queue, target_type="tank",
                       outcome="destroyed", occurred_at=hit)  # fmt: skip
        session.add(s)
        session.flush()
        intake.queue_for_review(session, submission=s)
        session.commit()
        leased = leases.claim_next(session, reviewer=by, now=now, lease_seconds=60)
        assert leased is not None and leased[1].id == s.id
        decisions.decide(session, reviewer=by, item_id=leased[0].id,
                         lease_token=leased[0].lease_token or "", decision="reject",
                         target_type=None, outcome=None, reason_code="insufficient_evidence",
                         comment="Only smoke on the horizon.", now=now)  # fmt: skip
        unit = Principal(kind="unit", id=unit_id, unit_id=unit_id)
        appeal = appeals.file(session, unit=unit, submission_id=s.id, reason=reason, now=now)
        session.commit()
        return s.id, appeal.id


def approve_all(stack: harness.Stack, mine: dict[str, str | None]) -> dict[str, int]:
    """Approve every claim in `mine` (submission id -> corrected outcome or None) through the
    API; anything else met in the queue is approved as claimed. The points each of mine got."""
    with session_factory()() as session:
        token = make_staff(session, Role.reviewer)
    points: dict[str, int] = {}
    with stack.client(token) as api:
        while set(mine) - set(points):
            lease = api.post("/api/v1/review/claim")
            assert lease.status_code == 200, lease.text  # mine are still waiting
            claim = lease.json()
            outcome = mine.get(claim["submission_id"])
            done = api.post(f"/api/v1/review/{claim['item_id']}/decision",
                            json={"lease_token": claim["lease_token"], "decision": "approve",
                                  "outcome": outcome})  # fmt: skip
            assert done.status_code == 200, done.text
            if claim["submission_id"] in mine:
                assert done.json()["status"] == "approved", done.text
                points[claim["submission_id"]] = done.json()["points"]
    return points


def queued(stack: harness.Stack, token: str, clips: Path, source: str, target: str = "tank") -> str:
    """A real clip uploaded by the unit and processed by a worker, waiting in the queue."""
    path = footage.clip(source, clips / f"{source}.mp4")
    submission_id = upload_claim(stack, token, path, target_type=target)
    wait_for_status(stack, token, submission_id, "in_queue")
    return submission_id


LAPTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}


def item_of(submission_id: str) -> str:
    with session_factory()() as session:
        item_id = session.scalar(
            select(ReviewItem.id).where(ReviewItem.submission_id == submission_id)
        )
    assert item_id is not None
    return item_id


def no_sideways_scroll(page: Page) -> bool:
    return bool(page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth"))


def password_step(page: Page, email: str, password: str) -> Page:
    """The sign-in form's first step (bounced there from /review): e-mail and password sent.
    Where it leads (a code, an enrolment, the queue) is the caller's to check."""
    page.goto("/review")
    page.fill('input[name="email"]', email)
    page.fill('input[name="password"]', password)
    page.press('input[name="password"]', "Enter")
    return page
