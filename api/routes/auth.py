from fastapi import APIRouter

from api.deps import NowDep, SessionDep
from mvq.auth import service
from mvq.auth.schemas import TokenOut, TokenRequest

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


@router.post("/token", response_model=TokenOut)
def issue_token(body: TokenRequest, session: SessionDep, now: NowDep) -> TokenOut:
    user = service.check_password(session, email=body.email, password=body.password)
    token = service.issue_staff_token(session, user=user, now=now)
    session.commit()
    return TokenOut(token=token, expires_at=service.staff_token_expiry(now))
