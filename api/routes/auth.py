from fastapi import APIRouter, Request

from edge.deps import NowDep, client_address
from edge.unit_of_work import SessionDep, keep_so_far
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
        keep_so_far(session)  # a wrong code's audit and count stay
        raise
    return TokenOut(token=token, expires_at=service.staff_token_expiry(now))
