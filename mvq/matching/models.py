from sqlalchemy import BigInteger, ForeignKey, Index, LargeBinary, SmallInteger, String, text
from sqlalchemy.orm import Mapped, mapped_column

from mvq.db import Base

# How a row's hashes were made. NULL: before this column, at the still's 640 px and without
# every variant (the caption, vertical and 4:5 ones may be missing); 2: the current scheme,
# `hashing.frame_hashes` at HASH_SIDE with every variant. `mvq index rehash` brings the
# NULL rows to this one (rehash.py).
SCHEME = 2


class IndexedFrame(Base):
    """A frame usable for matching (PDQ quality high enough), in arrival order.

    `seq` only grows, so every worker's index catches up with the others by asking for the
    rows after the last one it holds, and a segment is the rows of one `seq` range; the
    database stays the truth.
    """

    __tablename__ = "indexed_frames"
    # The re-hash's backlog, found without reading the rows already current.
    __table_args__ = (Index("ix_indexed_frames_old", "seq", sqlite_where=text("scheme IS NULL"),
                            postgresql_where=text("scheme IS NULL")),)  # fmt: skip

    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    frame_id: Mapped[str] = mapped_column(ForeignKey("frames.id"), unique=True)
    media_id: Mapped[str] = mapped_column(ForeignKey("media.id"), index=True)
    t_seconds: Mapped[float]
    # Consecutive stills nearly alike are indexed once: the last moment this one stands for.
    t_until: Mapped[float | None]
    pdq: Mapped[str] = mapped_column(String(64))
    pdq_center: Mapped[str] = mapped_column(String(64))
    pdq_upper: Mapped[str | None] = mapped_column(String(64))
    pdq_9x16: Mapped[str | None] = mapped_column(String(64))
    pdq_4x5: Mapped[str | None] = mapped_column(String(64))
    scheme: Mapped[int | None] = mapped_column(SmallInteger, default=SCHEME)


class IndexRehash(Base):
    """How far the re-hash of old rows (rehash.py) has come: every old row at or below
    `position` was re-hashed, or left as it was because its still is gone (the old rows left
    at or below it). One row."""

    __tablename__ = "index_rehash"

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger)


class IndexedKeyframe(Base):
    """A keyframe's ORB keypoints, for matching past crops, insets and screens (features.py).

    Stored, not recomputed from the stills: the compaction job builds the keyframe segments
    (segments.py) from these rows, and fetching and decoding every still from S3 for that would
    cost more than the 14 KB a keyframe takes here. `seq` grows as `IndexedFrame.seq` does, so
    workers catch up the same way."""

    __tablename__ = "indexed_keyframes"

    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    media_id: Mapped[str] = mapped_column(ForeignKey("media.id"), index=True)
    t_seconds: Mapped[float]
    width: Mapped[int]
    height: Mapped[int]
    points: Mapped[bytes] = mapped_column(LargeBinary)  # (n, 2) float16
    descriptors: Mapped[bytes] = mapped_column(LargeBinary)  # (n, 32) bytes
