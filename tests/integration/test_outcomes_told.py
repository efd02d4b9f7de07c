"""Every outcome told to the unit (issue 30): on "my claims" and the claim's own page, in the
claim's JSON (`result`, with a message in the reader's language) and as webhooks. A unit that
loses a dispute learns its share, the target's worth and the senior's note; a four-eyes claim
says it waits for a second approval; a rejection names its reason; an appeal's fate and a
reversal's reason are told. None of it names the other unit or its claim."""

import html
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from edge import i18n, outcome_words
from mvq.auth import policy
from mvq.auth.models import Role, StaffUser
from mvq.auth.principal import Principal
from mvq.db import session_factory
from mvq.flows import appeals as appeal_flows
from mvq.review import appeals
from mvq.scoring.disputes import settlement
from mvq.webhooks import dispatch
from mvq.webhooks import service as webhooks
from mvq.webhooks.events import TYPES
from mvq.webhooks.models import WebhookEvent
from testkit import harness
from testkit.people import Accounts, Browserless, make_login, make_unit, web_login
from tests.contested import claim, decide, dispute_of
from tests.helpers import reviewer

NOTE = "The first unit's drone filmed the strike; the second clip is a forward."


class Unit:
    def __init__(self) -> None:
        with session_factory()() as session:
            self.id, self.token = make_unit(session)
            session.commit()


@pytest.fixture(scope="module")
def crew(accounts: Accounts) -> dict[str, Principal]:
    return {"reviewer": reviewer(), "second": reviewer(), "senior": reviewer(Role.senior)}


def member(stack: harness.Stack, unit: Unit) -> Browserless:
    return web_login(stack, *make_login(Role.unit, unit_id=unit.id))


def result(stack: harness.Stack, unit: Unit, claim_id: str, language: str = "en") -> Any:
    with stack.client(unit.token) as api:
        got = api.get(f"/api/v1/submissions/{claim_id}", headers={"Accept-Language": language})
    assert got.status_code == 200, got.text
    return got.json()["result"]


def listen(unit: Unit) -> None:
    """A webhook endpoint of the unit's, for every event type, from now on."""
    with session_factory()() as session:
        webhooks.register(session, admin=policy.OPERATOR, url="http://127.0.0.1:9/hook",
                          events=list(TYPES), unit_id=unit.id, allow_private_network=True,
                          now=datetime.now(UTC))  # fmt: skip
        session.commit()


def heard(unit: Unit, type_: str) -> list[dict[str, Any]]:
    """What the unit's endpoints were sent of one type, oldest first (dispatched now)."""
    with session_factory()() as session:
        now, tell = datetime.now(UTC), outcome_words.told_to_unit
        while dispatch.dispatch_batch(session, now=now, tell=tell) == dispatch.BATCH:
            pass
        rows = session.scalars(
            select(WebhookEvent)
            .where(WebhookEvent.unit_id == unit.id, WebhookEvent.type == type_)
            .order_by(WebhookEvent.audit_seq, WebhookEvent.part)
        )
        return [row.payload for row in rows]


def text_of(page: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def test_a_unit_that_loses_a_dispute_is_told_its_share_the_total_and_the_note(
    stack: harness.Stack, crew: dict[str, Principal], empty_queue: None
) -> None:
    first_unit, losing = Unit(), Unit()
    listen(losing)
    with session_factory()() as session:
        first = claim(session, first_unit.id)
        copy = claim(session, losing.id, copies=[first.id])
    waiting = result(stack, losing, copy.id)  # in a dispute before anyone decided
    assert (waiting["kind"], waiting["dispute"]["status"]) == ("undecided", "open")
    with session_factory()() as session:
        decide(session, crew["reviewer"], first.id, "approve")
        decide(session, crew["reviewer"], copy.id, "approve")
        contest = dispute_of(session, copy.id)

    held = result(stack, losing, copy.id)
    assert held["kind"] == "held_in_dispute" and held["dispute"]["status"] == "open"
    assert "wait until a senior reviewer shares the credit" in held["message"]
    (opened,) = heard(losing, "dispute.opened")
    told_then = opened.pop("result")
    assert opened == {"dispute_id": contest.dispute.id, "submission_id": copy.id,
                      "unit_id": losing.id, "status": "open"}  # fmt: skip
    assert told_then["kind"] == "held_in_dispute" and told_then["message"]

    with session_factory()() as session:
        settlement.settle(session, senior=crew["senior"], dispute_id=contest.dispute.id,
                          shares={first.id: 40, copy.id: 0}, note=NOTE,
                          now=datetime.now(UTC))  # fmt: skip
        session.commit()

    told = result(stack, losing, copy.id)
    assert told["kind"] == "dispute_settled"
    assert told["dispute"] == {"status": "settled", "share": 0, "total": 40, "note": NOTE,
                               "settled_at": told["dispute"]["settled_at"]}  # fmt: skip
    assert told["points"] == 0
    assert "this claim gets 0 points of the target's 40 points" in told["message"]
    assert NOTE in told["message"]
    # In the member's language: Ukrainian when asked for.
    with i18n.using("uk"):
        share_uk = i18n.gettext("The senior reviewer's note: %(note)s", note=NOTE)
    told_uk = result(stack, losing, copy.id, "uk")
    assert share_uk in told_uk["message"] and share_uk != f"The senior reviewer's note: {NOTE}"

    (settled,) = heard(losing, "dispute.settled")
    assert settled["submission_id"] == copy.id and settled["unit_id"] == losing.id
    assert (settled["share"], settled["total"], settled["note"]) == (0, 40, NOTE)
    assert first.id not in str(settled) and first_unit.id not in str(settled)

    web = member(stack, losing)
    for path in ("/unit", f"/unit/claims/{copy.id}"):
        page = web.client.get(path)
        assert page.status_code == 200, page.text
        words = text_of(page.text)
        assert "this claim gets 0 points of the target's 40 points" in words, path
        assert NOTE in words, path
        assert "No points yet: another claim" not in words  # the old, wrong hint
        assert first.id not in page.text and first_unit.id not in page.text


def test_a_four_eyes_claim_says_it_waits_for_a_second_approval(
    stack: harness.Stack, crew: dict[str, Principal], empty_queue: None
) -> None:
    unit = Unit()
    listen(unit)
    with session_factory()() as session:
        worth_two = claim(session, unit.id, "mlrs")  # 50 points: two approvals
        decide(session, crew["reviewer"], worth_two.id, "approve")
    told = result(stack, unit, worth_two.id)
    assert told["kind"] == "awaiting_second", told
    assert "needs a second approval" in told["message"]
    (first_look,) = heard(unit, "decision.made")
    assert first_look["needs_second_approval"] is True
    page = text_of(member(stack, unit).client.get(f"/unit/claims/{worth_two.id}").text)
    assert "needs a second approval" in page
    with session_factory()() as session:
        decide(session, crew["second"], worth_two.id, "approve")
    told = result(stack, unit, worth_two.id)
    assert (told["kind"], told["points"]) == ("approved", 50)
    assert told["message"] == "Approved: 50 points."


def test_a_rejection_its_appeal_and_a_reversal_are_told_with_their_reasons(
    stack: harness.Stack, crew: dict[str, Principal], empty_queue: None
) -> None:
    unit, rival = Unit(), Unit()
    listen(unit)
    with session_factory()() as session:
        rejected = claim(session, unit.id)
        decide(session, crew["reviewer"], rejected.id, "reject")  # reason: not_visible
    told = result(stack, unit, rejected.id)
    assert (told["kind"], told["reason_code"]) == ("rejected", "not_visible")
    assert told["message"] == "Rejected: Target not visible."
    with i18n.using("uk"):
        reason_uk = i18n.gettext("Target not visible")
    assert reason_uk != "Target not visible"
    assert reason_uk in result(stack, unit, rejected.id, "uk")["message"]

    with session_factory()() as session:
        as_unit = Principal(kind="unit", id=unit.id, unit_id=unit.id)
        appeal = appeals.file(session, unit=as_unit, submission_id=rejected.id,
                              reason="The hull burns at 0:12.", now=datetime.now(UTC))  # fmt: skip
        session.commit()
        appeal_flows.deny(session, senior=crew["senior"], appeal_id=appeal.id,
                          reason="Smoke only.", now=datetime.now(UTC))  # fmt: skip
        session.commit()
    told = result(stack, unit, rejected.id)
    assert told["appeal"] == "denied" and "Your appeal was denied." in told["message"]
    (decided,) = heard(unit, "appeal.decided")
    assert decided["outcome"] == "denied" and decided["submission_id"] == rejected.id

    # Paid, then another unit's claim on the same target: the senior takes the award back.
    with session_factory()() as session:
        paid = claim(session, unit.id)
        decide(session, crew["reviewer"], paid.id, "approve")
        theirs = claim(session, rival.id, copies=[paid.id])
        decide(session, crew["reviewer"], theirs.id, "approve")
        settlement.settle(session, senior=crew["senior"],
                          dispute_id=dispute_of(session, theirs.id).dispute.id,
                          shares={theirs.id: 40}, reverse=[paid.id], note=NOTE,
                          now=datetime.now(UTC))  # fmt: skip
        session.commit()
    told = result(stack, unit, paid.id)
    assert told["points"] == 0
    (reversal,) = told["reversals"]
    assert (reversal["points"], reversal["cause"], reversal["reason"]) == (-40, "dispute", NOTE)
    assert f"40 points taken back: {NOTE}" in told["message"]
    (reversed_,) = heard(unit, "ledger.reversed")
    assert (reversed_["points"], reversed_["cause"], reversed_["reason"]) == (-40, "dispute", NOTE)
    assert len(heard(unit, "ledger.reversal")) == 1  # the ledger's own event is still sent
    settled = heard(unit, "dispute.settled")
    assert [(s["submission_id"], s["share"], s["reversed"]) for s in settled] == [
        (paid.id, None, True)]  # fmt: skip
    assert theirs.id not in str(settled) and rival.id not in str(settled)


def test_inside_a_dispute_a_first_approval_and_an_upheld_appeal_say_what_they_are(
    stack: harness.Stack, crew: dict[str, Principal], empty_queue: None
) -> None:
    """The issue's cases: a four-eyes claim that is also disputed, and an appeal upheld inside
    a dispute, both used to read "no points yet: a senior will split the credit"."""
    theirs_unit, unit = Unit(), Unit()
    with session_factory()() as session:
        theirs = claim(session, theirs_unit.id, "mlrs")
        mine = claim(session, unit.id, "mlrs", copies=[theirs.id])
        decide(session, crew["reviewer"], mine.id, "approve")  # 50 points: one of two
    told = result(stack, unit, mine.id)
    assert (told["kind"], told["dispute"]["status"]) == ("awaiting_second", "open")
    assert "needs a second approval" in told["message"]

    with session_factory()() as session:
        theirs = claim(session, theirs_unit.id, lat=47.2, lon=36.1)
        mine = claim(session, unit.id, copies=[theirs.id])
        decide(session, crew["reviewer"], mine.id, "reject")
        as_unit = Principal(kind="unit", id=unit.id, unit_id=unit.id)
        appeal = appeals.file(session, unit=as_unit, submission_id=mine.id,
                              reason="The hull burns at 0:12.", now=datetime.now(UTC))  # fmt: skip
        session.commit()
        appeal_flows.uphold(session, senior=crew["senior"], appeal_id=appeal.id,
                            reason="The hull is in frame.", target_type=None, outcome=None,
                            now=datetime.now(UTC))  # fmt: skip
        session.commit()
    told = result(stack, unit, mine.id)
    assert (told["kind"], told["appeal"]) == ("held_in_dispute", "upheld"), told
    assert "Your appeal was upheld." in told["message"]
    assert "wait until a senior reviewer shares the credit" in told["message"]


def test_each_outcome_webhook_tells_the_outcome_in_the_units_language(
    stack: harness.Stack, crew: dict[str, Principal], empty_queue: None
) -> None:
    """`result.message` in every claim-outcome webhook: the same sentences as the claim's JSON,
    from the gettext catalogues, in the language the unit's members chose (uk or en), the
    configured default for a unit whose members chose none."""
    speakers = {"uk": Unit(), "en": Unit(), None: Unit()}
    emails = {language: make_login(Role.unit, unit_id=unit.id)[0]
              for language, unit in speakers.items()}  # fmt: skip
    with session_factory()() as session:
        for language, email in emails.items():
            person = session.scalars(select(StaffUser).where(StaffUser.email == email)).one()
            person.language = language
        session.commit()
    rejected: dict[str | None, str] = {}
    for language, unit in speakers.items():
        listen(unit)
        with session_factory()() as session:
            rejected[language] = claim(session, unit.id).id
            decide(session, crew["reviewer"], rejected[language], "reject")  # not_visible

    def expected(language: str) -> str:
        with i18n.using(language):
            return i18n.gettext("Rejected: %(reason)s.", reason=i18n.gettext("Target not visible"))

    assert expected("uk") != expected("en") == "Rejected: Target not visible."
    for language, unit in speakers.items():
        (made,) = heard(unit, "decision.made")
        told = made["result"]
        assert (told["kind"], told["reason_code"]) == ("rejected", "not_visible")
        words = language or i18n.default_language()
        assert told["message"] == expected(words), (language, told["message"])
        # The same words as the claim's JSON read in that language.
        assert told["message"] == result(stack, unit, rejected[language], words)["message"]

    # Every outcome event carries it: an appeal decided, in Ukrainian here.
    unit = speakers["uk"]
    with session_factory()() as session:
        as_unit = Principal(kind="unit", id=unit.id, unit_id=unit.id)
        appeal = appeals.file(session, unit=as_unit, submission_id=rejected["uk"],
                              reason="The hull burns at 0:12.", now=datetime.now(UTC))  # fmt: skip
        session.commit()
        appeal_flows.deny(session, senior=crew["senior"], appeal_id=appeal.id,
                          reason="Smoke only.", now=datetime.now(UTC))  # fmt: skip
        session.commit()
    (decided,) = heard(unit, "appeal.decided")
    with i18n.using("uk"):
        denied = i18n.gettext("Your appeal was denied.")
    assert denied != "Your appeal was denied." and denied in decided["result"]["message"]
