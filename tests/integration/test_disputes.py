"""Contested claims on both databases: one dispute per target, never more paid than the target
is worth (payments already made count inside it), a worth a unit's stated time cannot move,
disputes that settle themselves when the contest ends, "already credited" flags, and match
evidence that shows where the other claim stands now."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from mvq import claims
from mvq.audit.models import AuditEvent
from mvq.auth import policy
from mvq.auth.models import Role
from mvq.auth.principal import Principal
from mvq.db import session_factory
from mvq.errors import Invalid
from mvq.review.models import ReviewItem
from mvq.rules import service as rules
from mvq.scoring.disputes import reading, settlement
from mvq.scoring.models import EntryType, LedgerEntry
from mvq.settings import get_settings
from mvq.submissions.models import Flag
from testkit.people import Accounts, make_unit
from tests.contested import HIT, claim, decide, dispute_of, paid
from tests.helpers import reviewer

# A points table of its own, far from other modules' versions: tank 60 from mid-2032 on.
RAISE = datetime(2032, 6, 1, tzinfo=UTC)


def settle(session: Session, contest: reading.Contest, **kwargs: Any) -> list[LedgerEntry]:
    try:
        awarded = settlement.settle(session, senior=CREW[2],
                                  dispute_id=contest.dispute.id, now=datetime.now(UTC),
                                  **{"note": None, **kwargs})  # fmt: skip
    except Exception:
        session.rollback()
        raise
    session.commit()
    return awarded


@pytest.fixture
def units(accounts: Accounts) -> list[str]:
    with session_factory()() as session:
        return [make_unit(session)[0] for _ in range(6)]


# Made once, before a test's session holds SQLite's write lock: two reviewers (four eyes) and
# a senior.
CREW: list[Principal] = []


@pytest.fixture
def crew(accounts: Accounts) -> list[Principal]:
    if not CREW or not _exists(CREW[0]):
        CREW[:] = [reviewer(), reviewer(), reviewer(Role.senior)]
    return CREW


def _exists(who: Principal) -> bool:
    from mvq.auth.models import StaffUser

    with session_factory()() as session:
        return session.get(StaffUser, who.id) is not None


def test_a_paid_claim_pulled_into_a_dispute_keeps_its_award_and_the_rest_share_what_is_left(
    units: list[str], crew: list[Principal], empty_queue: None
) -> None:
    with session_factory()() as session:
        first = claim(session, units[0], lat=48.5, lon=35.0)
        decide(session, crew[0], first.id, "approve")
        assert paid(session, first.id) == 40  # alone: paid in full
        copy = claim(session, units[1], copies=[first.id])  # another unit's re-encode
        contest = dispute_of(session, copy.id)
        assert {c.submission.id for c in contest.members} == {first.id, copy.id}
        decide(session, crew[0], copy.id, "approve")
        assert paid(session, copy.id) == 0  # held
        with pytest.raises(Invalid) as refused:
            settle(session, contest, shares={copy.id: 40})
        assert refused.value.code == "over_worth"
        assert "40 + 40 = 80 > 40" in refused.value.message
        with pytest.raises(Invalid) as refused:
            settle(session, contest, shares={first.id: 10})  # paid already
        assert refused.value.code == "bad_shares"
        assert paid(session, first.id, copy.id) == 40  # nothing changed
        contest = dispute_of(session, copy.id)
        assert (contest.worth.points, contest.paid, contest.left) == (40, 40, 0)
        assert [c.payable for c in contest.members] == [False, True]
        settle(session, contest, shares={copy.id: 0}, note="the first unit's hit")
        assert paid(session, first.id) == 40 and paid(session, copy.id) == 0


def test_a_senior_may_reverse_a_payment_with_a_reason_and_give_the_target_to_another(
    units: list[str], crew: list[Principal], empty_queue: None
) -> None:
    with session_factory()() as session:
        first = claim(session, units[0])
        decide(session, crew[0], first.id, "approve")
        copy = claim(session, units[1], copies=[first.id])
        decide(session, crew[0], copy.id, "approve")
        contest = dispute_of(session, copy.id)
        with pytest.raises(Invalid) as refused:
            settle(session, contest, shares={copy.id: 40}, reverse=[first.id])
        assert refused.value.code == "reason_required"
        settle(session, contest, shares={copy.id: 40}, reverse=[first.id],
               note="footage taken by the second unit's drone")  # fmt: skip
        assert paid(session, first.id) == 0 and paid(session, copy.id) == 40
        reversal = session.scalar(
            select(LedgerEntry).where(
                LedgerEntry.submission_id == first.id,
                LedgerEntry.entry_type == EntryType.reversal,
            )
        )
        assert reversal is not None and reversal.note == "footage taken by the second unit's drone"
        assert reversal.dispute_id == contest.dispute.id


def test_a_copier_stating_an_earlier_time_does_not_move_the_worth(
    units: list[str], crew: list[Principal], empty_queue: None
) -> None:
    with session_factory()() as session:
        if rules.version_in_force(session, at=RAISE).effective_from != RAISE:  # type: ignore[union-attr]
            rows = [rules.RuleRow(t, o, 60 if t == "tank" and o == "destroyed" else p)
                    for t, o, p in rules.DEMO_RULES]  # fmt: skip
            rules.create_version(session, effective_from=RAISE, editor=policy.OPERATOR,
                                 now=RAISE - timedelta(days=1), rows=rows)  # fmt: skip
            session.commit()
        original = claim(session, units[0], at=RAISE + timedelta(days=9))
        # The copy says the hit was a month earlier, under the old table (tank 40).
        copy = claim(session, units[1], at=RAISE - timedelta(days=30), copies=[original.id])
        contest = dispute_of(session, copy.id)
        assert contest.worth.points == 60
        assert contest.worth.value_at == original.occurred_at and not contest.worth.from_capture
        decide(session, crew[0], copy.id, "approve")
        assert paid(session, copy.id) == 0  # held: the target is contested
        with pytest.raises(Invalid):
            settle(session, dispute_of(session, copy.id), shares={copy.id: 40, original.id: 21})
        # A capture time in the files is evidence, and beats both stated times.
        late = claim(session, units[2], at=RAISE - timedelta(days=60),
                     captured_at=RAISE - timedelta(days=2), copies=[original.id])  # fmt: skip
        contest = dispute_of(session, late.id)
        assert contest.worth.from_capture and contest.worth.points == 40
        assert contest.worth.value_at == RAISE - timedelta(days=2)
        # So is a drone's telemetry: its first fix, earlier still, sets the time.
        flown = claim(session, units[3], at=RAISE + timedelta(days=20),
                      telemetry_at=RAISE - timedelta(days=5), copies=[original.id])  # fmt: skip
        assert dispute_of(session, flown.id).worth.value_at == RAISE - timedelta(days=5)


def test_claims_of_incompatible_types_never_share_a_dispute(
    units: list[str], crew: list[Principal], empty_queue: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = get_settings()
    monkeypatch.setattr(settings, "target_compatibility",
                        [["tank", "armoured_vehicle"], ["apc", "armoured_vehicle"]])  # fmt: skip
    with session_factory()() as session:
        tank_a = claim(session, units[0], "tank")
        tank_b = claim(session, units[1], "tank", copies=[tank_a.id])
        apc_c = claim(session, units[2], "apc", copies=[tank_a.id, tank_b.id])
        apc_d = claim(session, units[3], "apc", copies=[apc_c.id, tank_a.id])
        tanks, apcs = dispute_of(session, tank_a.id), dispute_of(session, apc_c.id)
        assert tanks.dispute.id != apcs.dispute.id
        assert {c.submission.id for c in tanks.members} == {tank_a.id, tank_b.id}
        assert {c.submission.id for c in apcs.members} == {apc_c.id, apc_d.id}
        # An armoured vehicle may be the tank: it joins; an apc matching only that armoured
        # vehicle may not join the tank's dispute through it (compatibility is not transitive).
        armoured = claim(session, units[4], "armoured_vehicle", copies=[tank_a.id])
        assert dispute_of(session, armoured.id).dispute.id == tanks.dispute.id
        apc_f = claim(session, units[5], "apc", copies=[armoured.id])
        assert reading.member_of(session, submission_id=apc_f.id) is None
        assert {c.submission.id for c in dispute_of(session, tank_a.id).members} == {
            tank_a.id, tank_b.id, armoured.id}  # fmt: skip

    monkeypatch.setattr(settings, "target_compatibility", [["tank", "apc"]])
    with session_factory()() as session:
        units2 = [make_unit(session)[0] for _ in range(3)]
        tank = claim(session, units2[0], "tank")
        apc = claim(session, units2[1], "apc", copies=[tank.id])
        assert dispute_of(session, apc.id).dispute.id == dispute_of(session, tank.id).dispute.id


def test_rejecting_the_only_competitor_releases_the_held_award(
    units: list[str], crew: list[Principal], empty_queue: None
) -> None:
    with session_factory()() as session:
        a = claim(session, units[0], lat=46.1, lon=33.3)
        b = claim(session, units[1], at=HIT + timedelta(minutes=4), lat=46.101, lon=33.3)
        contest = dispute_of(session, b.id)
        assert {c.submission.id for c in contest.members} == {a.id, b.id}
        decide(session, crew[0], a.id, "approve")
        assert paid(session, a.id) == 0  # held while b is contested
        decide(session, crew[0], b.id, "reject")
        assert paid(session, a.id) == 40
        dispute = dispute_of(session, a.id).dispute
        assert dispute.status == "settled" and dispute.settled_by is None
        event = session.scalar(
            select(AuditEvent)
            .where(AuditEvent.object_id == dispute.id, AuditEvent.action == "dispute.settled")
            .order_by(AuditEvent.seq.desc())
        )
        assert event is not None and event.actor == "system:disputes"
        assert event.data["automatic"] is True and event.data["rejected"] == [b.id]

        # The other order: the competitor rejected first, then the approval pays at once.
        c = claim(session, units[2], lat=47.0, lon=36.0)
        d = claim(session, units[3], lat=47.0, lon=36.001)
        assert dispute_of(session, d.id).dispute.id == dispute_of(session, c.id).dispute.id
        decide(session, crew[0], c.id, "reject")
        decide(session, crew[0], d.id, "approve")
        assert paid(session, d.id) == 40 and paid(session, c.id) == 0


def test_a_claim_on_a_credited_target_is_flagged_with_the_earlier_claim(
    units: list[str], crew: list[Principal], empty_queue: None
) -> None:
    with session_factory()() as session:
        first = claim(session, units[0], lat=48.2, lon=37.1)
        decide(session, crew[0], first.id, "approve")
        near = claim(session, units[1], at=HIT + timedelta(minutes=6), lat=48.2027, lon=37.1)
        copy = claim(session, units[2], at=HIT - timedelta(days=3), copies=[first.id])
        far = claim(session, units[3], lat=49.0, lon=37.1)
        for flagged, signal in ((near, "same_place_time"), (copy, "same_footage")):
            flag = session.scalar(
                select(Flag).where(Flag.submission_id == flagged.id,
                                   Flag.kind == "already_credited")
            )  # fmt: skip
            assert flag is not None, signal
            (credited,) = flag.evidence["claims"]
            assert credited["submission_id"] == first.id and credited["unit_id"] == units[0]
            assert [s["kind"] for s in credited["signals"]] == [signal]
        assert not session.scalar(select(Flag).where(Flag.submission_id == far.id))
        signals = session.scalar(
            select(Flag.evidence).where(Flag.submission_id == near.id)
        )["claims"][0]["signals"]  # fmt: skip
        assert signals == [{"kind": "same_place_time", "distance_m": 300, "minutes": 6}]
        # The staff see where the earlier claim stands; the unit sees only that it is flagged.
        staff = claims.detail(session, near, for_unit=False, viewer=crew[0])
        (shown,) = [f for f in staff.flags if f.kind == "already_credited"]
        assert shown.evidence["claims"][0]["submission_status"] == "approved"
        assert shown.evidence["claims"][0]["decision"] == "approve"
        its_unit = Principal(kind="unit", id=near.unit_id, unit_id=near.unit_id)
        unit = claims.detail(session, near, for_unit=True, viewer=its_unit)
        assert [f.evidence for f in unit.flags if f.kind == "already_credited"] == [{}]
        # The reviewer is given it first.
        item = session.scalar(select(ReviewItem).where(ReviewItem.submission_id == near.id))
        assert item is not None and item.flagged


def test_match_evidence_shows_the_other_claim_as_it_stands_now(
    units: list[str], crew: list[Principal], empty_queue: None
) -> None:
    with session_factory()() as session:
        first = claim(session, units[0])
        copy = claim(session, units[1], copies=[first.id])
        before = claims.detail(session, copy, for_unit=False, viewer=crew[0])
        (match,) = next(f for f in before.flags if f.kind == "near_duplicate").evidence["matches"]
        assert match["submission_status"] == "in_queue" and match["decision"] is None
        decide(session, crew[0], first.id, "approve")
        after = claims.detail(session, copy, for_unit=False, viewer=crew[0])
        (match,) = next(f for f in after.flags if f.kind == "near_duplicate").evidence["matches"]
        assert match["submission_status"] == "approved" and match["decision"] == "approve"
        listed = claims.matches(session, submission=copy, viewer=crew[0]).matches
        assert [m.submission_status for m in listed] == ["approved"]
