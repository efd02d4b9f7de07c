"""Processed clips written straight to the database (a claim, its file, its frames), as a
worker leaves them before matching: for tests and benches of the frame index that need
thousands of clips without running ffmpeg on each."""

import uuid
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from mvq.media.models import Frame, Media, MediaStatus
from mvq.submissions.models import Submission


def add_clip(session: Session, unit_id: str, hashes: list[str]) -> str:
    """One still a second with these PDQ hashes (every variant the same); the file's id. Its
    frames are not indexed yet: `matching.index_frames` does that."""
    submission = Submission(unit_id=unit_id, status="processing", target_type="tank",
                            outcome="destroyed", occurred_at=datetime.now(UTC))  # fmt: skip
    session.add(submission)
    session.flush()
    media = Media(submission_id=submission.id, status=MediaStatus.processed, filename="c.mp4",
                  content_type="video/mp4", declared_size=1, declared_sha256="0" * 64,
                  s3_key=f"originals/{uuid.uuid4()}")  # fmt: skip
    session.add(media)
    session.flush()
    session.add_all(Frame(media_id=media.id, index=n, t_seconds=float(n), s3_key=f"f/{n}",
                          width=64, height=64, pdq=pdq, pdq_quality=100)
                    for n, pdq in enumerate(hashes))  # fmt: skip
    session.flush()
    return media.id
