"""S3 access. Clients write only staging keys (`uploads/...`), through presigned URLs; the worker
seals each verified upload by a server-side copy to `originals/...`, a key no presigned URL ever
names. Derived objects (frames, thumbnails) are written only by workers, under deterministic keys
so a retried job overwrites.

Measured against SeaweedFS 4.48 (`weed mini`), which decided the design:
- a presigned PUT carrying the declared SHA-256 as the signed query parameter
  `x-amz-checksum-sha256` refuses other bytes (400 BadDigest), and the client sends no extra
  header; as a signed header instead, a client that omits it gets SignatureDoesNotMatch;
- UploadPart with a signed checksum refuses other bytes too, but a unit declares only the whole
  file's hash, so multipart relies on the upload ID: after CompleteMultipartUpload its part URLs
  answer 404 NoSuchUpload;
- `If-None-Match: *` is honoured (412), but it is a plain header a client must send, so it is
  not used;
- CopyObject of 100 MB took 0.41 s, UploadPartCopy of 100 MB in two parts 0.38 s (PUT 1.09 s);
- Object Lock works only on a bucket created with it (existing bucket: InvalidBucketState); a
  COMPLIANCE-locked object's version cannot be deleted, but a PUT still adds a newer version.
"""

import base64
import hashlib
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.exceptions import ClientError

from mvq.settings import Settings, get_settings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def _checksum_in_query(request: AWSRequest, **_: Any) -> None:
    """Moves a presigned PUT's checksum into the signed query string: S3 still checks the body
    against it, and the client need not know to send it."""
    if not request.context.get("is_presign_request"):
        return
    checksum = request.headers.get("x-amz-checksum-sha256")
    if checksum:
        del request.headers["x-amz-checksum-sha256"]
        request.params["x-amz-checksum-sha256"] = checksum
    if "x-amz-sdk-checksum-algorithm" in request.headers:
        del request.headers["x-amz-sdk-checksum-algorithm"]


def make_client(settings: Settings) -> "S3Client":
    s3 = boto3.client(
        "s3",
        endpoint_url=settings.s3_endpoint_url,
        region_name=settings.s3_region,
        aws_access_key_id=settings.secret("s3_access_key"),
        aws_secret_access_key=settings.secret("s3_secret_key"),
        # SeaweedFS rejects SigV2 presigned URLs; path style works without wildcard DNS.
        config=Config(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            retries={"max_attempts": 3, "mode": "standard"},
            connect_timeout=5,
            read_timeout=60,
        ),
    )
    s3.meta.events.register_first("before-sign.s3.PutObject", _checksum_in_query)
    return s3


@lru_cache
def client() -> "S3Client":
    return make_client(get_settings())


def bucket() -> str:
    return get_settings().s3_bucket


def ensure_bucket() -> None:
    try:
        client().head_bucket(Bucket=bucket())
    except ClientError:
        client().create_bucket(Bucket=bucket())


def original_key(submission_id: str, media_id: str) -> str:
    return f"originals/{submission_id}/{media_id}"


def upload_key(submission_id: str, media_id: str) -> str:
    """Where the client's presigned PUTs land; never read once the upload is sealed."""
    return f"uploads/{submission_id}/{media_id}"


def staging_prefix(media_id: str) -> str:
    """Where a slow link's small chunks wait (mvq.media.chunks) until they are stitched into
    parts; nothing under it outlives the upload."""
    return f"staging/{media_id}/"


def derived_key(media_id: str, name: str) -> str:
    """Derived objects sit under keys fixed by media and name: a rerun overwrites, never adds."""
    return f"derived/{media_id}/{name}"


def frame_key(media_id: str, index: int) -> str:
    return derived_key(media_id, f"frames/{index:05d}.jpg")


def presign_put(
    key: str, *, content_type: str, sha256: str, ttl: int | None = None
) -> tuple[str, dict[str, str]]:
    """A PUT URL that accepts only the bytes whose SHA-256 (hex) was declared, and the headers
    the client must send with it."""
    url = client().generate_presigned_url(
        "put_object",
        Params={
            "Bucket": bucket(),
            "Key": key,
            "ContentType": content_type,
            "ChecksumSHA256": base64.b64encode(bytes.fromhex(sha256)).decode(),
        },
        ExpiresIn=ttl or get_settings().presign_ttl_seconds,
    )
    return url, {"Content-Type": content_type}


def presign_get(key: str, *, content_type: str | None = None) -> str:
    params = {"Bucket": bucket(), "Key": key}
    if content_type:
        # The stored type is whatever the uploader declared; the response type is ours.
        params["ResponseContentType"] = content_type
    return client().generate_presigned_url(
        "get_object", Params=params, ExpiresIn=get_settings().presign_ttl_seconds
    )


def create_multipart(key: str, *, content_type: str) -> str:
    response = client().create_multipart_upload(Bucket=bucket(), Key=key, ContentType=content_type)
    return response["UploadId"]


def presign_part(key: str, *, upload_id: str, part_number: int) -> str:
    return client().generate_presigned_url(
        "upload_part",
        Params={"Bucket": bucket(), "Key": key, "UploadId": upload_id, "PartNumber": part_number},
        ExpiresIn=get_settings().presign_ttl_seconds,
    )


def list_parts(key: str, *, upload_id: str) -> list[dict[str, Any]]:
    """Every part stored so far, as [{PartNumber, ETag, Size}], across all result pages."""
    pages = (
        client().get_paginator("list_parts").paginate(Bucket=bucket(), Key=key, UploadId=upload_id)
    )
    return [
        {"PartNumber": p["PartNumber"], "ETag": p["ETag"], "Size": p["Size"]}
        for page in pages
        for p in page.get("Parts", [])
    ]


def upload_part(key: str, *, upload_id: str, part_number: int, data: bytes) -> None:
    """A part written by this process (chunks stitched together); storage checks its MD5."""
    client().upload_part(
        Bucket=bucket(), Key=key, UploadId=upload_id, PartNumber=part_number, Body=data,
        # S3's own integrity check on an upload (Content-MD5), not a security hash.
        ContentMD5=base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode(),
    )  # fmt: skip


def complete_multipart(key: str, *, upload_id: str, parts: list[dict[str, Any]]) -> None:
    client().complete_multipart_upload(
        Bucket=bucket(),
        Key=key,
        UploadId=upload_id,
        MultipartUpload={
            "Parts": [{"PartNumber": p["PartNumber"], "ETag": p["ETag"]} for p in parts]
        },
    )


def abort_multipart(key: str, *, upload_id: str) -> None:
    try:
        client().abort_multipart_upload(Bucket=bucket(), Key=key, UploadId=upload_id)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "NoSuchUpload":
            raise


def head(key: str) -> dict[str, Any] | None:
    try:
        return dict(client().head_object(Bucket=bucket(), Key=key))
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
            return None
        raise


# CopyObject takes at most 5 GiB; above this the managed copy uses UploadPartCopy.
SEAL_COPY = TransferConfig(multipart_threshold=1024**3, multipart_chunksize=512 * 1024**2)


def copy(source: str, dest: str) -> None:
    """A server-side copy: the bytes never pass through this process."""
    client().copy({"Bucket": bucket(), "Key": source}, bucket(), dest, Config=SEAL_COPY)


def delete(key: str) -> None:
    client().delete_object(Bucket=bucket(), Key=key)


def download(key: str, dest: Path) -> None:
    client().download_file(bucket(), key, str(dest))


def put_bytes(key: str, data: bytes, *, content_type: str) -> None:
    client().put_object(Bucket=bucket(), Key=key, Body=data, ContentType=content_type)


def ping() -> None:
    client().head_bucket(Bucket=bucket())


def put_once(key: str, data: bytes, *, content_type: str) -> bool:
    """Writes an object that is never replaced: with `If-None-Match: *` the store refuses a key
    that exists (SeaweedFS 4.x and AWS answer 412). False when the key was already there."""
    try:
        client().put_object(
            Bucket=bucket(), Key=key, Body=data, ContentType=content_type, IfNoneMatch="*"
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in {"PreconditionFailed", "412"}:
            return False
        raise
    return True


def first_key(prefix: str) -> str | None:
    """The lexically first key under `prefix`, in one request."""
    listing = client().list_objects_v2(Bucket=bucket(), Prefix=prefix, MaxKeys=1)
    contents = listing.get("Contents", [])
    return contents[0]["Key"] if contents else None


def get_bytes(key: str) -> bytes:
    return client().get_object(Bucket=bucket(), Key=key)["Body"].read()


def upload_file(key: str, path: Path) -> None:
    """A file of any size (boto3 splits big ones into a multipart upload)."""
    client().upload_file(str(path), bucket(), key)


def keys(prefix: str) -> list[str]:
    found: list[str] = []
    for page in client().get_paginator("list_objects_v2").paginate(Bucket=bucket(), Prefix=prefix):
        found += [item["Key"] for item in page.get("Contents", [])]
    return found
