from sqlalchemy import ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from mvq.db import Base


class IndexedFrame(Base):
    """A frame usable for matching (PDQ quality high enough), in arrival order.

    `seq` only grows, so every worker's index catches up with the others by asking for the
    rows after the last one it holds, and a segment is the rows of one `seq` range; the
    database stays the truth.
    """

    __tablename__ = "indexed_frames"

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
