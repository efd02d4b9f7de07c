from pydantic import BaseModel, Field


class MediaCreate(BaseModel):
    filename: str = Field(min_length=1, max_length=1000)
    size: int = Field(gt=0)
    sha256: str = Field(min_length=64, max_length=64)
    content_type: str = Field(min_length=3, max_length=100)
    part_size: int | None = Field(
        default=None,
        ge=5 * 1024**2,
        le=5 * 1024**3,
        description="the part size the client asks for (bytes, S3's bounds: 5 MiB to 5 GiB), "
        "from the link it measured; heeded when the file is first registered, raised if the "
        "file would need more than 10,000 parts. Omitted: the server's default.",
    )


class UploadedPart(BaseModel):
    part_number: int
    etag: str
    size: int


class UploadInstructions(BaseModel):
    mode: str = Field(description="single: one PUT to urls[0]; multipart: PUT part n to urls[n-1]")
    part_size: int
    urls: list[str] = Field(description="presigned, valid for expires_in seconds")
    headers: dict[str, str] = Field(
        description="every header each PUT must carry, exactly as given; no others are needed"
    )
    expires_in: int
    uploaded_parts: list[UploadedPart] = Field(
        default_factory=list, description="parts already stored: a resuming client skips them"
    )


class MediaCreated(BaseModel):
    media_id: str
    status: str
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
