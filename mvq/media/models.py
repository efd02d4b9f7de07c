import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from mvq.db import Base, utcnow
from mvq.ids import new_id


class MediaStatus(enum.StrEnum):
    awaiting_upload = "awaiting_upload"
    uploaded = "uploaded"
    processing = "processing"
    processed = "processed"
    failed = "failed"


class Media(Base):
    """One uploaded file. The client writes to `upload_key` (a staging key, the only one any
    presigned URL names); the worker copies it server-side to `s3_key`, the sealed original
    that every reader uses. `upload_key` is NULL for files uploaded before that split."""

    __tablename__ = "media"
    # Registering the same file again for the same claim resumes it instead of duplicating it.
    __table_args__ = (UniqueConstraint("submission_id", "declared_sha256"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    submission_id: Mapped[str] = mapped_column(ForeignKey("submissions.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), index=True)
    failure_reason: Mapped[str | None] = mapped_column(String(40))
    failure_detail: Mapped[str | None] = mapped_column(String(500))
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    declared_size: Mapped[int] = mapped_column(BigInteger)
    declared_sha256: Mapped[str] = mapped_column(String(64))
    s3_key: Mapped[str] = mapped_column(String(200), unique=True)
    upload_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    upload_id: Mapped[str | None] = mapped_column(String(200))
    part_size: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    size: Mapped[int | None] = mapped_column(BigInteger)
    kind: Mapped[str | None] = mapped_column(String(10))
    container: Mapped[str | None] = mapped_column(String(100))
    duration_seconds: Mapped[float | None]
    width: Mapped[int | None]
    height: Mapped[int | None]
    # What the file says of itself; queried columns here, everything else in `probe`.
    captured_at: Mapped[datetime | None]
    gps_lat: Mapped[float | None]
    gps_lon: Mapped[float | None]
    device_make: Mapped[str | None] = mapped_column(String(100))
    device_model: Mapped[str | None] = mapped_column(String(100))
    encoder: Mapped[str | None] = mapped_column(String(100))
    video_codec: Mapped[str | None] = mapped_column(String(20))
    fps: Mapped[float | None]
    bit_rate: Mapped[int | None] = mapped_column(BigInteger)
    c2pa_status: Mapped[str | None] = mapped_column(String(10))
    probe: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    thumbnail_key: Mapped[str | None] = mapped_column(String(200))
    contact_sheet_key: Mapped[str | None] = mapped_column(String(200))
    # Job runs started; a file that keeps killing workers is failed instead of retried forever.
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    uploaded_at: Mapped[datetime | None]
    processed_at: Mapped[datetime | None]


class Frame(Base):
    """A still taken from a media file, stored as a small JPEG."""

    __tablename__ = "frames"
    __table_args__ = (UniqueConstraint("media_id", "index"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    media_id: Mapped[str] = mapped_column(ForeignKey("media.id"), index=True)
    index: Mapped[int]
    t_seconds: Mapped[float]
    s3_key: Mapped[str] = mapped_column(String(200))
    width: Mapped[int]
    height: Mapped[int]
    pdq: Mapped[str] = mapped_column(String(64))
    pdq_quality: Mapped[int]
    pdq_center: Mapped[str | None] = mapped_column(String(64))
    pdq_mirror: Mapped[str | None] = mapped_column(String(64))
    pdq_upper: Mapped[str | None] = mapped_column(String(64))
    pdq_9x16: Mapped[str | None] = mapped_column(String(64))
    pdq_4x5: Mapped[str | None] = mapped_column(String(64))
