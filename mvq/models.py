"""Imports every model so that `Base.metadata` is complete (Alembic, tests)."""

from mvq.audit.models import AuditEvent
from mvq.auth.models import ApiToken, StaffUser
from mvq.db import Base
from mvq.matching.models import IndexedFrame, IndexedKeyframe, IndexRehash
from mvq.media.models import Frame, Media
from mvq.review.models import (
    Appeal,
    Decision,
    ItemNote,
    NoteMention,
    ReasonPolicy,
    ReviewItem,
    ReviewWarning,
)
from mvq.review.qa.models import GoldenItem, QaRecord, QaTask, Rereview
from mvq.rules.models import Label, Rule, RuleVersion
from mvq.scoring.models import LedgerEntry
from mvq.submissions.models import Flag, Submission
from mvq.units.models import Unit
from mvq.webhooks.models import (
    WebhookAttempt,
    WebhookCursor,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)

__all__ = [
    "ApiToken",
    "Appeal",
    "AuditEvent",
    "Base",
    "Decision",
    "Flag",
    "Frame",
    "GoldenItem",
    "IndexRehash",
    "IndexedFrame",
    "IndexedKeyframe",
    "ItemNote",
    "Label",
    "LedgerEntry",
    "Media",
    "NoteMention",
    "QaRecord",
    "QaTask",
    "ReasonPolicy",
    "Rereview",
    "ReviewItem",
    "ReviewWarning",
    "Rule",
    "RuleVersion",
    "StaffUser",
    "Submission",
    "Unit",
    "WebhookAttempt",
    "WebhookCursor",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookEvent",
]
