"""Exports and evidence bundles as one zip file each, for a download over HTTP. Built in a
temporary directory; the caller streams the zip and removes it."""

import shutil
import tempfile
import zipfile
from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session

from mvq.auth import policy
from mvq.auth.policy import Action
from mvq.auth.principal import Principal
from mvq.errors import Forbidden
from mvq.exports import dataset, evidence
from mvq.submissions import service as submissions


def zip_directory(directory: Path) -> Path:
    """The directory as one zip beside it; the directory is removed."""
    archive = directory.with_suffix(".zip")
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(directory.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(directory))
    shutil.rmtree(directory, ignore_errors=True)
    return archive


def export_archive(
    session: Session,
    *,
    auditor: Principal,
    since: datetime | None,
    until: datetime | None,
    fmt: str,
) -> Path:
    policy.require(auditor, Action.read_audit)
    if auditor.unit_id is not None:
        # The export is every row, signed and chained: it cannot leave out the linked unit's
        # claims and still verify, so a linked auditor leaves it to an unlinked one.
        raise Forbidden(
            "you are linked to a unit, and the full export holds its claims; ask an auditor "
            "who is not",
            code="linked_to_unit",
        )
    work = Path(tempfile.mkdtemp(prefix="mvq-export-")) / "export"
    try:
        dataset.export(session, out=work, fmt=fmt, since=since, until=until)
    except BaseException:
        shutil.rmtree(work.parent, ignore_errors=True)
        raise
    # Recorded once the export exists: a failed export is no download. The next export's chain
    # covers this event.
    dataset.record_download(session, actor=auditor.actor, fmt=fmt, since=since, until=until)
    session.commit()
    return zip_directory(work)


def evidence_archive(session: Session, *, requester: Principal, submission_id: str) -> Path:
    policy.require(requester, Action.download_evidence)
    # A senior linked to a unit does not hand out that unit's evidence: not found.
    submissions.get_visible(session, principal=requester, submission_id=submission_id)
    work = Path(tempfile.mkdtemp(prefix="mvq-evidence-")) / submission_id
    evidence.build(
        session, submission_id=submission_id, out=work, actor=requester.actor, viewer=requester
    )
    session.commit()
    return zip_directory(work)
