from fastapi import APIRouter, Request

from api.deps import NowDep, SessionDep, client_address
from mvq.auth import service, sign_in
from mvq.auth.schemas import TokenOut, TokenRequest
from mvq.errors import Unauthenticated

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


@router.post("/token", response_model=TokenOut)
def issue_token(body: TokenRequest, request: Request, session: SessionDep, now: NowDep) -> TokenOut:
    try:
        token = sign_in.api_token(
            session, email=body.email, password=body.password, otp=body.otp,
            client=client_address(request), now=now,
        )  # fmt: skip
    except Unauthenticated:
        session.commit()  # a wrong code's audit stays
        raise
    session.commit()
    return TokenOut(token=token, expires_at=service.staff_token_expiry(now))
