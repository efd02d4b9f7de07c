"""HTTP client for units: used by `mvq upload` and `mvq status`."""

import hashlib
import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

CHUNK = 1 << 20
CONTENT_TYPES = {
    ".mp4": "video/mp4",
    ".mov": "video/quicktime",
    ".mkv": "video/x-matroska",
    ".webm": "video/webm",
    ".ts": "video/mp2t",
    ".avi": "video/x-msvideo",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".webp": "image/webp",
}


class ClientError(Exception):
    pass


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _read_chunks(path: Path, progress: Progress, task: Any) -> Iterator[bytes]:
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            progress.update(task, advance=len(chunk))
            yield chunk


class Client:
    def __init__(self, base_url: str, token: str, *, timeout: float = 60) -> None:
        self.http = httpx.Client(
            base_url=base_url.rstrip("/"),
            timeout=timeout,
            headers={"Authorization": f"Bearer {token}"},
        )

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = self.http.request(method, path, **kwargs)
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
        for path, sha in zip(files, hashes, strict=True):
            self._upload_file(submission_id, path, sha)
        return submission_id

    def _upload_file(self, submission_id: str, path: Path, sha256: str) -> None:
        size = path.stat().st_size
        content_type = CONTENT_TYPES.get(path.suffix.lower(), "video/mp4")
        plan = self._call(
            "POST",
            f"/api/v1/submissions/{submission_id}/media",
            json={
                "filename": path.name,
                "size": size,
                "sha256": sha256,
                "content_type": content_type,
            },
        )
        url = plan["upload"]["urls"][0]
        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            transient=True,
        ) as progress:
            task = progress.add_task(path.name, total=size)
            response = httpx.put(
                url,
                content=_read_chunks(path, progress, task),
                timeout=600,
                headers={"Content-Type": content_type, "Content-Length": str(size)},
            )
        if response.status_code >= 300:
            raise ClientError(f"storage refused the upload: HTTP {response.status_code}")
        self._call("POST", f"/api/v1/media/{plan['media_id']}/complete", json={})
