"""The robustness suite as a test, small: three sources of the benchmark's corpus (a photo flown
over, a rendered terrain flight, a fractal zoom), each copied through every transform with
seeded random parameters (cuts at any moment, speeds, turns, mirrors, vertical crops,
re-encodes, captions, crops, padding, screens, picture-in-picture...), and four look-alikes
(sky, night, thermal-style grey, terrain). Every clip's stills are stored as a worker stores
them and indexed by the product's own `index_frames`; with the rule mvq is configured with,
every transform with a goal is found in both upload orders and nothing unrelated is. The full
measurement, tuned on one half of 34 sources and reported on the other, is
`python -m bench.robustness` (docs/BENCHMARKS.md).

Then footage with a drone's on-screen display burned in, copied by another unit through the real
queue (`python -m bench.robustness_osd` measures the same over every transform)."""

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from mvq.db import session_factory, utcnow
from mvq.matching import service as matching
from mvq.matching.catalogue import IndexRow
from mvq.matching.models import IndexedFrame
from mvq.matching.service import ClipRule
from mvq.media import service as media_service
from mvq.media.ingest.pipeline import Analysis
from mvq.media.models import Media, MediaStatus
from mvq.settings import get_settings
from mvq.submissions.models import Submission
from testkit import corpus, footage, harness, osd
from testkit.claims import upload_claim, wait_for_status
from testkit.people import Accounts, make_unit
from testkit.robustness import TARGETS, Analysed, evaluate, recall_and_false_positives


def indexed_by_the_product(unit_id: str) -> Callable[[Analysed], list[IndexRow]]:
    """A clip's rows as the product's index holds them: its stills stored by the worker's
    `mark_processed`, indexed by `matching.index_frames`, read back from the table."""

    def rows_of(analysed: Analysed) -> list[IndexRow]:
        with session_factory()() as session:
            claim = Submission(unit_id=unit_id, status="processing", target_type="tank",
                               outcome="destroyed", occurred_at=datetime.now(UTC))  # fmt: skip
            session.add(claim)
            session.flush()
            media = Media(submission_id=claim.id, status=MediaStatus.processing,
                          filename="c.mp4", content_type="video/mp4", declared_size=1,
                          declared_sha256="0" * 64, s3_key=f"originals/{uuid.uuid4()}")  # fmt: skip
            session.add(media)
            session.flush()
            analysis = Analysis(sha256="0" * 64, size=1, facts={}, stills=analysed.frames,
                                probes=[], keyframes=analysed.keyframes,
                                contact_sheet=None)  # fmt: skip
            derived = media_service.Derived(analysis, thumbnail_key=None, contact_sheet_key=None)
            assert media_service.mark_processed(session, media=media, derived=derived,
                                                now=utcnow())  # fmt: skip
            matching.index_frames(session, media_id=media.id)
            session.commit()
            stored = session.scalars(select(IndexedFrame).where(IndexedFrame.media_id == media.id)
                                     .order_by(IndexedFrame.t_seconds))  # fmt: skip
            return [IndexRow(analysed.name, r.t_seconds, r.pdq, r.pdq_center, r.pdq_upper,
                             r.pdq_9x16, r.pdq_4x5, r.t_until) for r in stored]  # fmt: skip

    return rows_of


# Every transform of issue 15, and of issue 29 a mirrored crop (10-25 %, anywhere) and the screen
# re-film: the rest of issue 29's run in tests/integration/test_geometry_copies.py and in the
# benchmark, so that this test's corpus stays a few minutes of CPU.
TRANSFORMS = [t for t in corpus.TRANSFORMS if t not in corpus.CROPS and t != "screen re-film"]
TRANSFORMS += ["crop + mirror", "screen re-film"]


# Building the corpus (about 60 clips through ffmpeg) is minutes of CPU; the guard is sized to
# the work when other test sessions share the cores, not to hide a hang.
@pytest.mark.timeout(1500)
def test_copies_are_found_in_both_orders_and_nothing_else_is(
    tmp_path: Path, postgres_database: str
) -> None:
    with session_factory()() as session:
        unit_id = make_unit(session)[0]
    rows_of = indexed_by_the_product(unit_id)
    evaluation = evaluate(
        15,
        sources={"photo-astronaut", "terrain-03", "mandelbrot-05"},
        lookalikes={"sky-01", "night-04", "thermal-02", "lookalike-terrain-00"},
        cache=tmp_path,
        rows_of=rows_of,
        transforms=TRANSFORMS,
    )
    # The benchmark builds the same rows itself (34 sources, no database): they must be these.
    for analysed in evaluation.analysed.values():
        assert rows_of(analysed) == analysed.rows, analysed.name
    settings = get_settings()
    rule = ClipRule(settings.match_min_share, settings.match_min_frames)
    recall, false_positives = recall_and_false_positives(evaluation.forward, rule)
    reverse, reverse_false_positives = recall_and_false_positives(evaluation.reverse, rule)
    assert (false_positives, reverse_false_positives) == (0, 0)
    for transform in TRANSFORMS:
        goal = TARGETS[transform]
        if goal is None:
            continue
        assert reverse[transform] >= goal, (transform, "copy first", reverse[transform])
        if transform != "screenshot still":
            assert recall[transform] >= goal, (transform, "copy second", recall[transform])
    # The one known gap, measured in the benchmark (0.41 on its reported half): a still
    # grabbed between two indexed seconds of moving footage meets no indexed frame, as the
    # index holds one still a second. The original still finds a still uploaded before it.


# Footage with a drone's display burned in, copied by another unit, through the real queue and
# workers: the copy is caught, and its display (metadata gone, overlay kept) is read as on the
# original: it stands in as the capture time and place, and osd_mismatch follows the copy's
# own claim. Small and short, so the module stays within a few minutes on both databases.
CLAIMED = (datetime.now(UTC) - timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
WHERE = (48.51234, 35.01234)
DUPLICATES = {"near_duplicate", "cross_unit_duplicate"}


@pytest.fixture(scope="module")
def displayed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("displayed")
    flight = footage.drone_clip("astronaut", d / "flight.mp4", seconds=4, size="960x540")
    # Kyiv's clock, as a drone set by a phone in Ukraine shows it; large text, top left.
    overlay = osd.Overlay(start=CLAIMED + timedelta(hours=2), lat=WHERE[0], lon=WHERE[1],
                          size=0.05)  # fmt: skip
    original = osd.burn(flight, d / "original.mp4", overlay)
    caption = (f"drawtext=fontfile={corpus.FONT}:text='Footage from today':fontsize=40"
               ":fontcolor=white:box=1:boxcolor=black@0.55:boxborderw=14:x=(w-text_w)/2"
               ":y=h-text_h-h*0.08")  # fmt: skip
    return {
        "original": original,
        # the suite's "crf 35, 360p" and "cut" + "text overlay": a messenger's copies
        "360p": footage.reused(original, d / "360p.mp4", vf="scale=-2:360,fps=25"),
        "cut, captioned": footage.reused(original, d / "cut.mp4", start=0.77, vf=caption),
        # the suite's crops: 15 % off the top and left takes the display's corner with it
        "cropped": footage.reused(original, d / "crop.mp4",
                                  vf="crop=iw*0.85:ih*0.85:iw*0.15:ih*0.15,scale=640:360"),
    }  # fmt: skip


def settled(stack: harness.Stack, token: str, path: Path, when: datetime,
            where: tuple[float, float]) -> dict[str, Any]:  # fmt: skip
    submission = upload_claim(stack, token, path, occurred_at=when.isoformat(), lat=where[0],
                              lon=where[1])  # fmt: skip
    body = wait_for_status(stack, token, submission, "in_queue", "failed")
    assert body["status"] == "in_queue", body
    return body


@pytest.fixture(scope="module")
def first(stack: harness.Stack, accounts: Accounts, displayed: dict[str, Path]) -> str:
    body = settled(stack, accounts.unit_token, displayed["original"], CLAIMED, WHERE)
    assert not {f["kind"] for f in body["flags"]} & {"osd_mismatch", "no_capture_time"}
    return str(body["id"])


def copy_flags(
    stack: harness.Stack, accounts: Accounts, first: str, body: dict[str, Any]
) -> dict[str, Any]:
    """The copy's flags as a reviewer sees them, after checking it is flagged as `first`'s."""
    with stack.client(accounts.staff_tokens["reviewer"]) as client:
        seen = client.get(f"/api/v1/submissions/{body['id']}").json()
    flags = {f["kind"]: f["evidence"] for f in seen["flags"]}
    found = {m["submission_id"] for kind in DUPLICATES & set(flags)
             for m in flags[kind]["matches"]}  # fmt: skip
    assert first in found, sorted(flags)
    return flags


def test_a_reencoded_copy_keeps_its_display_as_capture_time_and_place(
    stack: harness.Stack, accounts: Accounts, displayed: dict[str, Path], first: str
) -> None:
    body = settled(stack, accounts.other_unit_token, displayed["360p"], CLAIMED, WHERE)
    flags = copy_flags(stack, accounts, first, body)
    assert not set(flags) & {"osd_mismatch", "no_capture_time", "capture_time_mismatch"}, flags
    shown = body["media"][0]["metadata"]["osd"]
    assert shown["source"] == "osd"
    assert (shown["lat"], shown["lon"]) == WHERE
    assert shown["start"] == CLAIMED.isoformat()


def test_a_copy_whose_claim_contradicts_its_display_is_flagged(
    stack: harness.Stack, accounts: Accounts, displayed: dict[str, Path], first: str
) -> None:
    """Cut, captioned and claimed three days earlier 60 km away: the display tells otherwise."""
    earlier, elsewhere = CLAIMED - timedelta(days=3), (WHERE[0] + 0.55, WHERE[1])
    body = settled(stack, accounts.other_unit_token, displayed["cut, captioned"], earlier,
                   elsewhere)  # fmt: skip
    evidence = copy_flags(stack, accounts, first, body)["osd_mismatch"]
    assert evidence["disagrees"] == ["time", "place"]
    assert evidence["osd_time"].startswith((CLAIMED + timedelta(hours=2)).strftime("%Y-%m-%d"))
    assert evidence["osd_position"] == list(WHERE)


def test_a_crop_that_cuts_the_display_off_is_caught_and_flags_nothing_false(
    stack: harness.Stack, accounts: Accounts, displayed: dict[str, Path], first: str
) -> None:
    body = settled(stack, accounts.other_unit_token, displayed["cropped"], CLAIMED, WHERE)
    flags = copy_flags(stack, accounts, first, body)
    # Whatever is left of the display, it cannot contradict an honest claim.
    assert "osd_mismatch" not in flags, flags["osd_mismatch"]
