from fastapi import APIRouter

from edge.deps import NowDep, UnitDep
from edge.unit_of_work import SessionDep
from mvq.flows import intake
from mvq.media import chunks, uploads
from mvq.media.schemas import (
    ChunkPlanOut,
    ChunksIn,
    ChunkSpan,
    ChunkUrlOut,
    MediaAccepted,
    MediaComplete,
    StoredPart,
)

router = APIRouter(prefix="/api/v1/media", tags=["media"])


@router.post("/{media_id}/complete", status_code=202, response_model=MediaAccepted)
def complete_upload(
    media_id: str,
    principal: UnitDep,
    session: SessionDep,
    now: NowDep,
    body: MediaComplete | None = None,
) -> MediaAccepted:
    parts = [p.model_dump() for p in body.parts] if body and body.parts is not None else None
    media = intake.complete_upload(
        session, principal=principal, media_id=media_id, parts=parts, now=now
    )
    return MediaAccepted(
        media_id=media.id, status=media.status, failure_reason=media.failure_reason
    )


@router.post("/{media_id}/chunks", response_model=ChunkPlanOut)
def stage_chunks(
    media_id: str, principal: UnitDep, session: SessionDep, body: ChunksIn | None = None
) -> ChunkPlanOut:
    """A slow link's small chunks (mvq.media.chunks): short-lived URLs for those asked for that
    storage lacks, and what it holds, so a resuming client sends nothing twice."""
    wanted = [chunks.Chunk(c.offset, c.size, c.sha256) for c in (body.chunks if body else [])]
    plan = uploads.stage_chunks(session, principal=principal, media_id=media_id, wanted=wanted)
    return ChunkPlanOut(
        part_size=plan.part_size,
        expires_in=plan.expires_in,
        urls=[
            ChunkUrlOut(offset=u.chunk.offset, size=u.chunk.size, url=u.url, headers=u.headers)
            for u in plan.urls
        ],
        staged=[ChunkSpan(offset=c.offset, size=c.size) for c in plan.staged],
        parts=[StoredPart(**p) for p in plan.parts],
    )
