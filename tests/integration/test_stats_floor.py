"""The stats page's floor on both databases: a reviewer whose median time per item is below
settings.min_median_seconds_per_item is marked, in words, and one above it is not."""

from datetime import timedelta

from mvq.auth import policy
from mvq.auth.models import Role
from mvq.auth.principal import Principal
from mvq.db import session_factory, utcnow
from mvq.flows import decisions
from mvq.review import leases, stats
from mvq.settings import get_settings
from testkit import harness
from testkit.people import Accounts, make_login, web_login
from tests.helpers import queued_item, reviewer


def approve_one(accounts: Accounts, who: Principal, *, looked_seconds: float) -> None:
    """Claim an item as if `looked_seconds` ago and approve it now."""
    with session_factory()() as session:
        queued_item(session, accounts.unit_id)
        session.commit()
        leased = leases.claim_next(session, reviewer=who, lease_seconds=600,
                                   now=utcnow() - timedelta(seconds=looked_seconds))  # fmt: skip
        assert leased is not None
        decisions.decide(
            session, reviewer=who, item_id=leased[0].id, lease_token=leased[0].lease_token or "",
            decision="approve", target_type=None, outcome=None, reason_code=None, comment=None,
            now=utcnow(),
        )  # fmt: skip
        session.commit()


def test_a_reviewer_faster_than_the_floor_is_marked(
    stack: harness.Stack, accounts: Accounts, empty_queue: None
) -> None:
    floor = get_settings().min_median_seconds_per_item
    hasty, careful = reviewer(), reviewer()
    for _ in range(3):
        approve_one(accounts, hasty, looked_seconds=floor / 4)
        approve_one(accounts, careful, looked_seconds=floor * 6)
    with session_factory()() as session:
        rows = {r.reviewer_id: r for r in stats.reviewer_stats(
            session, viewer=policy.OPERATOR, since=utcnow() - timedelta(hours=1),
            until=utcnow() + timedelta(minutes=1)
        )}  # fmt: skip
    assert rows[hasty.id].below_floor and rows[hasty.id].floor_seconds == floor
    assert not rows[careful.id].below_floor
    # A configured floor of 0 marks no one.
    with session_factory()() as session:
        assert not any(r.below_floor for r in stats.reviewer_stats(
            session, viewer=policy.OPERATOR, since=utcnow() - timedelta(hours=1),
            until=utcnow() + timedelta(minutes=1),
            floor_seconds=0,
        ))  # fmt: skip

    web = web_login(stack, *make_login(Role.senior))
    page = web.client.get("/review/stats", headers={"Accept": "text/html"}).text
    hasty_row = page[page.index(f'data-reviewer="{rows[hasty.id].email}"') :]
    hasty_row = hasty_row[: hasty_row.index("</tr>")]
    assert f"below the {floor:.0f} s floor" in hasty_row
    careful_row = page[page.index(f'data-reviewer="{rows[careful.id].email}"') :]
    assert "below the" not in careful_row[: careful_row.index("</tr>")]
    assert 'id="below-floor-note"' in page and "may not give the footage a proper look" in page
