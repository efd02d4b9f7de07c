"""HTTP client for units: `mvq upload` and `mvq status`.

Built for poor links: every file is registered before any byte is sent, parts go up in
parallel and each is retried with backoff, and a run started again after a kill asks the
server which parts S3 already holds and sends only the rest.
"""

import hashlib
import json
import random
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TaskID, TransferSpeedColumn

CHUNK = 256 * 1024
PARALLEL_PARTS = 4
ATTEMPTS = 6
CONTENT_TYPES = {
    ".mp4": "video/mp4", ".mov": "video/quicktime", ".mkv": "video/x-matroska",
    ".webm": "video/webm", ".ts": "video/mp2t", ".avi": "video/x-msvideo",
    ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".webp": "image/webp",
}  # fmt: skip


class ClientError(Exception):
    pass


class UrlExpired(Exception):
    pass


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


class Throttle:
    """Caps the bytes per second of all parts together, for links shared with other traffic."""

    def __init__(self, bytes_per_second: float | None) -> None:
        self.rate = bytes_per_second
        self.lock = threading.Lock()
        self.next_free = time.monotonic()

    def take(self, size: int) -> None:
        if not self.rate:
            return
        with self.lock:
            now = time.monotonic()
            start = max(now, self.next_free)
            self.next_free = start + size / self.rate
        time.sleep(max(0.0, start - now))


@dataclass
class FileUpload:
    path: Path
    sha256: str
    media_id: str
    status: str
    upload: dict[str, Any]


def with_retries(action: Callable[[], httpx.Response], *, what: str) -> httpx.Response:
    """Retries transport errors and 5xx with exponential backoff and jitter."""
    for attempt in range(ATTEMPTS):
        try:
            response = action()
            if response.status_code < 500:
                return response
            problem = f"HTTP {response.status_code}"
        except httpx.TransportError as exc:
            problem = type(exc).__name__
        if attempt == ATTEMPTS - 1:
            raise ClientError(f"{what} failed after {ATTEMPTS} attempts: {problem}")
        time.sleep(min(30.0, 0.5 * 2**attempt) * (0.5 + random.random()))  # noqa: S311
    raise AssertionError("unreachable")


class Client:
    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: float = 60,
        limit_rate: float | None = None,
        console: Console | None = None,
    ) -> None:
        self.http = httpx.Client(
            base_url=base_url.rstrip("/"),
            timeout=timeout,
            headers={"Authorization": f"Bearer {token}"},
        )
        self.storage = httpx.Client(timeout=httpx.Timeout(60, write=300))
        self.throttle = Throttle(limit_rate)
        self.console = console or Console(stderr=True)

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = with_retries(
            lambda: self.http.request(method, path, **kwargs), what=f"{method} {path}"
        )
        if response.status_code >= 400:
            try:
                error = response.json()["error"]
                message = f"{error['code']}: {error['message']}"
            except (ValueError, KeyError, TypeError):
                message = response.text[:200]
            raise ClientError(f"HTTP {response.status_code} {message}")
        return response.json() if response.content else {}

    def submission(self, submission_id: str) -> dict[str, Any]:
        return self._call("GET", f"/api/v1/submissions/{submission_id}")

    def upload(
        self,
        files: list[Path],
        *,
        target_type: str,
        outcome: str,
        occurred_at: datetime,
        lat: float | None,
        lon: float | None,
        note: str | None,
    ) -> str:
        hashes = [file_sha256(f) for f in files]
        claim = {
            "target_type": target_type,
            "outcome": outcome,
            "occurred_at": occurred_at.isoformat(),
            "lat": lat,
            "lon": lon,
            "note": note,
        }
        # The same files and claim give the same key, so a re-run finds its submission.
        key = hashlib.sha256(json.dumps([hashes, claim], sort_keys=True).encode()).hexdigest()
        created = self._call(
            "POST", "/api/v1/submissions", json=claim, headers={"Idempotency-Key": key}
        )
        submission_id = str(created["id"])
        # Register every file first: once one completes, the claim accepts no new files.
        uploads = [
            self._register(submission_id, path, sha)
            for path, sha in zip(files, hashes, strict=True)
        ]
        for upload in uploads:
            if upload.status == "awaiting_upload":
                self._send(submission_id, upload)
                self._call("POST", f"/api/v1/media/{upload.media_id}/complete", json={})
        return submission_id

    def _register(self, submission_id: str, path: Path, sha256: str) -> FileUpload:
        content_type = CONTENT_TYPES.get(path.suffix.lower(), "application/octet-stream")
        plan = self._call(
            "POST",
            f"/api/v1/submissions/{submission_id}/media",
            json={
                "filename": path.name,
                "size": path.stat().st_size,
                "sha256": sha256,
                "content_type": content_type,
            },
        )
        return FileUpload(path, sha256, plan["media_id"], plan["status"], plan["upload"])

    def _send(self, submission_id: str, upload: FileUpload) -> None:
        size = upload.path.stat().st_size
        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            console=self.console,
            transient=True,
        ) as progress:
            task = progress.add_task(upload.path.name, total=size)
            if upload.upload["mode"] == "single":
                self._put_with_refresh(submission_id, upload, 1, 0, size, progress, task)
                return
            part_size = int(upload.upload["part_size"])
            count = -(-size // part_size)
            stored = {
                p["part_number"]
                for p in upload.upload.get("uploaded_parts", [])
                if p["size"] == min(part_size, size - (p["part_number"] - 1) * part_size)
            }
            if stored:
                self.console.print(
                    f"resuming {upload.path.name}: {len(stored)} of {count} parts already stored"
                )
                progress.update(
                    task, advance=sum(min(part_size, size - (n - 1) * part_size) for n in stored)
                )
            todo = [n for n in range(1, count + 1) if n not in stored]
            with ThreadPoolExecutor(PARALLEL_PARTS) as pool:
                for future in [
                    pool.submit(
                        self._put_with_refresh,
                        submission_id,
                        upload,
                        n,
                        (n - 1) * part_size,
                        min(part_size, size - (n - 1) * part_size),
                        progress,
                        task,
                    )
                    for n in todo
                ]:
                    future.result()

    def _put_with_refresh(
        self,
        submission_id: str,
        upload: FileUpload,
        part_number: int,
        offset: int,
        length: int,
        progress: Progress,
        task: TaskID,
    ) -> None:
        for _ in range(3):
            try:
                self._put(
                    upload.upload["urls"][part_number - 1], upload, offset, length, progress, task
                )
                return
            except UrlExpired:
                # Presigned URLs live minutes; a slow link outlives them. Ask for fresh ones.
                upload.upload = self._register(submission_id, upload.path, upload.sha256).upload
        raise ClientError("storage keeps refusing the presigned URL")

    def _put(
        self,
        url: str,
        upload: FileUpload,
        offset: int,
        length: int,
        progress: Progress,
        task: TaskID,
    ) -> None:
        sent = 0

        def body() -> Iterator[bytes]:
            nonlocal sent
            with upload.path.open("rb") as fh:
                fh.seek(offset)
                left = length
                while left > 0:
                    chunk = fh.read(min(CHUNK, left))
                    if not chunk:
                        return
                    self.throttle.take(len(chunk))
                    left -= len(chunk)
                    sent += len(chunk)
                    progress.update(task, advance=len(chunk))
                    yield chunk

        def attempt() -> httpx.Response:
            nonlocal sent
            progress.update(task, advance=-sent)
            sent = 0
            # Exactly the headers the server says the presigned URL was signed with.
            headers = {**upload.upload.get("headers", {}), "Content-Length": str(length)}
            return self.storage.put(url, content=body(), headers=headers)

        response = with_retries(attempt, what=f"upload of {upload.path.name}")
        if response.status_code == 403:
            raise UrlExpired
        if response.status_code >= 300:
            raise ClientError(f"storage refused the upload: HTTP {response.status_code}")
