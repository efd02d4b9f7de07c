"""Index segments: the frame index of one stretch of `seq`, written once and never changed.

On disk a segment is a directory of NumPy `.npy` files (numpy's own format: a small header,
then the raw array, so `np.load(mmap_mode="r")` maps it without reading it) and a manifest
naming each file's size and SHA-256. In S3 the same files sit under `index/segments/<id>/`, and
`index/current.json` lists the segments in force: the compaction job replaces it whole (a PUT
is atomic), so a reader sees the old list or the new one, never half of either.

Every host keeps the segments it uses under `<data_dir>/index/`. The first worker to need one
downloads it, checks every file's hash and only then renames the directory into place (under
a file lock, so two workers on a host never both fetch). The others map the same files: the
kernel keeps one copy in the page cache for every process on the host.
"""

import fcntl
import hashlib
import json
import mmap
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from botocore.exceptions import ClientError

from mvq import storage
from mvq.matching.catalogue import KINDS, Part
from mvq.matching.index import FrameIndex, Tables, build_tables
from mvq.settings import get_settings

MANIFEST = "manifest.json"
FORMAT = 1


class Corrupt(Exception):
    """A segment whose bytes are not the ones its manifest names."""


def _key(*names: str) -> str:
    return "/".join([get_settings().index_prefix, *names])


def segment_id(lo: int, hi: int) -> str:
    return f"{lo:012d}-{hi:012d}"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(8 * 1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def write(part: Part, directory: Path) -> dict[str, Any]:
    """Writes a part into a new directory, building each kind's tables over every row unless
    it has them (one kind at a time: a merge of tens of millions of rows holds one kind's
    tables in memory, not all five); its manifest."""
    directory.parent.mkdir(parents=True, exist_ok=True)
    files = {}
    with _staged(directory) as tmp:

        def save(name: str, array: np.ndarray[Any, Any]) -> None:
            path = tmp / f"{name}.npy"
            np.save(path, np.ascontiguousarray(array))
            files[name] = {"size": path.stat().st_size, "sha256": file_sha256(path)}

        for name in ("media", "t", "t_until", "media_ids", "media_first"):
            save(name, getattr(part, name))
        for kind in KINDS:
            index = part.indexes[kind]
            tables = index.tables
            if tables is None or tables.rows != len(index):
                tables = build_tables(index.codes)
            save(f"codes_{kind}", index.codes)
            save(f"order_{kind}", tables.order)
            save(f"starts_{kind}", tables.starts)
            del tables
        manifest = {"format": FORMAT, "id": segment_id(part.lo, part.hi), "lo": part.lo,
                    "hi": part.hi, "rows": len(part), "files": files}  # fmt: skip
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


def open_segment(directory: Path, manifest: dict[str, Any]) -> Part:
    """Maps a local segment's files: nothing is read until a search touches it."""
    files = manifest["files"]
    for name, meta in files.items():
        path = directory / f"{name}.npy"
        if not path.is_file() or path.stat().st_size != meta["size"]:
            raise Corrupt(f"{manifest['id']}: {name}.npy is missing or has the wrong size")

    def load(name: str) -> Any:
        # A plain array over the mapping: np.memmap's own indexing costs more than the search.
        return np.asarray(np.load(directory / f"{name}.npy", mmap_mode="r", allow_pickle=False))

    indexes = {k: FrameIndex(load(f"codes_{k}"), Tables(load(f"order_{k}"), load(f"starts_{k}")))
               for k in KINDS}  # fmt: skip
    return Part(indexes, media=load("media"), t=load("t"), t_until=load("t_until"),
                media_ids=load("media_ids"), media_first=load("media_first"), lo=manifest["lo"],
                hi=manifest["hi"], segment=fingerprint(manifest))  # fmt: skip


def fingerprint(manifest: dict[str, Any]) -> str:
    """Tells two builds of one `seq` range apart (a rebuilt segment keeps its id)."""
    return f"{manifest['id']}:{manifest['files']['codes_full']['sha256']}"


def upload(directory: Path, manifest: dict[str, Any]) -> None:
    """Files first, manifest last: a segment whose manifest is in S3 is whole there."""
    key = _key("segments", manifest["id"])
    for name in manifest["files"]:
        storage.upload_file(f"{key}/{name}.npy", directory / f"{name}.npy")
    storage.put_bytes(f"{key}/{MANIFEST}", json.dumps(manifest).encode(),
                      content_type="application/json")  # fmt: skip


def remove(manifest: dict[str, Any]) -> None:
    key = _key("segments", manifest["id"])
    storage.delete(f"{key}/{MANIFEST}")  # first: without it the rest is not a segment
    for name in manifest["files"]:
        storage.delete(f"{key}/{name}.npy")


def report_corrupt(segment: str) -> None:
    """Tells the compaction job to rebuild a segment from the database."""
    storage.put_bytes(_key("corrupt", segment), b"", content_type="text/plain")


def reported_corrupt() -> set[str]:
    return {key.rsplit("/", 1)[1] for key in storage.keys(_key("corrupt", ""))}


def clear_corrupt(segment: str) -> None:
    storage.delete(_key("corrupt", segment))


def current() -> dict[str, Any]:
    """The segments in force: {"generation", "segments": [manifest, ...] oldest first}."""
    try:
        return dict(json.loads(storage.get_bytes(_key("current.json"))))
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in {"NoSuchKey", "404"}:
            return {"generation": None, "segments": []}
        raise


def publish(listing: dict[str, Any]) -> None:
    body = json.dumps(listing).encode()
    storage.put_bytes(_key("current.json"), body, content_type="application/json")


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


def local(index_dir: Path, manifest: dict[str, Any]) -> Path:
    """The segment's directory on this host, fetched from S3 and checked if it is not there.
    Raises Corrupt when S3's bytes are not the manifest's."""
    directory = index_dir / str(manifest["id"])
    with _host_lock(index_dir, manifest["id"]):
        if _same_manifest(directory, manifest):
            return directory
        with _staged(directory) as tmp:
            key = _key("segments", manifest["id"])
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
        # Not one a compaction on this host has just written and not yet listed.
        recent = time.time() - entry.stat().st_mtime < get_settings().index_retired_keep_seconds
        listed = entry.name.startswith(".") or entry.name in live
        if entry.is_dir() and not listed and not recent:
            shutil.rmtree(entry, ignore_errors=True)


def _same_manifest(directory: Path, manifest: dict[str, Any]) -> bool:
    try:
        return bool(json.loads((directory / MANIFEST).read_text()) == manifest)
    except (OSError, ValueError):
        return False
