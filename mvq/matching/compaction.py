"""The compaction job: keeps the shared frame index in S3 current, in few segments; and, in the
same way, the keyframes' descriptors (a family of segments of their own, `features.py`).

Each run (the sweeper enqueues it; one at a time, by a Redis lock):
1. rebuilds from the database any segment a worker found corrupt (its bytes not the ones its
   manifest's SHA-256 names), under the same id; and, the same way, any frame segment holding
   rows the re-hash of old rows has finished with since the last run (`rehash.stale_segments`,
   the position it had reached kept in the list as `rehashed_to`);
2. writes the rows after the newest segment as a new one, once there are enough of them;
3. merges (`merge_run`): segments under `index_small_rows` merge two at a time, so there is at
   most one; above that, whenever the newest `fanin` segments are of one size tier they become
   one of the next (size-tiered, as LSM stores do). A search costs about the same in a small
   segment as in a big one (bench/index.py), so the list must stay short: at 30M rows it is
   five segments. Rewriting small segments often is cheap; big rows are rewritten once a tier;
4. publishes the new list, and deletes segments retired long enough ago that no worker still
   on an older list can need them.

The database stays the truth: a merged segment whose row count is not the database's for its
`seq` range (a row deleted since) is rebuilt from the rows instead. Merging reads the inputs
from this host's copies, fetched and hash-checked like any worker's.
"""

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import func, select

from mvq import queue
from mvq.db import session_scope
from mvq.ids import new_id
from mvq.matching import features, rehash, segments
from mvq.matching.catalogue import concat, empty_part, read_batch
from mvq.matching.models import IndexedFrame, IndexedKeyframe
from mvq.settings import get_settings

log = logging.getLogger(__name__)
LOCK = "mvq:index-compaction"


class Family(NamedTuple):
    """An index kept in segments: its table (`seq` orders its rows), how a part of it is read
    from the database, joined, written and mapped, and the settings of its policy."""

    name: str
    model: Any
    empty: Callable[[int], Any]
    read_batch: Callable[..., bool]
    concat: Callable[[list[Any]], Any]
    write: Callable[[Any, Path], dict[str, Any]]
    open: Callable[[Path, dict[str, Any]], Any]
    segment_rows: str  # the settings' names for its `index_segment_rows`, `index_small_rows`
    small_rows: str


FRAMES = Family(segments.FRAMES, IndexedFrame, empty_part, read_batch, concat, segments.write,
                segments.open_segment, "index_segment_rows", "index_small_rows")  # fmt: skip
KEYFRAMES = Family(segments.KEYFRAMES, IndexedKeyframe, features.empty_part,
                   features.read_batch, features.concat, features.write, features.open_segment,
                   "keyframe_segment_rows", "keyframe_small_rows")  # fmt: skip


@dataclass
class Report:
    written: list[str] = field(default_factory=list)  # new segment ids (rebuilt ones too)
    merged: list[str] = field(default_factory=list)  # ids merged away
    rebuilt: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)  # retired ids removed from S3
    busy: bool = False  # another compaction was running


def tier(rows: int, small: int, fanin: int) -> int:
    """0 below `small` rows, then 1, 2... for each `fanin` times more."""
    return 0 if rows < small else 1 + math.floor(math.log(rows / small, fanin) + 1e-9)


def merge_run(sizes: list[int], *, small: int, fanin: int, max_rows: int) -> int:
    """How many of the newest segments (sizes oldest first) to merge into one now; 0: none.
    Never one of more than `max_rows`: those stay as they are, and a search visits each."""
    tiers = [tier(n, small, fanin) for n in sizes]
    if len(tiers) >= 2 and tiers[-1] == tiers[-2] == 0:
        count = 2
    elif len(tiers) >= fanin and len(set(tiers[-fanin:])) == 1:
        count = fanin
    else:
        return 0
    return count if sum(sizes[-count:]) <= max_rows else 0


def compact() -> Report:
    lock = queue.redis_conn().lock(LOCK, timeout=6 * 3600, blocking=False)
    if not lock.acquire():
        return Report(busy=True)
    try:
        report = _compact()
        # The keyframes' ids are told apart from the frames' by their family's prefix.
        for field_name, ids in vars(_compact(KEYFRAMES)).items():
            if isinstance(ids, list):
                getattr(report, field_name).extend(f"{KEYFRAMES.name}/{i}" for i in ids)
        return report
    finally:
        lock.release()


def _compact(family: Family = FRAMES) -> Report:
    settings = get_settings()
    index_dir = segments.host_dir(family.name)
    report = Report()
    kw = {"family": family.name}
    listing = segments.current(**kw)
    manifests: list[dict[str, Any]] = list(listing["segments"])
    retired: list[dict[str, Any]] = list(listing.get("retired", []))
    corrupt = segments.reported_corrupt(**kw)
    for n, manifest in enumerate(manifests):
        if manifest["id"] in corrupt:
            manifests[n] = _store(family, _from_database(family, manifest["lo"], manifest["hi"]),
                                  index_dir)  # fmt: skip
            report.rebuilt.append(manifest["id"])
    rehashed_to = reached = listing.get("rehashed_to", 0)
    if family is FRAMES:
        with session_scope() as session:
            stale, reached = rehash.stale_segments(session, manifests, since=rehashed_to)
        for n in [n for n in stale if manifests[n]["id"] not in report.rebuilt]:
            m = manifests[n]
            manifests[n] = _store(family, _from_database(family, m["lo"], m["hi"]), index_dir)
            report.rebuilt.append(m["id"])
    moved, rehashed_to = reached != rehashed_to, reached
    top = manifests[-1]["hi"] if manifests else 0
    seq = family.model.seq
    with session_scope() as session:
        newest, waiting = session.execute(
            select(func.max(seq), func.count()).where(seq > top)
        ).one()  # fmt: skip
    if waiting >= getattr(settings, family.segment_rows):
        for lo, hi in _pieces(family, top, newest, waiting, settings.index_max_segment_rows):
            manifests.append(_store(family, _from_database(family, lo, hi), index_dir))
            report.written.append(manifests[-1]["id"])
    policy = {"small": getattr(settings, family.small_rows), "fanin": settings.index_merge_fanin,
              "max_rows": settings.index_max_segment_rows}  # fmt: skip
    while count := merge_run([m["rows"] for m in manifests], **policy):
        run = manifests[-count:]
        merged = _merge(family, run, index_dir)
        manifests[-count:] = [merged]
        report.merged += [m["id"] for m in run]
        report.written.append(merged["id"])
        retired += [{"manifest": m, "retired_at": time.time()} for m in run]
    keep = settings.index_retired_keep_seconds
    for old in [r for r in retired if time.time() - r["retired_at"] > keep]:
        segments.remove(old["manifest"], **kw)  # listed as retired only: no worker is sent to it
        retired.remove(old)
        report.deleted.append(old["manifest"]["id"])
    if report.written or report.rebuilt or report.deleted or moved:
        segments.publish({"generation": new_id(), "segments": manifests, "retired": retired,
                          "rehashed_to": rehashed_to}, **kw)  # fmt: skip
    for segment in set(report.rebuilt) & corrupt:
        segments.clear_corrupt(segment, **kw)
    if report.written or report.rebuilt or report.deleted:
        log.info("index compacted", extra={"family": family.name or "frames",
                                                 "written": report.written,
                                                 "merged": report.merged,
                                                 "rebuilt": report.rebuilt,
                                                 "deleted": report.deleted})  # fmt: skip
    return report


def _pieces(family: Family, lo: int, hi: int, rows: int, max_rows: int) -> list[tuple[int, int]]:
    """The rows lo < seq <= hi as ranges of at most `max_rows` rows (a backlog, say a host's
    first compaction of a big database), each ending where a clip ends: a clip's rows are
    matched together, so they stay in one segment."""
    seq, pieces = family.model.seq, list[tuple[int, int]]()
    if rows <= max_rows:
        return [(lo, hi)]
    with session_scope() as session:
        while True:
            cut = session.scalar(select(seq).where(seq > lo, seq <= hi).order_by(seq)
                                 .offset(max_rows).limit(1))  # fmt: skip
            if cut is None:
                return [*pieces, (lo, hi)]
            clip = session.scalar(select(family.model.media_id).where(seq == cut))
            # Back to where the clip holding the first row past the limit begins.
            first = session.scalar(select(func.min(seq)).where(
                seq > lo, seq <= cut, family.model.media_id == clip))  # fmt: skip
            end = session.scalar(select(func.max(seq)).where(seq > lo, seq < first))
            end = cut - 1 if end is None else end  # one clip longer than a segment: cut it
            pieces.append((lo, end))
            lo = end


def _from_database(family: Family, lo: int, hi: int) -> Any:
    """The rows lo < seq <= hi, read in batches, each in a short transaction of its own."""
    part = family.empty(lo)
    while part.hi < hi:
        with session_scope() as session:
            if not family.read_batch(session, part, up_to=hi):
                break
    part.hi = hi
    return part


def _store(family: Family, part: Any, index_dir: Path) -> dict[str, Any]:
    directory = index_dir / segments.segment_id(part.lo, part.hi)
    manifest = family.write(part, directory)
    segments.upload(directory, manifest, family=family.name)
    return manifest


def _merge(family: Family, run: list[dict[str, Any]], index_dir: Path) -> dict[str, Any]:
    lo, hi = run[0]["lo"], run[-1]["hi"]
    seq = family.model.seq
    with session_scope() as session:
        in_database = session.scalar(select(func.count()).where(seq > lo, seq <= hi))
    try:
        parts = [family.open(segments.local(index_dir, m, family=family.name), m) for m in run]
    except segments.Corrupt as exc:
        log.warning("segment corrupt, merged from the database", extra={"error": str(exc)})
        return _store(family, _from_database(family, lo, hi), index_dir)
    if sum(len(p) for p in parts) != in_database:
        return _store(family, _from_database(family, lo, hi), index_dir)
    return _store(family, family.concat(parts), index_dir)
