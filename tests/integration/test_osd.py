"""The time and place a drone burns into its picture, through the real queue: a display whose
clock contradicts the claim raises osd_mismatch with the frame it was read from, shown on the
review item page; one that agrees raises nothing and gives the claim its capture time."""

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from mvq import storage
from mvq.auth.models import Role
from mvq.db import session_factory
from mvq.review.models import ReviewItem
from testkit import footage, harness, osd
from testkit.claims import upload_claim, wait_for_status
from testkit.people import Accounts, make_login, web_login

CLAIMED = (datetime.now(UTC) - timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
WHERE = (48.51234, 35.01234)


@pytest.fixture(scope="module")
def burned(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("osd")
    flight = footage.drone_clip("rocket", d / "flight.mp4", seconds=4, size="1280x720")
    (d / "agrees").mkdir()
    (d / "contradicts").mkdir()
    # The agreeing display shows Kyiv's time, as a drone set by a phone in Ukraine would.
    agrees = osd.Overlay(start=CLAIMED + timedelta(hours=2), lat=WHERE[0], lon=WHERE[1])
    contradicts = osd.Overlay(start=CLAIMED - timedelta(days=3), lat=WHERE[0], lon=WHERE[1],
                              corner="bottom-left", font="sans-bold", style="boxed")  # fmt: skip
    return {
        "agrees": osd.burn(flight, d / "agrees" / "agrees.mp4", agrees),
        "contradicts": osd.burn(flight, d / "contradicts" / "contradicts.mp4", contradicts),
    }


def claim(stack: harness.Stack, accounts: Accounts, path: Path) -> dict:  # type: ignore[type-arg]
    submission_id = upload_claim(stack, accounts.unit_token, path, occurred_at=CLAIMED.isoformat(),
                                 lat=WHERE[0], lon=WHERE[1])  # fmt: skip
    return wait_for_status(stack, accounts.unit_token, submission_id, "in_queue", "failed")


def test_a_display_that_contradicts_the_claimed_time_is_flagged_with_its_frame(
    stack: harness.Stack, accounts: Accounts, burned: dict[str, Path]
) -> None:
    body = claim(stack, accounts, burned["contradicts"])
    assert body["status"] == "in_queue", body
    flags = {f["kind"]: f["evidence"] for f in body["flags"]}
    evidence = flags["osd_mismatch"]
    assert evidence["disagrees"] == ["time"]  # the place it shows is the claimed one
    assert evidence["osd_time"].startswith((CLAIMED - timedelta(days=3)).strftime("%Y-%m-%d"))
    assert evidence["difference_minutes"] > 3 * 24 * 60 - 4 * 60
    media = body["media"][0]
    # The evidence names a still the worker stored: the reviewer sees the very frame.
    assert evidence["frame_key"] == storage.frame_key(media["id"], evidence["frame_index"])
    frame = httpx.get(storage.presign_get(evidence["frame_key"]))
    assert frame.status_code == 200 and frame.content[:3] == b"\xff\xd8\xff"
    # The file has no time of its own: the display's stands in, named as its source.
    assert "no_capture_time" not in flags and "capture_time_mismatch" not in flags
    assert media["metadata"]["osd"]["source"] == "osd"

    with session_factory()() as session:
        item_id = session.scalar(
            select(ReviewItem.id).where(ReviewItem.submission_id == body["id"])
        )
    reviewer = web_login(stack, *make_login(Role.reviewer))
    page = reviewer.client.get(f"/review/{item_id}?lang=uk", headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert 'data-flag="osd_mismatch"' in page.text
    assert "Зображення свідчить інше." in page.text
    shown = re.search(r'<details class="osd-frame">(.*?)</details>', page.text, re.S)
    assert shown and f"frames/{evidence['frame_index']:05d}.jpg" in shown.group(1)


def test_a_display_that_agrees_raises_nothing_and_gives_the_capture_time(
    stack: harness.Stack, accounts: Accounts, burned: dict[str, Path]
) -> None:
    body = claim(stack, accounts, burned["agrees"])
    assert body["status"] == "in_queue", body
    kinds = {f["kind"] for f in body["flags"]}
    assert not kinds & {"osd_mismatch", "no_capture_time", "capture_time_mismatch"}, body["flags"]
    shown = body["media"][0]["metadata"]["osd"]
    assert (shown["lat"], shown["lon"]) == WHERE
    # Read in the first assumed zone (UTC+2), the display's clock is the claimed moment.
    assert shown["start"] == CLAIMED.isoformat()
