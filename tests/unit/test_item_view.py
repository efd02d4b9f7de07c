"""The item page's view model without a database: matches merged into one row per claim,
capture times that can't be true, and positions in MGRS with their distance from the claim."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mvq.media.models import Media
from mvq.review.inspection import (
    EARLIEST_CAPTURE,
    group_matches,
    mgrs_of,
    positions,
    usable_capture,
    visible_decisions,
)
from mvq.review.models import Decision, ItemState, ReviewItem


def match(sid: str, unit: str, **extra: Any) -> dict[str, Any]:
    return {"media_id": f"m-{sid}", "submission_id": sid, "unit_id": unit} | extra


def near(sid: str, unit: str, share: float, distance: int, **extra: Any) -> dict[str, Any]:
    pairs = [
        {"this_t": 2.0, "other_t": 5.0, "distance": distance, "signal": "pdq"},
        {"this_t": 3.0, "other_t": 6.5, "distance": distance + 5, "signal": "mirror"},
    ]
    return match(sid, unit, share_this=share, share_other=share / 2, min_distance=distance,
                 signals=["mirror", "pdq"], frame_pairs=pairs, **extra)  # fmt: skip


def test_a_claim_under_near_and_cross_unit_duplicate_is_one_row() -> None:
    theirs = near("b", "u2", 0.8, 7, submission_status="in_queue")
    rows = group_matches([
        ("near_duplicate", "this", {"matches": [theirs, near("c", "u1", 0.9, 3)]}),
        ("cross_unit_duplicate", "this", {"matches": [theirs]}),
    ])  # fmt: skip
    assert [r.submission_id for r in rows] == ["b", "c"]  # another unit's claim first
    row = rows[0]
    assert row.kinds == ["near_duplicate", "cross_unit_duplicate"] and row.other_unit
    assert (row.share_this, row.min_distance, row.signals) == (0.8, 7, ["mirror", "pdq"])
    assert not rows[1].other_unit


def test_a_paid_claim_comes_before_everything_else() -> None:
    rows = group_matches([
        ("near_duplicate", "this", {"matches": [
            near("waiting", "u2", 1.0, 0, submission_status="in_queue"),
            near("paid", "u1", 0.4, 20, submission_status="approved"),
        ]}),
        ("cross_unit_duplicate", "this", {"matches": [near("waiting", "u2", 1.0, 0)]}),
    ])  # fmt: skip
    assert [r.submission_id for r in rows] == ["paid", "waiting"]


def test_an_exact_copy_merges_with_its_near_match_and_keeps_the_frame_evidence() -> None:
    rows = group_matches([
        ("exact_duplicate", "this", {"matches": [match("b", "u2")]}),
        ("near_duplicate", "this", {"matches": [near("b", "u2", 1.0, 0)]}),
        ("cross_unit_duplicate", "this", {"matches": [match("b", "u2"), near("b", "u2", 1.0, 0)]}),
    ])  # fmt: skip
    (row,) = rows
    assert row.exact and row.other_unit and row.min_distance == 0
    assert row.pairs_total == 2 and row.share == 1.0


def test_an_exact_copy_alone_reads_as_distance_zero() -> None:
    (row,) = group_matches([("exact_duplicate", "this", {"matches": [match("b", "u1")]})])
    assert row.exact and row.min_distance == 0 and row.frame_pairs == []
    assert row.offset_seconds == 0.0


def test_the_strongest_evidence_of_a_claim_is_kept() -> None:
    rows = group_matches([
        ("near_duplicate", "one", {"matches": [near("b", "u1", 0.3, 12)]}),
        ("near_duplicate", "two", {"matches": [near("b", "u1", 0.9, 4)]}),
    ])  # fmt: skip
    (row,) = rows
    assert (row.share_this, row.min_distance, row.this_media_id) == (0.9, 4, "two")


def test_side_by_side_lines_up_the_closest_pair() -> None:
    (row,) = group_matches([("near_duplicate", "this", {"matches": [near("b", "u1", 1.0, 2)]})])
    assert row.offset_seconds == pytest.approx(3.0)  # the closest pair: 2.0 s here, 5.0 s there


def test_other_flags_make_no_rows() -> None:
    assert group_matches([("reencoded", "this", {"signals": ["x"]})]) == []


UPLOAD = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
CLAIM = UPLOAD - timedelta(hours=3)


@pytest.mark.parametrize(
    "raw",
    [datetime(1970, 1, 1, tzinfo=UTC), datetime(1904, 1, 1, tzinfo=UTC),
     EARLIEST_CAPTURE - timedelta(seconds=1), UPLOAD + timedelta(minutes=1)],
    ids=["1970", "1904", "just before 2000", "after the upload"],
)  # fmt: skip
def test_a_capture_time_that_cannot_be_true_is_no_capture_time(raw: datetime) -> None:
    found = usable_capture(raw, uploaded_at=UPLOAD, occurred_at=CLAIM)
    assert not found.usable and found.minutes_from_claim is None and found.raw == raw


def test_a_plausible_capture_time_is_measured_from_the_claim() -> None:
    found = usable_capture(CLAIM - timedelta(minutes=95), uploaded_at=UPLOAD, occurred_at=CLAIM)
    assert found.usable and found.minutes_from_claim == -95
    naive = usable_capture(datetime(2026, 11, 27, 10, 0), uploaded_at=UPLOAD, occurred_at=CLAIM)
    assert naive.usable and naive.minutes_from_claim == 60  # stored without a zone: UTC


def test_no_capture_time_at_all() -> None:
    found = usable_capture(None, uploaded_at=UPLOAD, occurred_at=CLAIM)
    assert not found.usable and found.raw is None


@pytest.mark.parametrize(
    ("lat", "lon", "grid"),
    [(48.5, 35.1, "36U XU 55126 74005"), (-33.9, 18.4, "34H BH 59583 45888"),
     (50.45, 30.5236, "36U UA 24196 91596")],
)  # fmt: skip
# Eastings and northings checked against a separate UTM (Krüger series) computation.
def test_mgrs_reads_as_on_a_map_sheet(lat: float, lon: float, grid: str) -> None:
    assert mgrs_of(lat, lon) == grid


def test_no_mgrs_near_the_poles() -> None:
    assert mgrs_of(85.0, 10.0) is None and mgrs_of(-81.0, 10.0) is None


def test_file_and_telemetry_positions_with_their_distance_from_the_claim() -> None:
    media = Media(gps_lat=48.62, gps_lon=35.1,
                  probe={"telemetry": {"first_position": [48.5, 35.25]}})  # fmt: skip
    found = positions((48.5, 35.1), media)
    assert [p.source for p in found] == ["file", "telemetry"]
    assert found[0].km_from_claim == pytest.approx(13.34, abs=0.01)
    assert found[1].km_from_claim == pytest.approx(11.05, abs=0.01)
    assert found[0].mgrs == "36U XU 54760 87342"
    assert positions(None, media)[0].km_from_claim is None
    assert positions((48.5, 35.1), Media(probe={})) == []


def history() -> list[tuple[Decision, str]]:
    first = Decision(reviewer_id="first", decision="approve", comment="burning launcher")
    escalation = Decision(reviewer_id="other", decision="escalate", comment="for a senior")
    return [(first, "first@x"), (escalation, "other@x")]


def test_the_second_look_does_not_see_the_first_verdict() -> None:
    waiting = ReviewItem(state=ItemState.pending, first_reviewer_id="first")
    shown, blind = visible_decisions(history(), item=waiting, viewer_id="second")
    assert blind and [who for _, who in shown] == ["other@x"]  # the escalation note stays


def test_the_first_reviewer_and_everyone_after_the_decision_see_it_all() -> None:
    waiting = ReviewItem(state=ItemState.pending, first_reviewer_id="first")
    shown, blind = visible_decisions(history(), item=waiting, viewer_id="first")
    assert not blind and [who for _, who in shown] == ["first@x", "other@x"]
    decided = ReviewItem(state=ItemState.decided, first_reviewer_id="first")
    assert visible_decisions(history(), item=decided, viewer_id="second")[1] is False
    plain = ReviewItem(state=ItemState.pending, first_reviewer_id=None)
    assert len(visible_decisions(history(), item=plain, viewer_id="second")[0]) == 2
