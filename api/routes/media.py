from fastapi import APIRouter

from edge.deps import NowDep, UnitDep
from edge.unit_of_work import SessionDep
from mvq.flows import intake
from mvq.media.schemas import MediaAccepted, MediaComplete

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
