"""Index segments: the frame index of one stretch of `seq`, written once and never changed.

On disk a segment is a directory of NumPy `.npy` files (numpy's own format: a small header,
then the raw array, so `np.load(mmap_mode="r")` maps it without reading it) and a manifest
naming each file's size and SHA-256. In S3 the same files sit under `index/segments/<id>/`, and
`index/current.json` lists the segments in force: the compaction job replaces it whole (a PUT
is atomic), so a reader sees the old list or the new one, never half of either.

Two families of segments share this mechanism: the PDQ frame index (`catalogue.py`) at the top
of the prefix, and the keyframes' ORB descriptors (`features.py`) under `keyframes/`, each with
its own list, corruption reports and host directory. Only the files inside a segment differ.

Every host keeps the segments it uses under `<data_dir>/index/`. The first worker to need one
downloads it, checks every file's hash and only then renames the directory into place (under
a file lock, so two workers on a host never both fetch). The others map the same files: the
kernel keeps one copy in the page cache for every process on the host.
"""

import fcntl
import hashlib
import json
import logging
import mmap
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from botocore.exceptions import BotoCoreError, ClientError

from mvq import storage
from mvq.matching.catalogue import KINDS, Part
from mvq.matching.index import (
    PACKED_ROWS,
    AnyTables,
    Codes,
    FrameIndex,
    PackedTables,
    Tables,
    build_tables,
    pack,
)
from mvq.settings import get_settings

log = logging.getLogger(__name__)
MANIFEST = "manifest.json"
FORMAT = 1  # the files' names tell packed tables (index.pack) from those written before
FRAMES, KEYFRAMES = "", "keyframes"  # the families; the frames' keys predate families
SEGMENT_NAME = re.compile(r"\d{12}-\d{12}")


class Corrupt(Exception):
    """A segment whose bytes are not the ones its manifest names."""


def _key(*names: str, family: str = FRAMES) -> str:
    return "/".join([get_settings().index_prefix, *([family] if family else []), *names])


def host_dir(family: str = FRAMES) -> Path:
    """Where this host keeps a family's segments."""
    index_dir = get_settings().index_dir
    assert index_dir is not None
    return index_dir / family if family else index_dir


def segment_id(lo: int, hi: int) -> str:
    return f"{lo:012d}-{hi:012d}"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(8 * 1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def write(part: Part, directory: Path) -> dict[str, Any]:
    """Writes a frame index part into a new directory, building each kind's tables over every
    row (one kind at a time: a merge of millions of rows holds one kind's tables in memory,
    not all five); its manifest."""

    def arrays() -> Iterator[tuple[str, np.ndarray[Any, Any]]]:
        for name in ("t", "t_until", "media_ids", "media_first"):
            yield name, getattr(part, name)
        for kind in KINDS:
            yield f"codes_{kind}", part.indexes[kind].codes
            yield from table_arrays(part.indexes[kind].codes, f"_{kind}")

    return write_files(directory, arrays(), lo=part.lo, hi=part.hi, rows=len(part))


def table_arrays(codes: Codes, suffix: str = "") -> Iterator[tuple[str, np.ndarray[Any, Any]]]:
    """The tables over `codes` as a segment stores them: packed (index.pack), unless there are
    more rows than packing holds (a segment merged before the compaction job kept segments
    under `index_max_segment_rows`, rebuilt), then as in memory."""
    tables = build_tables(codes)
    arrays = (pack(tables) if len(codes) <= PACKED_ROWS else tables)._asdict()
    del tables
    for name, array in arrays.items():
        yield f"{name}{suffix}", array


def mapped_tables(a: dict[str, Any], suffix: str = "") -> AnyTables:
    """A segment's tables from its mapped files: packed, or as written before packing."""
    if f"order_lo{suffix}" in a:
        return PackedTables(*(a[f"{name}{suffix}"] for name in PackedTables._fields))
    return Tables(a[f"order{suffix}"], a[f"starts{suffix}"])


def write_unpacked(part: Part, directory: Path) -> dict[str, Any]:
    """A frame segment as written before packed tables (bench/index.py compares the two)."""

    def arrays() -> Iterator[tuple[str, np.ndarray[Any, Any]]]:
        yield "media", np.repeat(np.arange(len(part.media_ids), dtype=np.int32),
                                 np.diff(part.media_first))  # fmt: skip
        for name in ("t", "t_until", "media_ids", "media_first"):
            yield name, getattr(part, name)
        for kind in KINDS:
            tables = build_tables(part.indexes[kind].codes)
            yield f"codes_{kind}", part.indexes[kind].codes
            yield f"order_{kind}", tables.order
            yield f"starts_{kind}", tables.starts
            del tables

    return write_files(directory, arrays(), lo=part.lo, hi=part.hi, rows=len(part))


def write_files(
    directory: Path, arrays: Iterable[tuple[str, np.ndarray[Any, Any]]], *, lo: int, hi: int,
    rows: int,
) -> dict[str, Any]:  # fmt: skip
    """Any family's segment: each named array as a `.npy` file (taken one at a time, so a
    generator keeps one in memory), then the manifest."""
    directory.parent.mkdir(parents=True, exist_ok=True)
    files = {}
    with _staged(directory) as tmp:
        for name, array in arrays:
            path = tmp / f"{name}.npy"
            np.save(path, np.ascontiguousarray(array))
            files[name] = {"size": path.stat().st_size, "sha256": file_sha256(path)}
        manifest = {"format": FORMAT, "id": segment_id(lo, hi), "lo": lo, "hi": hi,
                    "rows": rows, "files": files}  # fmt: skip
        (tmp / MANIFEST).write_text(json.dumps(manifest))
    return manifest


@contextmanager
def _staged(directory: Path) -> Iterator[Path]:
    """A scratch directory beside `directory` that replaces it whole once filled (its manifest
    last), or is removed if filling it fails: a segment directory is complete or absent."""
    tmp = Path(tempfile.mkdtemp(prefix=".staging-", dir=directory.parent))
    try:
        yield tmp
        shutil.rmtree(directory, ignore_errors=True)
        tmp.rename(directory)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def map_files(directory: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    """Maps a local segment's files (any family's): nothing is read until a search touches
    them."""
    files = manifest["files"]
    for name, meta in files.items():
        path = directory / f"{name}.npy"
        if not path.is_file() or path.stat().st_size != meta["size"]:
            raise Corrupt(f"{manifest['id']}: {name}.npy is missing or has the wrong size")
    # A plain array over the mapping: np.memmap's own indexing costs more than the search.
    return {name: np.asarray(np.load(directory / f"{name}.npy", mmap_mode="r",
                                     allow_pickle=False)) for name in files}  # fmt: skip


READ_AHEAD_THREADS = 4  # measured on this host's disk: 4 readers 2.6 GB/s, one 2.4, faults 1


def read_ahead(directory: Path, manifest: dict[str, Any]) -> None:
    """Reads a segment's files once, so its searches never wait on the disk: a worker that
    starts on a cold host is slow once, here, not in every search for minutes. Plain reads in
    a few threads, because faulting a mapping in reads 128 KiB at a time and
    `posix_fadvise(WILLNEED)` measured no faster; files already in the page cache cost a copy
    (0.1 s for 4 GB)."""

    def read(name: str) -> None:
        # An anonymous mapping, not a bytearray: freeing an 8 MiB malloc block raises glibc's
        # mmap threshold, and the searches' temporaries then stay in the heap (measured: 33 MiB
        # more private memory a worker).
        with (
            mmap.mmap(-1, 8 << 20) as buffer,
            (directory / f"{name}.npy").open("rb", buffering=0) as fh,
        ):
            while fh.readinto(buffer):
                pass

    with ThreadPoolExecutor(READ_AHEAD_THREADS) as pool:
        list(pool.map(read, manifest["files"]))


def open_segment(directory: Path, manifest: dict[str, Any]) -> Part:
    """Maps a local frame index segment."""
    a = map_files(directory, manifest)
    indexes = {k: FrameIndex(a[f"codes_{k}"], mapped_tables(a, f"_{k}")) for k in KINDS}
    return Part(indexes, t=a["t"], t_until=a["t_until"],
                media_ids=a["media_ids"], media_first=a["media_first"], lo=manifest["lo"],
                hi=manifest["hi"], segment=fingerprint(manifest))  # fmt: skip


def fingerprint(manifest: dict[str, Any]) -> str:
    """Tells two builds of one `seq` range apart (a rebuilt segment keeps its id)."""
    files = manifest["files"]
    digest = hashlib.sha256("".join(files[name]["sha256"] for name in sorted(files)).encode())
    return f"{manifest['id']}:{digest.hexdigest()}"


def upload(directory: Path, manifest: dict[str, Any], *, family: str = FRAMES) -> None:
    """Files first, manifest last: a segment whose manifest is in S3 is whole there."""
    key = _key("segments", manifest["id"], family=family)
    for name in manifest["files"]:
        storage.upload_file(f"{key}/{name}.npy", directory / f"{name}.npy")
    storage.put_bytes(f"{key}/{MANIFEST}", json.dumps(manifest).encode(),
                      content_type="application/json")  # fmt: skip


def remove(manifest: dict[str, Any], *, family: str = FRAMES) -> None:
    key = _key("segments", manifest["id"], family=family)
    storage.delete(f"{key}/{MANIFEST}")  # first: without it the rest is not a segment
    for name in manifest["files"]:
        storage.delete(f"{key}/{name}.npy")


def report_corrupt(segment: str, *, family: str = FRAMES) -> None:
    """Tells the compaction job to rebuild a segment from the database."""
    storage.put_bytes(_key("corrupt", segment, family=family), b"", content_type="text/plain")


def reported_corrupt(*, family: str = FRAMES) -> set[str]:
    return {key.rsplit("/", 1)[1] for key in storage.keys(_key("corrupt", "", family=family))}


def clear_corrupt(segment: str, *, family: str = FRAMES) -> None:
    storage.delete(_key("corrupt", segment, family=family))


def current(*, family: str = FRAMES) -> dict[str, Any]:
    """The segments in force: {"generation", "segments": [manifest, ...] oldest first}."""
    try:
        return dict(json.loads(storage.get_bytes(_key("current.json", family=family))))
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in {"NoSuchKey", "404"}:
            return {"generation": None, "segments": []}
        raise


def publish(listing: dict[str, Any], *, family: str = FRAMES) -> None:
    body = json.dumps(listing).encode()
    storage.put_bytes(_key("current.json", family=family), body, content_type="application/json")


def is_mapped(array: np.ndarray[Any, Any]) -> bool:
    """Whether the array's memory is a file's mapping (not a copy in this process)."""
    base: Any = array
    while base is not None and not isinstance(base, mmap.mmap):
        # np.memmap keeps its mapping in `_mmap`: not public, but the only way to tell.
        base = getattr(base, "_mmap", None) if isinstance(base, np.memmap) else base.base
    return base is not None


@contextmanager
def _host_lock(index_dir: Path, segment: str) -> Iterator[None]:
    index_dir.mkdir(parents=True, exist_ok=True)
    with (index_dir / f".{segment}.lock").open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def local(index_dir: Path, manifest: dict[str, Any], *, family: str = FRAMES) -> Path:
    """The segment's directory on this host, fetched from S3 and checked if it is not there.
    Raises Corrupt when S3's bytes are not the manifest's."""
    directory = index_dir / str(manifest["id"])
    with _host_lock(index_dir, manifest["id"]):
        if _same_manifest(directory, manifest):
            return directory
        with _staged(directory) as tmp:
            key = _key("segments", manifest["id"], family=family)
            for name, meta in manifest["files"].items():
                path = tmp / f"{name}.npy"
                storage.download(f"{key}/{name}.npy", path)
                if file_sha256(path) != meta["sha256"]:
                    raise Corrupt(f"{manifest['id']}: {name}.npy does not match its SHA-256")
            (tmp / MANIFEST).write_text(json.dumps(manifest))
    return directory


def forget_unlisted(index_dir: Path, live: set[str]) -> None:
    """Local copies of segments no longer listed. Safe while another worker on this host still
    maps one: the mapping keeps the file's pages until it lets go."""
    if not index_dir.is_dir():
        return
    for entry in index_dir.iterdir():
        # Segments only: another family's directory sits among the frames' segments.
        if not entry.is_dir() or not SEGMENT_NAME.fullmatch(entry.name) or entry.name in live:
            continue
        # Not one a compaction on this host has just written and not yet listed.
        if time.time() - entry.stat().st_mtime >= get_settings().index_retired_keep_seconds:
            shutil.rmtree(entry, ignore_errors=True)


def _same_manifest(directory: Path, manifest: dict[str, Any]) -> bool:
    try:
        return bool(json.loads((directory / MANIFEST).read_text()) == manifest)
    except (OSError, ValueError):
        return False


MEMORY_SHARE = 0.8  # of the host's RAM the segments may take and still be read ahead


def fits_in_memory(listing: dict[str, Any], meminfo: Path = Path("/proc/meminfo")) -> bool:
    """Whether the listed segments fit in this host's page cache. When they do not, reading
    them all ahead would only evict one another (and the pages searches just used): each
    page is then read when a search needs it, as docs/OPERATIONS.md describes."""
    size = int(sum(f["size"] for m in listing["segments"] for f in m["files"].values()))
    try:
        fields = dict(line.split(":", 1) for line in meminfo.read_text().splitlines())
        total = int(fields["MemTotal"].split()[0]) * 1024
    except (OSError, KeyError, ValueError):
        return True  # not Linux: read ahead, as on a host big enough
    return size <= MEMORY_SHARE * total


def parts_in_force(
    listing: dict[str, Any], had: dict[str, Any], *, family: str,
    open_part: Callable[[Path, dict[str, Any]], Any],
    from_database: Callable[[dict[str, Any]], Any],
) -> list[Any]:  # fmt: skip
    """A family's listed segments as parts, oldest first: those this process has mapped from
    the same build (`had`, by fingerprint) kept, the others mapped, fetched to this host first.
    One that is unusable is read from the database meanwhile (`from_database`), and reported
    so the compaction job rebuilds it."""
    index_dir = host_dir(family)
    parts, ahead = [], fits_in_memory(listing)
    for manifest in listing["segments"]:
        part = had.get(fingerprint(manifest))
        if part is None:
            try:
                directory = local(index_dir, manifest, family=family)
                part = open_part(directory, manifest)  # checks every file is there first
                if ahead:
                    read_ahead(directory, manifest)
            except (Corrupt, BotoCoreError, ClientError) as exc:
                log.error("segment unusable, read from the database",
                          extra={"family": family or "frames", "segment": manifest["id"],
                                 "error": str(exc)})  # fmt: skip
                if isinstance(exc, Corrupt):
                    report_corrupt(manifest["id"], family=family)
                part = from_database(manifest)
        parts.append(part)
    forget_unlisted(index_dir, {m["id"] for m in listing["segments"]})
    return parts
