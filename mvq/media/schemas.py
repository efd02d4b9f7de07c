from pydantic import BaseModel, Field


class MediaCreate(BaseModel):
    filename: str = Field(min_length=1, max_length=1000)
    size: int = Field(gt=0)
    sha256: str = Field(min_length=64, max_length=64)
    content_type: str = Field(min_length=3, max_length=100)


class UploadInstructions(BaseModel):
    mode: str
    part_size: int
    urls: list[str]
    expires_in: int


class MediaCreated(BaseModel):
    media_id: str
    upload: UploadInstructions


class PartIn(BaseModel):
    part_number: int = Field(ge=1, le=10000)
    etag: str = Field(min_length=1, max_length=200)


class MediaComplete(BaseModel):
    parts: list[PartIn] | None = None


class MediaAccepted(BaseModel):
    media_id: str
    status: str
    failure_reason: str | None = None
