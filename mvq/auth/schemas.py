from datetime import datetime

from pydantic import BaseModel, Field


class TokenRequest(BaseModel):
    email: str = Field(min_length=3, max_length=320)
    password: str = Field(min_length=1, max_length=200)
    # The second factor, for the roles that need one: a TOTP code or a recovery code.
    otp: str | None = Field(default=None, max_length=40)


class TokenOut(BaseModel):
    token: str
    expires_at: datetime
