"""Old index rows re-hashed from their stills, against real workers, S3 (SeaweedFS), Redis and
both databases: a clip processed for real has its rows turned back into what the old scheme
left (hashed at the still's 640 px, no caption, vertical or 4:5 variant) and compacted into a
segment; `mvq index rehash` stopped part way (`--limit`) and run again brings every row to the
hashes a fresh processing of its still gives; the next compaction rebuilds the segment, and a
vertical repost of the clip, missed before, is then found through the vertical variant."""

import io
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import select, update

from mvq import storage
from mvq.db import session_factory
from mvq.matching import compaction, segments
from mvq.matching import service as matching
from mvq.matching.models import SCHEME, IndexedFrame
from mvq.media.ingest import frames, hashing, pipeline
from mvq.media.models import Frame, Media
from testkit import footage, harness
from testkit.claims import upload_claim, wait_for_status
from testkit.people import Accounts

VERTICAL = "crop=ih*9/16:ih,scale=360:640"


@pytest.fixture
def index_env(stack: harness.Stack, tmp_path: Path) -> Iterator[dict[str, str]]:
    """A segment prefix of this test's own, a segment for every row, a host directory; the
    environment the CLI gets too."""
    before = dict(os.environ)
    env = {"MVQ_INDEX_PREFIX": f"test-rehash-{uuid.uuid4().hex[:8]}",
           "MVQ_INDEX_SEGMENT_ROWS": "1", "MVQ_INDEX_DIR": str(tmp_path / "host")}  # fmt: skip
    harness.use_env(env)
    matching._catalogues.clear()
    yield {**stack.env, **env}
    matching._catalogues.clear()
    os.environ.clear()
    os.environ.update(before)
    harness.use_env({})


def stills_of(database: str, media_id: str) -> list[tuple[int, bytes]]:
    """Each index row's `seq` and its stored still, in `seq` order."""
    with session_factory(database)() as session:
        rows = session.execute(
            select(IndexedFrame.seq, Frame.s3_key).join(Frame, Frame.id == IndexedFrame.frame_id)
            .where(IndexedFrame.media_id == media_id).order_by(IndexedFrame.seq)
        ).all()  # fmt: skip
    return [(seq, storage.get_bytes(key)) for seq, key in rows]


def make_old(database: str, stills: list[tuple[int, bytes]]) -> None:
    """The rows as the old scheme left them: hashed at 640 px, without the newer variants."""
    with session_factory(database)() as session:
        for seq, jpeg in stills:
            with Image.open(io.BytesIO(jpeg)) as img:
                old = hashing.complete(np.asarray(img.convert("RGB")))
            session.execute(update(IndexedFrame).where(IndexedFrame.seq == seq).values(
                pdq=old.pdq, pdq_center=old.center, pdq_upper=None, pdq_9x16=None,
                pdq_4x5=None, scheme=None))  # fmt: skip
        session.commit()


def vertical_signals(database: str, media_id: str, probes: list[frames.Probe]) -> set[str]:
    """What a worker on a fresh host, searching the segments, finds of the clip."""
    matching._catalogues.clear()
    with session_factory(database)() as session:
        cat = matching.catalogue(session)
        assert len(cat.segments) == 1 and not len(cat.tail)
        found = matching.candidates(cat, probes, exclude_media=None, threshold=31)
    return {s for m in found if m.media_id == media_id for s in m.signals}


def test_old_rows_are_rehashed_resumably_and_reach_the_segments(
    stack: harness.Stack, accounts: Accounts, database: str, tmp_path: Path,
    index_env: dict[str, str],
) -> None:  # fmt: skip
    original = footage.drone_clip("astronaut", tmp_path / "strike.mp4")
    submission = upload_claim(stack, accounts.unit_token, original)
    wait_for_status(stack, accounts.unit_token, submission, "in_queue")
    with session_factory(database)() as session:
        media_id = session.scalars(select(Media.id).where(Media.submission_id == submission)).one()
    stills = stills_of(database, media_id)
    assert len(stills) >= 5
    make_old(database, stills)
    assert compaction.compact().written  # the old rows in a segment, as years of them are
    copy = footage.reused(original, tmp_path / "vertical.mp4", start=0.7, vf=VERTICAL)
    probes = pipeline.analyse(copy).probes
    assert "vertical" not in vertical_signals(database, media_id, probes)

    status = json.loads(harness.run_cli(["index", "status"], index_env).stdout)
    assert status["rehash"]["backlog"] == len(stills)
    part = harness.run_cli(["index", "rehash", "--batch", "2", "--limit", "3"], index_env)
    assert part.returncode == 0, part.stderr
    assert json.loads(part.stdout)["done"] == 3
    assert part.stderr.count("rehash: ") == 2  # a progress line a batch: 2, then 1
    assert "3/3 rows" in part.stderr
    status = json.loads(harness.run_cli(["index", "status"], index_env).stdout)["rehash"]
    assert (status["backlog"], status["position"]) == (len(stills) - 3, stills[2][0])
    rest = harness.run_cli(["index", "rehash", "--batch", "2"], index_env)
    assert rest.returncode == 0, rest.stderr
    assert json.loads(rest.stdout) == {"done": len(stills) - 3, "missing": 0,
                                       "position": stills[-1][0]}  # fmt: skip

    with session_factory(database)() as session:
        query = select(IndexedFrame).where(IndexedFrame.media_id == media_id)
        rows = {r.seq: r for r in session.scalars(query)}
    for seq, jpeg in stills:
        with Image.open(io.BytesIO(jpeg)) as img:
            fresh = frames.image_frames(img).stills[0].hashes  # the still uploaded as a photo
        r = rows[seq]
        assert r.scheme == SCHEME
        assert [r.pdq, r.pdq_center, r.pdq_upper, r.pdq_9x16, r.pdq_4x5] == [
            fresh.pdq,
            fresh.center,
            fresh.upper,
            fresh.vertical_9x16,
            fresh.vertical_4x5,
        ]

    again = harness.run_cli(["index", "rehash"], index_env)
    assert json.loads(again.stdout)["done"] == 0  # nothing left: a run again changes nothing
    segment = segments.current()["segments"][0]["id"]
    assert compaction.compact().rebuilt == [segment]
    assert "vertical" in vertical_signals(database, media_id, probes)
    assert compaction.compact().rebuilt == []  # rebuilt once
