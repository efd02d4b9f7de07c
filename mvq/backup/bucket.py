"""The second copy of what the database cannot rebuild: the originals as uploaded and the
audit log's checkpoints, copied server-side from MVQ_S3_BUCKET into MVQ_BACKUP_BUCKET (in dev a
second bucket on the same SeaweedFS). Derived frames, thumbnails and index segments are not
copied: processing and compaction make them again from these and the database.

Incremental: an object already in the backup bucket with the same ETag and size is skipped
(SeaweedFS keeps a copy's ETag, multipart ones included). Both kinds of object are written once
under keys fixed by their ids, so a key whose copy differs is a damaged copy or a damaged
source: it is reported, never overwritten, so a bad source cannot spoil a good backup."""

import hashlib
from dataclasses import dataclass, field

from botocore.exceptions import ClientError

from mvq import storage
from mvq.settings import get_settings

PREFIXES = ("originals/", "audit/checkpoints/")
_CHUNK = 1024**2


@dataclass
class Replicated:
    copied: int = 0
    copied_bytes: int = 0
    unchanged: int = 0
    differing: list[str] = field(default_factory=list)


def backup_bucket() -> str:
    return get_settings().backup_bucket


def _ensure(bucket: str) -> None:
    """The backup bucket, versioned: an object overwritten or deleted there (by a mistake, or
    by someone holding the operator's keys) keeps its earlier versions, so the copy a drill
    proves cannot be lost by a later write. Asked every run: a bucket made by hand gets it too."""
    try:
        storage.client().head_bucket(Bucket=bucket)
    except ClientError:
        storage.client().create_bucket(Bucket=bucket)
    storage.client().put_bucket_versioning(
        Bucket=bucket, VersioningConfiguration={"Status": "Enabled"}
    )


def _listing(bucket: str, prefix: str) -> dict[str, tuple[str, int]]:
    pages = storage.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return {o["Key"]: (o["ETag"], o["Size"]) for page in pages for o in page.get("Contents", [])}


def replicate() -> Replicated:
    """Copies what is new since the last run."""
    source, target = storage.bucket(), backup_bucket()
    _ensure(target)
    done = Replicated()
    for prefix in PREFIXES:
        have = _listing(target, prefix)
        for key, (etag, size) in _listing(source, prefix).items():
            if key not in have:
                storage.client().copy({"Bucket": source, "Key": key}, target, key,
                                      Config=storage.SEAL_COPY)  # fmt: skip
                done.copied += 1
                done.copied_bytes += size
            elif have[key] == (etag, size):
                done.unchanged += 1
            else:
                done.differing.append(key)
    return done


def sha256_of(key: str) -> tuple[str, int] | None:
    """The SHA-256 (hex) and size of the backed-up object, streamed; None when it is missing."""
    try:
        body = storage.client().get_object(Bucket=backup_bucket(), Key=key)["Body"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
            return None
        raise
    digest, size = hashlib.sha256(), 0
    for chunk in body.iter_chunks(_CHUNK):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size
