"""A unit member's pages (issue 30): target types and outcomes in the member's language, from
the labels the staff pages use; "my claims" in keyset pages with a filter that needs no
button; a claim's own page; error pages that lead a member somewhere they may go; and a copy
of footage told as "already submitted", never as another unit's."""

import re
from datetime import UTC, datetime, timedelta
from html import unescape

import httpx
import pytest

from mvq.auth.models import Role
from mvq.db import session_factory
from mvq.submissions.models import Flag
from testkit import harness
from testkit.people import Accounts, Browserless, make_login, make_unit, web_login
from tests.contested import claim

HTML = {"Accept": "text/html"}


@pytest.fixture(scope="module")
def unit(accounts: Accounts) -> str:
    with session_factory()() as session:
        unit_id = make_unit(session)[0]
        session.commit()
    return unit_id


def member(stack: harness.Stack, unit_id: str, language: str = "en") -> Browserless:
    web = web_login(stack, *make_login(Role.unit, unit_id=unit_id))
    web.client.headers["Accept-Language"] = language
    return web


def words(response: httpx.Response) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", response.text)).split())


def test_target_types_read_as_the_staff_pages_call_them(
    stack: harness.Stack, unit: str, empty_queue: None
) -> None:
    with session_factory()() as session:
        made = claim(session, unit, "tank")
    web = member(stack, unit, "uk")
    for path in ("/unit", f"/unit/claims/{made.id}"):
        page = web.client.get(path, headers=HTML)
        assert page.status_code == 200, page.text
        heading = re.search(rf'id="claim-title-{made.id}">(.*?)</h\d>', page.text, re.S)
        assert heading, path
        title = re.sub(r"<[^>]+>", "", heading[1])
        assert "танк" in title and "tank" not in title, (path, title)


def test_my_claims_come_in_keyset_pages_and_the_filter_needs_no_button(
    stack: harness.Stack, empty_queue: None
) -> None:
    with session_factory()() as session:
        unit_id = make_unit(session)[0]
        session.commit()
        base = datetime.now(UTC) - timedelta(hours=10)
        made = [claim(session, unit_id, at=base + timedelta(minutes=i)).id for i in range(13)]
    web = member(stack, unit_id)
    first = web.client.get("/unit", headers=HTML)
    shown = re.findall(r'<article class="claim[^"]*" id="claim-([0-9a-f-]+)"', first.text)
    assert len(shown) == 10 and set(shown) <= set(made)
    older = re.search(r'href="\?before=([^"]+)" rel="next"', first.text)
    assert older, "no link to the older claims"
    # A claim made meanwhile moves nothing along: the next page starts where this one ended.
    with session_factory()() as session:
        claim(session, unit_id)
    second = web.client.get(f"/unit?before={older[1]}", headers=HTML)
    rest = re.findall(r'<article class="claim[^"]*" id="claim-([0-9a-f-]+)"', second.text)
    assert len(rest) == 3 and not set(rest) & set(shown) and set(rest) | set(shown) == set(made)
    assert 'rel="next"' not in second.text
    # A page that cannot be is refused in words, not with a server error.
    bad = web.client.get("/unit?before=not-a-time~x", headers=HTML)
    assert bad.status_code == 422 and "start again from the newest" in words(bad)
    # The filter: a script applies it as it changes; its button is there for a page without.
    form = re.search(r"<form[^>]*data-autosubmit[^>]*>(.*?)</form>", first.text, re.S)
    assert form and "data-without-script" in form[1]
    approved = web.client.get("/unit?status=approved", headers=HTML)
    assert approved.status_code == 200 and "No claims in this state." in words(approved)
    everything = web.client.get("/unit?status=", headers=HTML)  # "all claims"
    assert (
        everything.status_code == 200
        and len(re.findall(r'<article class="claim', everything.text)) == 10
    )


def test_a_claims_own_page_is_its_units_alone(
    stack: harness.Stack, accounts: Accounts, unit: str, empty_queue: None
) -> None:
    with session_factory()() as session:
        mine = claim(session, unit)
        theirs = claim(session, accounts.other_unit_id)
    web = member(stack, unit)
    page = web.client.get(f"/unit/claims/{mine.id}", headers=HTML)
    assert page.status_code == 200 and f'id="claim-{mine.id}"' in page.text
    refused = web.client.get(f"/unit/claims/{theirs.id}", headers=HTML)
    assert refused.status_code == 404


def test_error_pages_lead_a_member_to_their_claims(
    stack: harness.Stack, accounts: Accounts, unit: str
) -> None:
    web = member(stack, unit)
    for path, status in (("/review", 403), ("/unit/claims/none", 404), ("/no/such/page", 404)):
        page = web.client.get(path, headers=HTML)
        assert page.status_code == status, (path, page.text)
        assert "Back to the queue" not in page.text, path
        ways = re.search(r'<p class="ways">(.*?)</p>', page.text, re.S)
        assert ways, path
        links = re.findall(r'href="([^"]+)"', ways[1])
        assert links and all(link in ("/unit", "/unit/upload", "/") for link in links), links
        # Wherever it leads, the member may go.
        for link in links:
            landed = web.client.get(link, headers=HTML, follow_redirects=True)
            assert landed.status_code == 200, link
    staff = web_login(stack, *make_login(Role.reviewer))
    page = staff.client.get("/unit", headers=HTML)
    assert page.status_code == 403 and "Back to the queue" in page.text


def test_a_copy_of_footage_is_already_submitted_not_another_units(
    stack: harness.Stack, accounts: Accounts, unit: str, empty_queue: None
) -> None:
    with session_factory()() as session:
        earlier = claim(session, accounts.other_unit_id)
        copy = claim(session, unit, copies=[earlier.id])
        media_id = session.query(Flag).filter_by(submission_id=copy.id).one().media_id
        # The matcher's second flag for the same file: another unit's footage.
        session.add(Flag(submission_id=copy.id, media_id=media_id, kind="cross_unit_duplicate",
                         evidence={"matches": [{"submission_id": earlier.id,
                                                "unit_id": accounts.other_unit_id}]}))  # fmt: skip
        session.commit()
    web = member(stack, unit)
    page = web.client.get(f"/unit/claims/{copy.id}", headers=HTML)
    assert page.status_code == 200
    said = words(page)
    assert said.count("This footage was already submitted.") == 1
    assert "another unit" not in said.lower() and "Another unit" not in said
    assert earlier.id not in page.text and accounts.other_unit_id not in page.text
    # The page's script reads the API with the session and the page's CSRF token.
    body = web.client.get(f"/api/v1/submissions/{copy.id}",
                          headers={"X-CSRF-Token": web.csrf}).json()  # fmt: skip
    assert [f["kind"] for f in body["flags"]] == ["already_submitted"]
    assert "cross_unit" not in str(body) and accounts.other_unit_id not in str(body)
