from fastapi import APIRouter, Request

from api.deps import NowDep, SessionDep, client_address
from mvq.auth import service
from mvq.auth.schemas import TokenOut, TokenRequest

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


@router.post("/token", response_model=TokenOut)
def issue_token(body: TokenRequest, request: Request, session: SessionDep, now: NowDep) -> TokenOut:
    user = service.login(
        session, email=body.email, password=body.password, client=client_address(request)
    )
    token = service.issue_staff_token(session, user=user, now=now)
    session.commit()
    return TokenOut(token=token, expires_at=service.staff_token_expiry(now))
