from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from mvq import queue, storage
from mvq.db import get_engine

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "a backing service is down"}})
def readyz() -> JSONResponse:
    checks: dict[str, Any] = {}
    for name, probe in (("database", _db), ("redis", _redis), ("s3", storage.ping)):
        try:
            probe()
            checks[name] = "ok"
        except Exception as exc:
            checks[name] = f"down: {type(exc).__name__}"
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not_ready", "checks": checks},
        status_code=200 if ready else 503,
    )


def _db() -> None:
    with get_engine().connect() as conn:
        conn.execute(text("SELECT 1"))


def _redis() -> None:
    queue.redis_conn().ping()
