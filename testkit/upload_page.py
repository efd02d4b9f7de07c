"""What the upload page's browser tests share: the stack behind a counting proxy in front of
storage (testkit/s3_counter.py), a member signed in through the form, a throttled link, and
what the database holds of a unit's claims afterwards."""

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from playwright.sync_api import BrowserContext, CDPSession, Page, ViewportSize
from sqlalchemy import select

from mvq.db import session_factory
from mvq.media.models import Media
from mvq.submissions.models import Submission
from testkit import harness
from testkit.s3_counter import S3Counter

PHONE: ViewportSize = {"width": 390, "height": 844}
LAPTOP: ViewportSize = {"width": 1366, "height": 768}


@contextmanager
def counted_stack(
    backing: harness.Backing,
    database: str,
    *,
    extra_env: dict[str, str] | None = None,
    rate: float | None = None,
) -> Iterator[tuple[harness.Stack, S3Counter]]:
    """The stack with storage behind a counting proxy: Chromium reports a throttled fetch's
    upload as aborted even when storage stored it, so pieces are counted where they land.
    `rate`: the link's upload speed shared by all pieces at once (S3Counter)."""
    counter = S3Counter(backing.env["MVQ_S3_ENDPOINT_URL"], rate=rate)
    try:
        env = {**(extra_env or {}), "MVQ_S3_ENDPOINT_URL": counter.url}
        stack = harness.start_stack(backing, database, extra_env=env)
        try:
            yield stack, counter
        finally:
            stack.group.stop()
    finally:
        counter.close()


def sign_in(page: Page, email: str, password: str) -> Page:
    page.goto("/unit/upload")  # bounced to the login form
    page.fill('input[name="email"]', email)
    page.fill('input[name="password"]', password)
    page.press('input[name="password"]', "Enter")
    page.wait_for_url("**/unit/upload")
    return page


def throttle(context: BrowserContext, page: Page, link: dict[str, Any]) -> CDPSession:
    """DevTools' network conditions on the page: a new session after a reload keeps them."""
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", link)
    return cdp


def stored_twice(counter: S3Counter) -> dict[tuple[str, int], int]:
    """Pieces (whole parts, staged chunks, single files) storage took more than once."""
    return {piece: n for piece, n in counter.counts.stored.items() if n > 1}


def stored_bytes(counter: S3Counter) -> int:
    """Bytes of the distinct pieces storage took: the file's size when nothing overlapped."""
    return sum(counter.counts.sizes.values())


def claims_of(unit_id: str) -> tuple[list[Submission], list[Media]]:
    with session_factory()() as session:
        claims = list(session.scalars(select(Submission).where(Submission.unit_id == unit_id)))
        media = list(session.scalars(select(Media).where(
            Media.submission_id.in_([c.id for c in claims]))))  # fmt: skip
        session.expunge_all()
        return claims, media


def pieces(counter: S3Counter) -> Counter[str]:
    """Stored pieces by kind: "part" (by a part URL), "chunk" (staged) or "file"."""
    kinds: Counter[str] = Counter()
    for where, part in counter.counts.stored:
        kinds["part" if part else "chunk" if "/staging/" in where else "file"] += 1
    return kinds
