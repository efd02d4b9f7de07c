"""The shared frame index against real S3 (SeaweedFS), Redis and both databases: segments
written by the compaction job, mapped by a worker on a fresh host and caught up from the
database; a corrupt segment read from the database meanwhile and rebuilt; two processes on one
host sharing one mapping; two copies matched at the same moment finding each other; the
keyframes' descriptors in segments of their own, mapped the same way."""

import json
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from skimage import data
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mvq import storage
from mvq.db import session_factory
from mvq.matching import compaction, features, segments
from mvq.matching import service as matching
from mvq.matching.catalogue import Catalogue
from mvq.matching.models import IndexedFrame
from mvq.media.ingest import keyframes
from mvq.media.ingest.frames import Probe
from mvq.media.ingest.hashing import FrameHashes
from mvq.settings import get_settings
from testkit import harness
from testkit.indexed_clips import add_clip
from testkit.people import make_unit

FRAMES = 12
RULE = matching.ClipRule(0.3, 2)


@pytest.fixture
def index_env(database: str, tmp_path: Path) -> Iterator[Path]:
    """Small segments under a prefix of this test's own; a host directory per test."""
    before = dict(os.environ)
    harness.use_env({"MVQ_INDEX_PREFIX": f"test-index-{uuid.uuid4().hex[:8]}",
                     "MVQ_INDEX_SEGMENT_ROWS": str(2 * FRAMES), "MVQ_INDEX_MERGE_FANIN": "2",
                     "MVQ_INDEX_SMALL_ROWS": "30",
                     "MVQ_INDEX_DIR": str(tmp_path / "host-a")})  # fmt: skip
    matching._catalogues.clear()
    features._indexes.clear()
    yield tmp_path
    matching._catalogues.clear()
    features._indexes.clear()
    os.environ.clear()
    os.environ.update(before)
    harness.use_env({})


def fresh_host(tmp_path: Path, name: str) -> None:
    """A worker that has never seen a segment: its own directory, nothing in memory."""
    harness.use_env({"MVQ_INDEX_DIR": str(tmp_path / name)})
    matching._catalogues.clear()
    features._indexes.clear()


def clip_hashes(rng: np.random.Generator) -> list[str]:
    """One clip's stills: each a different random picture (no two alike, so none merge)."""
    return [rng.integers(0, 256, 32, dtype=np.uint8).tobytes().hex() for _ in range(FRAMES)]


def index_clip(session: Session, unit_id: str, hashes: list[str]) -> str:
    """A processed clip with its frames indexed and committed, as the worker leaves one."""
    media_id = add_clip(session, unit_id, hashes)
    matching.index_frames(session, media_id=media_id)
    session.commit()
    return media_id


def probes_of(hashes: list[str], rng: np.random.Generator, flips: int = 12) -> list[Probe]:
    """A re-encoded copy's frames: each still with `flips` bits changed."""
    probes = []
    for n, pdq in enumerate(hashes):
        bits = bytearray.fromhex(pdq)
        for bit in rng.choice(256, flips, replace=False):
            bits[bit // 8] ^= 1 << (bit % 8)
        h = bits.hex()
        probes.append(Probe(t_seconds=n + 0.4, hashes=FrameHashes(
            dihedral=(h,) * 8, quality=100, upper=h, center=h, vertical_9x16=h,
            vertical_4x5=h)))  # fmt: skip
    return probes


def found(session: Session, probes: list[Probe]) -> list[tuple[str, float, float]]:
    cat = matching.catalogue(session)
    return [(m.media_id, m.share_this, m.share_other)
            for m in matching.near_matches(cat, probes, exclude_media=None, threshold=31,
                                           rule=RULE)]  # fmt: skip


def index_clips(
    session: Session, unit_id: str, rng: np.random.Generator, n: int
) -> dict[str, list[str]]:
    """n new clips indexed and committed: media id -> its stills' hashes."""
    return {index_clip(session, unit_id, h): h for h in (clip_hashes(rng) for _ in range(n))}


def test_segments_are_written_merged_mapped_and_caught_up(
    index_env: Path, session: Session
) -> None:
    rng = np.random.default_rng(20)
    unit_id, _ = make_unit(session)
    clips = index_clips(session, unit_id, rng, 3)
    first = compaction.compact()
    assert len(first.written) == 1 and not first.merged  # 36 rows >= 24: one segment
    sizes = []
    for _ in range(2):
        clips |= index_clips(session, unit_id, rng, 2)
        compaction.compact()
        sizes.append([m["rows"] for m in segments.current()["segments"]])
    # 24 rows: a small segment beside the 36; 24 more: the two small ones merged (48), then
    # the two of that tier (36 and 48) into one: nothing lost.
    assert sizes == [[36, 24], [84]]
    listing = segments.current()
    # One clip more, committed after the newest segment: the tail.
    last = clip_hashes(rng)
    clips[index_clip(session, unit_id, last)] = last

    fresh_host(index_env, "host-b")
    cat = matching.catalogue(session)
    assert [(p.lo, p.hi) for p in cat.segments] == [(m["lo"], m["hi"]) for m in listing["segments"]]
    assert all(segments.is_mapped(p.indexes["full"].codes) for p in cat.segments)
    assert len(cat.tail) == FRAMES and len(cat) == 8 * FRAMES
    for media_id, hashes in clips.items():
        assert found(session, probes_of(hashes, rng)) == [(media_id, 1.0, 1.0)], media_id
    # The same answers as a catalogue read whole from the database.
    everything = Catalogue()
    everything.catch_up(session)
    probes = probes_of(clips[next(iter(clips))], rng)
    segmented = matching.candidates(cat, probes, exclude_media=None, threshold=31)
    whole = matching.candidates(everything, probes, exclude_media=None, threshold=31)
    assert [(m.media_id, m.pairs) for m in segmented] == [(m.media_id, m.pairs) for m in whole]


def test_a_corrupt_segment_is_read_from_the_database_then_rebuilt(
    index_env: Path, session: Session
) -> None:
    rng = np.random.default_rng(21)
    unit_id, _ = make_unit(session)
    clips = index_clips(session, unit_id, rng, 3)
    compaction.compact()
    [manifest] = segments.current()["segments"]
    key = f"{get_settings().index_prefix}/segments/{manifest['id']}/codes_full.npy"
    damaged = bytearray(storage.get_bytes(key))
    damaged[-1] ^= 0xFF  # one bit of one hash: same size, other bytes
    storage.put_bytes(key, bytes(damaged), content_type="application/octet-stream")

    fresh_host(index_env, "host-b")
    cat = matching.catalogue(session)
    assert not segments.is_mapped(cat.segments[0].indexes["full"].codes)  # from the rows
    assert segments.reported_corrupt() == {manifest["id"]}
    for media_id, hashes in clips.items():
        assert found(session, probes_of(hashes, rng)) == [(media_id, 1.0, 1.0)]

    session.rollback()  # the compaction job is another process: this one holds no transaction
    report = compaction.compact()
    assert report.rebuilt == [manifest["id"]] and not segments.reported_corrupt()
    rebuilt = segments.current()["segments"][0]
    assert rebuilt["files"]["codes_full"]["sha256"] == manifest["files"]["codes_full"]["sha256"]
    fresh_host(index_env, "host-c")
    cat = matching.catalogue(session)
    assert segments.is_mapped(cat.segments[0].indexes["full"].codes)
    for media_id, hashes in clips.items():
        assert found(session, probes_of(hashes, rng)) == [(media_id, 1.0, 1.0)]


WORKER = """
import json, os, sys
from mvq.db import session_factory
from mvq.matching import segments, service as matching
def segments_of(part):
    return segments.segment_id(part.lo, part.hi)
with session_factory()() as session:
    cat = matching.catalogue(session)
    for part in cat.segments:
        for index in part.indexes.values():
            int(index.codes.sum()); int(index.tables[0].sum())  # touch every page
from mvq.settings import get_settings
segment = cat.segments[0]
path = os.path.realpath(get_settings().index_dir / segments_of(segment) / "codes_full.npy")
print(json.dumps({"path": path, "inode": os.stat(path).st_ino}), flush=True)
sys.stdin.readline()  # stay alive, mapping, until told
smaps, here = open("/proc/self/smaps").read().split("\\n"), False
fields = {}
for line in smaps:
    if line and line[0] in "0123456789abcdef" and "-" in line.split()[0]:
        here = line.endswith(path)
    elif here and line.split(":")[0] in ("Rss", "Shared_Clean", "Shared_Dirty"):
        fields[line.split(":")[0]] = int(line.split()[1])
print(json.dumps(fields), flush=True)
"""


def test_two_workers_on_a_host_share_one_mapping(index_env: Path, session: Session) -> None:
    rng = np.random.default_rng(22)
    unit_id, _ = make_unit(session)
    for _ in range(4):
        index_clip(session, unit_id, clip_hashes(rng))
    compaction.compact()
    env = {**os.environ, "MVQ_INDEX_DIR": str(index_env / "shared-host")}
    workers = [subprocess.Popen([sys.executable, "-c", WORKER], env=env, text=True,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE)
               for _ in range(2)]  # fmt: skip
    try:
        opened = [json.loads(w.stdout.readline()) for w in workers]  # type: ignore[union-attr]
        assert opened[0] == opened[1]  # one file on the host: fetched once, by one of them
        for w in workers:
            w.stdin.write("\n")  # type: ignore[union-attr]
            w.stdin.flush()  # type: ignore[union-attr]
        mapped = [json.loads(w.stdout.readline()) for w in workers]  # type: ignore[union-attr]
    finally:
        for w in workers:
            w.kill()
            w.wait()
    size = Path(opened[0]["path"]).stat().st_size
    for fields in mapped:
        # Every page of the file is in each worker's mapping, and shared with the other (dirty
        # while the page cache has not written the fetched file back yet).
        assert fields["Rss"] * 1024 >= size
        assert fields["Shared_Clean"] + fields["Shared_Dirty"] == fields["Rss"], fields


def test_two_copies_matched_at_the_same_moment_find_each_other(
    postgres_database: str, tmp_path: Path
) -> None:
    harness.use_env({"MVQ_INDEX_DIR": str(tmp_path / "host")})
    matching._catalogues.clear()
    rng = np.random.default_rng(23)
    original = clip_hashes(rng)
    with session_factory(postgres_database)() as session:
        unit_id, _ = make_unit(session)
    copies = [probes_of(original, rng) for _ in range(2)]
    both_searched = threading.Barrier(2, timeout=30)
    lock = matching.lock_matching

    def lock_when_both_searched(session: Session) -> None:
        both_searched.wait()  # each has searched everything committed: neither sees the other
        lock(session)

    results: dict[int, list[str]] = {}

    def worker(n: int) -> None:
        # Two processes' catalogues: one engine URL each (application_name tells them apart).
        with session_factory(f"{postgres_database}?application_name=worker-{n}")() as session:
            media_id = add_clip(session, unit_id, original)
            results[n] = [media_id] + [m.media_id for m in matching.locked_matches(
                session, copies[n], exclude_media=media_id, threshold=31, rule=RULE)]  # fmt: skip
            matching.index_frames(session, media_id=media_id)
            session.commit()

    matching.lock_matching = lock_when_both_searched  # type: ignore[assignment]
    try:
        threads = [threading.Thread(target=worker, args=(n,)) for n in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    finally:
        matching.lock_matching = lock
        matching._catalogues.clear()
    (a, *a_found), (b, *b_found) = results[0], results[1]
    # The first to take the lock found nothing; the second found the first.
    assert (a_found, b_found) in [([], [a]), ([b], [])], results


def test_the_index_commands_show_and_compact(index_env: Path, session: Session) -> None:
    def mvq(*args: str) -> dict[str, Any]:
        done = harness.run_cli(["index", *args], dict(os.environ))
        assert done.returncode == 0, done.stderr
        return dict(json.loads(done.stdout))

    rng = np.random.default_rng(24)
    unit_id, _ = make_unit(session)
    before = mvq("status")["rows_after_segments"]  # this module's earlier tests' rows
    for _ in range(3):
        index_clip(session, unit_id, clip_hashes(rng))
    assert mvq("status")["rows_after_segments"] == before + 3 * FRAMES
    [written] = mvq("compact")["written"]
    status = mvq("status")
    assert [(s["id"], s["rows"]) for s in status["segments"]] == [(written, before + 3 * FRAMES)]
    assert status["rows_after_segments"] == 0
    assert status["keyframes"]["segments"] == []  # this module's keyframes are below a segment


def photo(pixels: np.ndarray) -> np.ndarray:  # type: ignore[type-arg]
    return np.asarray(Image.fromarray(pixels).convert("RGB").resize((640, 360)))


def test_keyframes_are_written_to_segments_mapped_and_caught_up(
    index_env: Path, session: Session
) -> None:
    """The geometric stage's index as the frames' one: a worker on a fresh host maps the
    keyframe segments (its own memory holds only the keyframes committed after them) and finds
    a crop of a clip in a segment and of one in the tail, as from the database's rows."""
    harness.use_env({"MVQ_KEYFRAME_SEGMENT_ROWS": "4"})  # two clips of two keyframes
    rng = np.random.default_rng(25)
    unit_id, _ = make_unit(session)
    pictures = {name: photo(getattr(data, name)())
                for name in ("astronaut", "coffee", "chelsea", "camera", "rocket")}  # fmt: skip
    media = {}

    def index_photo(name: str) -> None:
        media[name] = add_clip(session, unit_id, clip_hashes(rng))
        matching.index_keyframes(session, media_id=media[name], keyframes=[
            keyframes.keyframe(pictures[name], t) for t in (0.0, 1.0)])  # fmt: skip
        session.commit()

    for name in ("astronaut", "coffee"):
        index_photo(name)

    def keyframe_ids(ids: list[str]) -> list[str]:  # this module's frames are compacted too
        return [i for i in ids if i.startswith("keyframes/")]

    first = compaction.compact()
    assert keyframe_ids(first.written) == ["keyframes/000000000000-000000000004"], first
    for name in ("chelsea", "camera"):
        index_photo(name)
    second = compaction.compact()  # a small segment beside the first, the two merged
    merged = ["keyframes/000000000000-000000000004", "keyframes/000000000004-000000000008"]
    assert keyframe_ids(second.merged) == merged, second
    assert [m["rows"] for m in segments.current(family=segments.KEYFRAMES)["segments"]] == [8]
    index_photo("rocket")  # after the newest segment: the tail

    fresh_host(index_env, "host-b")
    shapes = features.feature_index(session)
    [part] = shapes.segments
    assert segments.is_mapped(part.index.codes) and segments.is_mapped(part.points)
    assert (part.lo, part.hi, len(part)) == (0, 8, 8)
    assert len(shapes.tail) == 2 and not segments.is_mapped(shapes.tail.index.codes)
    whole = features.FeatureIndex()
    whole.catch_up(session)
    for name in ("coffee", "rocket"):
        h, w = pictures[name].shape[:2]
        query = [keyframes.keyframe(photo(pictures[name][: h * 4 // 5, w // 5 :]), 0.0)]
        agreed = shapes.verified(query, shapes.hits(query), exclude_media=None)
        assert set(agreed) == {media[name]}, name
        assert agreed == whole.verified(query, whole.hits(query), exclude_media=None)


def test_the_compaction_job_writes_from_a_child_process(index_env: Path, session: Session) -> None:
    """The worker's job forks for the run (a merge's peak must not stay in the worker's heap):
    the child's segments are in S3, and this process can go on using its own connections."""
    from workers import jobs

    rng = np.random.default_rng(26)
    unit_id, _ = make_unit(session)
    for _ in range(3):
        index_clip(session, unit_id, clip_hashes(rng))
    assert jobs.compact_index().startswith("1 written")
    [manifest] = segments.current()["segments"]
    assert manifest["rows"] >= 3 * FRAMES
    assert segments.reported_corrupt() == set()  # S3 still answers this process


def test_a_backlog_is_written_in_segments_no_bigger_than_the_limit_each_ending_with_a_clip(
    index_env: Path, session: Session
) -> None:
    """A first compaction of a big database (here: clips of 12 stills against a limit of 30
    rows) writes several segments, each within the limit and never cutting a clip; they are
    packed, and every clip is still found."""
    harness.use_env({"MVQ_INDEX_MAX_SEGMENT_ROWS": "30"})
    rng = np.random.default_rng(27)
    unit_id, _ = make_unit(session)
    clips = index_clips(session, unit_id, rng, 7)
    report = compaction.compact()
    listing = segments.current()["segments"]
    rows = session.execute(select(IndexedFrame.media_id, IndexedFrame.seq)).all()
    session.commit()
    # Every row in a segment (the database may hold this module's other clips too), 30 at
    # most in each: two clips of 12, as a third would be cut.
    assert sum(m["rows"] for m in listing) == len(rows) and len(listing) >= 4
    assert all(m["rows"] <= 30 for m in listing) and listing[0]["rows"] == 24
    assert len(report.written) == len(listing) and not report.merged  # no merge past 30 either
    for media_id in {m for m, _ in rows}:
        seqs = [seq for m, seq in rows if m == media_id]
        assert any(s["lo"] < min(seqs) and max(seqs) <= s["hi"] for s in listing), media_id
    assert all("order_lo_full" in m["files"] and "order_full" not in m["files"] for m in listing)
    fresh_host(index_env, "host-b")
    cat = matching.catalogue(session)
    assert [len(p) for p in cat.segments] == [m["rows"] for m in listing] and len(cat.tail) == 0
    for media_id, hashes in clips.items():
        assert found(session, probes_of(hashes, rng)) == [(media_id, 1.0, 1.0)], media_id


def test_a_segment_written_before_packing_is_still_read(index_env: Path, session: Session) -> None:
    """A host upgraded with int32 segments in S3 keeps using them until they are merged."""
    rng = np.random.default_rng(28)
    unit_id, _ = make_unit(session)
    clips = index_clips(session, unit_id, rng, 2)
    top = session.scalar(select(func.max(IndexedFrame.seq)))
    session.commit()  # SQLite: no read held open beside the job's own transaction
    old = compaction._from_database(compaction.FRAMES, 0, top)
    directory = segments.host_dir() / segments.segment_id(old.lo, old.hi)
    manifest = segments.write_unpacked(old, directory)
    segments.upload(directory, manifest)
    segments.publish({"generation": "before", "segments": [manifest]})
    fresh_host(index_env, "host-b")
    cat = matching.catalogue(session)
    assert len(cat.segments) == 1 and "order_full" in manifest["files"]
    for media_id, hashes in clips.items():
        assert found(session, probes_of(hashes, rng)) == [(media_id, 1.0, 1.0)], media_id
