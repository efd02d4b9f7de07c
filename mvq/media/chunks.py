"""Small chunks for slow links, stitched into S3 parts by the server.

S3's smallest part is 5 MiB: 21 s at 250 KB/s, so a link that drops every minute loses half a
part on average each time, and a 100 MB clip went up as 1.16 times its bytes. A client on such a
link instead PUTs chunks of a few hundred KiB, each its own object under the media's staging
prefix, through a URL that lives a couple of minutes and accepts only the bytes whose SHA-256
the client declared (storage refuses others). A chunk storage holds is never sent again: the
prefix is listed on every call, so a resuming client learns what is there. At `complete`, the
parts still missing are stitched from their chunks here, storage to storage (each chunk read,
its SHA-256 checked against the one its key names, the part written with its MD5), and the
chunks are deleted once the upload is complete. A fast link still PUTs whole parts by their
own URLs; the two mix freely, part by part.

A chunk lies within one part, so a part is a run of chunks from its first byte to its last. Its
key names its offset, size and hash, all the server needs, so no table keeps them.
"""

import hashlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mvq import storage
from mvq.errors import Conflict, Invalid
from mvq.media.models import Media, MediaStatus
from mvq.settings import get_settings

MIN_CHUNK = 64 * 1024  # below this a chunk costs more in requests than it saves
MAX_CHUNKS_PER_CALL = 32
CONTENT_TYPE = "application/octet-stream"


@dataclass(frozen=True)
class Chunk:
    offset: int
    size: int
    sha256: str

    @property
    def end(self) -> int:
        return self.offset + self.size

    def key(self, media_id: str) -> str:
        return f"{storage.staging_prefix(media_id)}{self.offset:012d}-{self.size}-{self.sha256}"


@dataclass(frozen=True)
class ChunkUrl:
    chunk: Chunk
    url: str
    headers: dict[str, str]


@dataclass(frozen=True)
class ChunkPlan:
    part_size: int
    expires_in: int
    urls: list[ChunkUrl]
    staged: list[Chunk]
    parts: list[dict[str, Any]]  # [{part_number, size}] stored as whole parts


def url_ttl() -> int:
    settings = get_settings()
    return min(settings.chunk_url_ttl_seconds, settings.presign_ttl_seconds)


def staged(media_id: str) -> list[Chunk]:
    """The chunks storage holds for this media, by offset."""
    found = []
    for key in storage.keys(storage.staging_prefix(media_id)):
        offset, size, sha256 = key.rsplit("/", 1)[1].split("-")
        found.append(Chunk(int(offset), int(size), sha256))
    return sorted(found, key=lambda c: (c.offset, -c.size))


def _check(media: Media, chunk: Chunk) -> None:
    part = media.part_size
    assert part is not None
    if chunk.end > media.declared_size:
        raise Invalid(f"a chunk at {chunk.offset} of {chunk.size} bytes runs past the file's "
                      f"{media.declared_size}", code="bad_chunk")  # fmt: skip
    if chunk.offset // part != (chunk.end - 1) // part:
        raise Invalid(f"a chunk lies within one part of {part} bytes; the one at "
                      f"{chunk.offset} crosses into the next",
                      code="chunk_crosses_part")  # fmt: skip
    part_end = min((chunk.offset // part + 1) * part, media.declared_size)
    if chunk.size < MIN_CHUNK and chunk.end != part_end:
        raise Invalid(f"a chunk is at least {MIN_CHUNK} bytes, unless it ends its part",
                      code="chunk_too_small")  # fmt: skip


def _in_parts(chunk: Chunk, part_size: int, numbers: set[int]) -> bool:
    return chunk.offset // part_size + 1 in numbers


def plan(media: Media, *, key: str, chunks: list[Chunk]) -> ChunkPlan:
    """URLs for the chunks asked for that storage does not hold yet (alone or inside a part
    already stored), and what it holds: an empty request is the resume's question."""
    if media.status != MediaStatus.awaiting_upload or media.upload_id is None:
        raise Conflict("chunks are for a file sent in parts that is still awaiting its bytes",
                       code="bad_state")  # fmt: skip
    assert media.part_size is not None
    for chunk in chunks:
        _check(media, chunk)
    parts = [
        {"part_number": p["PartNumber"], "size": p["Size"]}
        for p in storage.list_parts(key, upload_id=media.upload_id)
    ]
    numbers = {p["part_number"] for p in parts}
    held = [c for c in staged(media.id) if not _in_parts(c, media.part_size, numbers)]
    ttl = url_ttl()
    urls = []
    for chunk in chunks:
        if chunk in held or _in_parts(chunk, media.part_size, numbers):
            continue
        url, headers = storage.presign_put(chunk.key(media.id), content_type=CONTENT_TYPE,
                                           sha256=chunk.sha256, ttl=ttl)  # fmt: skip
        urls.append(ChunkUrl(chunk, url, headers))
    return ChunkPlan(media.part_size, ttl, urls, held, parts)


def _run(held: list[Chunk], start: int, end: int) -> list[Chunk] | None:
    """Chunks covering [start, end) end to end, the largest first at each offset."""
    by_offset: dict[int, list[Chunk]] = {}
    for chunk in held:
        by_offset.setdefault(chunk.offset, []).append(chunk)
    run, at = [], start
    while at < end:
        fits = [c for c in by_offset.get(at, []) if c.end <= end]
        if not fits:
            return None
        run.append(max(fits, key=lambda c: c.size))
        at = run[-1].end
    return run


def stitch(media: Media, *, key: str, missing: list[int]) -> list[int]:
    """Writes each missing part from its staged chunks; returns the parts still missing."""
    assert media.upload_id is not None and media.part_size is not None
    held = staged(media.id)
    still = []
    for number in missing:
        start = (number - 1) * media.part_size
        run = _run(held, start, min(start + media.part_size, media.declared_size))
        if run is None:
            still.append(number)
            continue
        pieces = []
        for chunk in run:
            data = storage.get_bytes(chunk.key(media.id))
            if len(data) != chunk.size or hashlib.sha256(data).hexdigest() != chunk.sha256:
                # Storage checked the hash when it took the chunk: this is a fault, not a unit's
                # doing. The chunk goes, so the client sends it again.
                storage.delete(chunk.key(media.id))
                raise Conflict(f"the chunk at {chunk.offset} did not read back as written",
                               code="chunk_corrupt")  # fmt: skip
            pieces.append(data)
        storage.upload_part(key, upload_id=media.upload_id, part_number=number,
                            data=b"".join(pieces))  # fmt: skip
    return still


def discard(media_id: str) -> int:
    keys = storage.keys(storage.staging_prefix(media_id))
    for key in keys:
        storage.delete(key)
    return len(keys)


def sweep(session: Session) -> int:
    """Removes staged chunks whose upload is over (completed, failed or abandoned: the
    sweeper fails an abandoned upload first) or whose media is gone. Returns how many."""
    by_media: dict[str, list[str]] = {}
    for key in storage.keys("staging/"):
        by_media.setdefault(key.split("/")[1], []).append(key)
    if not by_media:
        return 0
    waiting = set(session.scalars(select(Media.id).where(
        Media.id.in_(list(by_media)), Media.status == MediaStatus.awaiting_upload)))  # fmt: skip
    removed = 0
    for media_id, keys in by_media.items():
        if media_id in waiting:
            continue
        for key in keys:
            storage.delete(key)
        removed += len(keys)
    return removed
