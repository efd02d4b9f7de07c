"""Which ended credentials may go, a batch at a time (mvq.pruning runs the batches).

A person's session or sign-in token goes once it ended (expired, or revoked by a logout, a
reset or a deactivation) before the cutoff; a used recovery code once it was used before the
cutoff. A unit's tokens stay: they are few, and their rotations are the unit's history. Pending
logins (the second-factor step) are signed cookies that expire by themselves: nothing is stored
to prune. A row the audit log names as its object is kept (none is today: the log names the
person, never a token or a code).
"""

from datetime import datetime

from sqlalchemy import delete, exists, or_, select
from sqlalchemy.orm import Session

from mvq.audit.models import AuditEvent
from mvq.auth.models import ApiToken, RecoveryCode


def prune_tokens_batch(session: Session, *, cutoff: datetime, limit: int) -> int:
    """Removes up to `limit` ended tokens of people; the caller commits."""
    ids = list(
        session.scalars(
            select(ApiToken.id)
            .where(
                ApiToken.user_id.is_not(None),
                or_(ApiToken.expires_at < cutoff, ApiToken.revoked_at < cutoff),
                ~exists().where(AuditEvent.object_id == ApiToken.id),
            )
            .limit(limit)
        )
    )
    return _delete(session, ApiToken, ids)


def prune_codes_batch(session: Session, *, cutoff: datetime, limit: int) -> int:
    """Removes up to `limit` recovery codes used before `cutoff`; the caller commits. A used
    code cannot be used again whether or not its row stays: only an unused row is accepted."""
    ids = list(
        session.scalars(
            select(RecoveryCode.id)
            .where(
                RecoveryCode.used_at < cutoff,
                ~exists().where(AuditEvent.object_id == RecoveryCode.id),
            )
            .limit(limit)
        )
    )
    return _delete(session, RecoveryCode, ids)


def _delete(session: Session, model: type[ApiToken] | type[RecoveryCode], ids: list[str]) -> int:
    if not ids:
        return 0
    result = session.execute(delete(model).where(model.id.in_(ids)))
    return int(result.rowcount)  # type: ignore[attr-defined]
