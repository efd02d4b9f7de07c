from pathlib import Path

from fastapi.responses import FileResponse
from starlette.background import BackgroundTask


def streamed(archive: Path, name: str) -> FileResponse:
    """A zip built on disk, streamed to the client, then removed."""
    return FileResponse(archive, media_type="application/zip", filename=name,
                        background=BackgroundTask(archive.unlink, missing_ok=True))  # fmt: skip
