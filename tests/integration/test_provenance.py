"""Which file is the original, through the real queue and workers: two units upload one clip,
one at crf 24 and the other at crf 31 (the crf 31 copy uploaded first); the crf 24 claim is
ranked the original with its reasons, the suggestion gives it everything, and accepting the
suggestion on the page settles the dispute that way."""

import re
from pathlib import Path

import pytest
from sqlalchemy import select

from mvq.auth.models import Role
from mvq.db import session_factory
from mvq.review import provenance
from mvq.review.models import ReviewItem
from mvq.scoring.disputes import reading
from mvq.scoring.disputes.suggestion import suggest
from mvq.scoring.models import DisputeStatus
from testkit import footage, harness
from testkit.claims import upload_claim, wait_for_status
from testkit.people import Accounts, make_login, make_staff, web_login
from tests.contested import paid


@pytest.fixture(scope="module")
def pair(clips: Path) -> tuple[Path, Path]:
    source = footage.clip("rocket", clips / "rocket-lossless.mp4", seconds=8, lossless=True)
    return footage.at_crf(source, 24), footage.at_crf(source, 31)


def approve(stack: harness.Stack, ids: list[str]) -> None:
    with session_factory()() as session:
        token = make_staff(session, Role.reviewer)
    with stack.client(token) as api:
        for _ in ids:
            lease = api.post("/api/v1/review/claim")
            assert lease.status_code == 200, lease.text
            item = lease.json()
            assert item["submission_id"] in ids
            decision = {"lease_token": item["lease_token"], "decision": "approve"}
            done = api.post(f"/api/v1/review/{item['item_id']}/decision", json=decision)
            assert done.status_code == 200, done.text


def test_the_crf_24_file_is_ranked_the_original_and_the_suggestion_settles_it(
    stack: harness.Stack, accounts: Accounts, pair: tuple[Path, Path], empty_queue: None
) -> None:
    better, worse = pair
    copy = upload_claim(stack, accounts.other_unit_token, worse)
    wait_for_status(stack, accounts.other_unit_token, copy, "in_queue")
    original = upload_claim(stack, accounts.unit_token, better)
    wait_for_status(stack, accounts.unit_token, original, "in_queue")

    with session_factory()() as session:
        ranking = provenance.for_claims(session, [copy, original])
        assert (ranking.original, ranking.copies) == (original, [copy])
        verdict = ranking.verdicts[0]
        assert {r.code for r in verdict.reasons[original]} == {"bit_rate_much"}
        assert {r.code for r in verdict.reasons[copy]} == {"uploaded_first"}
        found = reading.member_of(session, submission_id=copy)
        assert found is not None
        dispute_id = found[0].id
    # A duplicate pair says the same, from either claim's matches.
    with stack.client(accounts.staff_tokens["reviewer"]) as api:
        later = api.get(f"/api/v1/submissions/{original}/matches").json()["matches"]
    told = [m for m in later if m["submission_id"] == copy]
    assert told and all(m["original"] == "this" for m in told)
    assert told[0]["provenance"] == {"this": ["bit_rate_much"], "other": ["uploaded_first"]}
    # And the reviewer's item page of the later claim, on the earlier claim's row (the
    # duplicate flag is raised on the later upload).
    with session_factory()() as session:
        item_id = session.scalars(
            select(ReviewItem.id).where(ReviewItem.submission_id == original)
        ).one()
    reviewer = web_login(stack, *make_login(Role.reviewer))
    shown = reviewer.client.get(
        f"/review/{item_id}", headers={"Accept": "text/html", "Accept-Language": "en"}
    )
    assert shown.status_code == 200, shown.text
    row = shown.text[shown.text.index(f'data-submission="{copy}"') :]
    row = row[: row.index("</article>")]
    assert "Likely original: this claim" in row and "higher bit rate" in row, row
    approve(stack, [copy, original])
    with session_factory()() as session:
        contest = reading.load(session, session.get_one(type(found[0]), dispute_id))
        worth = contest.worth.points
        assert worth and paid(session, copy, original) == 0  # both awards held
        suggestion = suggest(contest, provenance.for_claims(session, [copy, original]))
        assert (suggestion.kind, suggestion.shares) == ("original", {original: worth, copy: 0})

    # The API says the same.
    with stack.client(accounts.staff_tokens["senior"]) as api:
        listed = {d["id"]: d for d in api.get("/api/v1/disputes").json()}
    told = listed[dispute_id]["provenance"]
    assert (told["original"], told["copies"]) == (original, [copy])
    assert told["pairs"][0]["reasons"][original] == ["bit_rate_much"]
    assert told["suggestion"] == {"kind": "original", "shares": {original: worth, copy: 0},
                                  "reverse": [], "blocked": None}  # fmt: skip

    senior = web_login(stack, *make_login(Role.senior))
    page = senior.client.get("/disputes", headers={"Accept": "text/html"}).text
    section = page[page.index(f'data-dispute="{dispute_id}"') :]
    section = section[: section.index("</section>")]
    assert f"Likely original: claim {original[:8]}" in section
    assert "higher bit rate" in section
    # Every signal names the other claim by its id.
    assert f"same footage as claim {copy[:8]}" in section
    assert f"same footage as claim {original[:8]}" in section
    accept = re.search(r'<form method="post" action="([^"]+)" class="accept">(.*?)</form>',
                       section, re.S)  # fmt: skip
    assert accept
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', accept[2]))
    # The form carries only what the page showed: the server computes the split again, and
    # settles it only if it is still the one shown.
    assert set(fields) == {"csrf_token", "accept"}
    stale = senior.client.post(accept[1], data=fields | {"accept": "0" * 16})
    assert stale.status_code == 409 and "The suggestion changed" in stale.text
    with session_factory()() as session:
        assert paid(session, original, copy) == 0
    done = senior.client.post(accept[1], data=fields)
    assert done.status_code == 303, done.text
    with session_factory()() as session:
        assert paid(session, original) == worth and paid(session, copy) == 0
        settled = reading.member_of(session, submission_id=copy)
        assert settled is not None and settled[0].status == DisputeStatus.settled
