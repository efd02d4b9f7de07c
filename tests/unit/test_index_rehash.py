"""The re-hash of old index rows (mvq.matching.rehash) on a real SQLite database built by the
migrations, with stills from a dictionary in place of S3: it walks the old rows in `seq` order
a batch at a time, a crashed run resumes after the last batch it recorded without fetching
those stills again, `limit` stops it part way, a batch written twice changes nothing, a still
that is gone leaves its row as it was, and the compaction is told which segments to rebuild
only once the re-hash is through them."""

import io
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from PIL import Image
from skimage import data
from sqlalchemy import select, update

from mvq.bootstrap import migrate
from mvq.db import session_scope
from mvq.matching import rehash
from mvq.matching import service as matching
from mvq.matching.models import SCHEME, IndexedFrame
from mvq.media.ingest.frames import still_hashes
from mvq.media.models import Frame
from mvq.settings import get_settings
from testkit.indexed_clips import add_clip
from testkit.people import make_unit

PHOTOS = (data.astronaut, data.coffee, data.chelsea, data.rocket, data.camera)
CLIPS, STILLS = 3, 5  # 15 rows, each its own still


def jpeg(n: int) -> bytes:
    img = Image.fromarray(PHOTOS[n % len(PHOTOS)]()).convert("RGB")
    img = img.rotate(7 * n).resize((640, 360))  # every still its own picture
    out = io.BytesIO()
    img.save(out, "JPEG", quality=82)
    return out.getvalue()


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("rehash") / "empty.db"
    migrate(f"sqlite:///{path}")
    return path


@pytest.fixture
def stills(
    migrated: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, bytes]]:
    """A migrated database holding CLIPS clips of old rows; their stills by key."""
    shutil.copy(migrated, tmp_path / "mvq.db")
    monkeypatch.setenv("MVQ_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("MVQ_DATABASE_URL", f"sqlite:///{tmp_path / 'mvq.db'}")
    get_settings.cache_clear()
    by_key: dict[str, bytes] = {}
    with session_scope() as session:
        unit_id, _ = make_unit(session)
        for _ in range(CLIPS):
            # Hashes far apart, so that no two consecutive stills are indexed as one.
            media_id = add_clip(session, unit_id, [os.urandom(32).hex() for _ in range(STILLS)])
            for frame in session.scalars(select(Frame).where(Frame.media_id == media_id)):
                frame.s3_key = f"{media_id}/{frame.index}"
                by_key[frame.s3_key] = jpeg(len(by_key))
            matching.index_frames(session, media_id=media_id)
        session.flush()
        session.execute(update(IndexedFrame).values(scheme=None, pdq_upper=None, pdq_9x16=None,
                                                    pdq_4x5=None))  # fmt: skip
    yield by_key
    get_settings.cache_clear()


def rows() -> list[IndexedFrame]:
    with session_scope() as session:
        return list(session.scalars(select(IndexedFrame).order_by(IndexedFrame.seq)))


def still_of(row: IndexedFrame, stills: dict[str, bytes]) -> bytes:
    with session_scope() as session:
        frame = session.get(Frame, row.frame_id)
        assert frame is not None
        return stills[frame.s3_key]


def assert_current(stills: dict[str, bytes]) -> None:
    for row in rows():
        h = still_hashes(still_of(row, stills))
        assert row.scheme == SCHEME
        assert (row.pdq, row.pdq_center, row.pdq_upper, row.pdq_9x16, row.pdq_4x5) == (
            h.pdq, h.center, h.upper, h.vertical_9x16, h.vertical_4x5)  # fmt: skip


def test_a_run_rehashes_every_old_row_a_batch_at_a_time(stills: dict[str, bytes]) -> None:
    seen: list[tuple[int, int, int]] = []
    progress = rehash.run(batch=4, fetch=stills.__getitem__,
                          report=lambda p: seen.append((p.done, p.total, p.position)))  # fmt: skip
    seqs = [r.seq for r in rows()]
    assert [s[:2] for s in seen] == [(4, 15), (8, 15), (12, 15), (15, 15)]
    assert [s[2] for s in seen] == [seqs[3], seqs[7], seqs[11], seqs[14]]
    assert (progress.done, progress.missing) == (15, 0)
    assert_current(stills)
    with session_scope() as session:
        assert rehash.backlog(session) == 0


def test_a_crashed_run_resumes_after_its_last_batch(stills: dict[str, bytes]) -> None:
    fetched: list[str] = []

    def failing(key: str) -> bytes:
        if len(fetched) == 9:
            raise OSError("killed")
        fetched.append(key)
        return stills[key]

    with pytest.raises(OSError, match="killed"):
        rehash.run(batch=4, fetch=failing)
    done = set(fetched[:8])  # the two batches recorded before the third failed
    with session_scope() as session:
        assert rehash.backlog(session) == 7
    again: list[str] = []

    def fetch(key: str) -> bytes:
        again.append(key)
        return stills[key]

    progress = rehash.run(batch=4, fetch=fetch)
    assert progress.total == progress.done == 7
    assert not done & set(again) and len(again) == 7
    assert_current(stills)


def test_limit_stops_part_way_and_the_next_run_goes_on(stills: dict[str, bytes]) -> None:
    first = rehash.run(batch=4, limit=6, fetch=stills.__getitem__)
    assert first.done == 6
    assert sum(r.scheme == SCHEME for r in rows()) == 6
    assert [r.scheme for r in rows()][:6] == [SCHEME] * 6  # in seq order
    rest = rehash.run(batch=4, fetch=stills.__getitem__)
    assert rest.done == 9
    assert_current(stills)


def test_a_batch_written_again_changes_nothing(stills: dict[str, bytes]) -> None:
    rehash.run(batch=100, fetch=stills.__getitem__)
    before = [(r.seq, r.pdq, r.pdq_upper) for r in rows()]
    other = still_hashes(jpeg(99))
    with session_scope() as session:
        rehash.save(session, [(seq, other) for seq, *_ in before], reached=0)
        assert rehash.position(session) == before[-1][0]  # the position never goes back
    assert [(r.seq, r.pdq, r.pdq_upper) for r in rows()] == before


def test_a_missing_still_leaves_its_row_as_it_was(stills: dict[str, bytes]) -> None:
    gone = sorted(stills)[2]
    old = {r.seq: r.pdq for r in rows()}

    def fetch(key: str) -> bytes:
        if key == gone:
            raise ClientError({"Error": {"Code": "NoSuchKey"}}, "GetObject")
        return stills[key]

    progress = rehash.run(batch=4, fetch=fetch)
    assert (progress.done, progress.missing) == (15, 1)
    left = [r for r in rows() if r.scheme is None]
    assert len(left) == 1 and left[0].pdq == old[left[0].seq]
    with session_scope() as session:
        assert rehash.backlog(session) == 0  # not tried again and again
        assert rehash.old_rows(session, after=0, up_to=rehash.position(session)) == 1


def test_segments_are_rebuilt_once_the_rehash_is_through_them(stills: dict[str, bytes]) -> None:
    seqs = [r.seq for r in rows()]
    manifests = [{"lo": 0, "hi": seqs[4]}, {"lo": seqs[4], "hi": seqs[9]},
                 {"lo": seqs[9], "hi": seqs[14]}]  # fmt: skip
    rehash.run(batch=7, limit=7, fetch=stills.__getitem__)  # inside the second segment
    with session_scope() as session:
        stale, reached = rehash.stale_segments(session, manifests, since=0)
    assert (stale, reached) == ([0], seqs[6])
    rehash.run(batch=7, fetch=stills.__getitem__)
    with session_scope() as session:
        stale, reached = rehash.stale_segments(session, manifests, since=reached)
        assert (stale, reached) == ([1, 2], seqs[14])
        assert rehash.stale_segments(session, manifests, since=reached) == ([], seqs[14])


def test_progress_says_rate_and_time_left() -> None:
    progress = rehash.Progress(total=1000, done=250, started=100.0)
    assert progress.rate(110.0) == 25
    assert progress.eta_seconds(110.0) == 30
    assert "250/1000 rows, 25 rows/s, eta 30 s" in progress.line(110.0)
