from fastapi import APIRouter, Request

from edge.deps import NowDep, client_address
from edge.unit_of_work import SessionDep, keep_so_far
from mvq.auth import second_factor, service
from mvq.auth.schemas import TokenOut, TokenRequest
from mvq.errors import Unauthenticated

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


@router.post("/token", response_model=TokenOut)
def issue_token(body: TokenRequest, request: Request, session: SessionDep, now: NowDep) -> TokenOut:
    client = client_address(request)
    user = service.login(session, email=body.email, password=body.password, client=client)
    if second_factor.in_use(user):
        if not body.otp or not body.otp.strip():
            raise Unauthenticated("this account needs a second factor: send otp (a TOTP code "
                                  "or a recovery code)", code="otp_required")  # fmt: skip
        try:
            second_factor.verify(session, user=user, code=body.otp, client=client, now=now,
                                 via="api_token")  # fmt: skip
        except Unauthenticated:
            keep_so_far(session)  # the failure's audit and count stay
            raise
    token = service.issue_staff_token(session, user=user, now=now)
    return TokenOut(token=token, expires_at=service.staff_token_expiry(now))
