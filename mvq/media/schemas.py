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


class ChunkIn(BaseModel):
    offset: int = Field(ge=0)
    size: int = Field(gt=0, le=5 * 1024**3)
    sha256: str = Field(pattern="^[0-9a-f]{64}$", description="the chunk's SHA-256, lowercase hex")


class ChunksIn(BaseModel):
    chunks: list[ChunkIn] = Field(
        default_factory=list,
        max_length=32,
        description="the chunks about to be sent; none: only what storage holds is wanted",
    )


class ChunkSpan(BaseModel):
    offset: int
    size: int


class ChunkUrlOut(ChunkSpan):
    url: str = Field(description="presigned PUT, valid for expires_in seconds, these bytes only")
    headers: dict[str, str]


class StoredPart(BaseModel):
    part_number: int
    size: int


class ChunkPlanOut(BaseModel):
    part_size: int
    expires_in: int
    urls: list[ChunkUrlOut] = Field(description="one for each chunk asked for that is not stored")
    staged: list[ChunkSpan] = Field(description="chunks storage holds, outside stored parts")
    parts: list[StoredPart] = Field(description="whole parts storage holds")
