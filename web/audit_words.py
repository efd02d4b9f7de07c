"""The audit log in the reader's words: each action, object type and system actor named, and
an event's data as fields ("Claim: 0d9087d3…", "Reason: Було видно танк") rather than the JSON
the chain hashes. The stored codes stay searchable: the page links them and shows a code it
has no words for as code, never as a sentence."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from babel.numbers import format_decimal

from edge import i18n, outcome_words
from edge.i18n import N_, gettext
from web import diagnosis_words

NONE = "\N{EN DASH}"

ACTIONS = {
    "appeal.filed": N_("appeal filed"),
    "appeal.upheld": N_("appeal upheld"),
    "appeal.denied": N_("appeal denied"),
    "audit.verified": N_("chain verified"),
    "dispute.opened": N_("dispute opened"),
    "dispute.joined": N_("claim joined a dispute"),
    "dispute.settled": N_("dispute settled"),
    "dispute.reopened": N_("dispute reopened"),
    "evidence.exported": N_("evidence bundle downloaded"),
    "export.downloaded": N_("export downloaded"),
    "label.changed": N_("label changed"),
    "ledger.award": N_("points awarded"),
    "ledger.award_held": N_("award held in a dispute"),
    "ledger.debit": N_("points spent"),
    "ledger.reversal": N_("points taken back"),
    "ledger.reversed": N_("award reversed"),
    "media.registered": N_("file registered"),
    "media.uploaded": N_("file uploaded"),
    "media.sealed": N_("file sealed"),
    "media.processing": N_("file being checked"),
    "media.processed": N_("file checked"),
    "media.failed": N_("file failed"),
    "media.viewed": N_("footage viewed"),
    # Quality checks: what a golden or re-review item was is told here, never to the reviewer.
    "qa.golden_marked": N_("QA: marked as a golden item"),
    "qa.golden_decided": N_("QA: golden item answered"),
    "qa.rereview_sampled": N_("QA: decision sampled for blind re-review"),
    "qa.rereview_decided": N_("QA: blind re-review answered"),
    "qa.ruling": N_("QA: senior ruled on a re-review disagreement"),
    "qa.task_leased": N_("QA: item taken for review"),
    "qa.task_released": N_("QA: item returned"),
    "qa.undo": N_("QA: answer undone"),
    "review.leased": N_("taken for review"),
    "review.released": N_("returned to the queue"),
    "review.lease_expired": N_("review lease expired"),
    "review.approve": N_("approved"),
    "review.reject": N_("rejected"),
    "review.escalate": N_("escalated"),
    "review.overturn": N_("decision overturned"),
    "review.undo": N_("decision undone"),
    "review.note_added": N_("note added"),
    "review.reassigned": N_("handed to a reviewer"),
    "rules.version_created": N_("rules version created"),
    "rules.version_withdrawn": N_("rules version withdrawn"),
    "submission.created": N_("claim created"),
    "submission.time_from_footage": N_("claim's time taken from the file"),
    "submission.awaiting_upload": N_("claim waiting for the upload"),
    "submission.processing": N_("claim's footage being checked"),
    "submission.in_queue": N_("claim queued for review"),
    "submission.in_review": N_("claim in review"),
    "submission.approved": N_("claim approved"),
    "submission.rejected": N_("claim rejected"),
    "submission.escalated": N_("claim escalated"),
    "submission.failed": N_("claim failed"),
    "unit.created": N_("unit created"),
    "unit.deactivated": N_("unit deactivated"),
    "unit.renamed": N_("unit renamed"),
    "unit.token_created": N_("unit token created"),
    "unit.token_rotated": N_("unit token replaced"),
    "unit.tokens_revoked": N_("unit tokens revoked"),
    "user.created": N_("account created"),
    "user.deactivated": N_("account deactivated"),
    "user.login": N_("signed in"),
    "user.logout": N_("signed out"),
    "user.password_reset": N_("password reset"),
    "user.preferences_changed": N_("preferences changed"),
    "user.recovery_code_used": N_("recovery code used"),
    "user.role_changed": N_("role changed"),
    "user.second_factor_enrolled": N_("second factor enrolled"),
    "user.second_factor_failed": N_("wrong second-factor code"),
    "user.second_factor_reset": N_("second factor reset"),
    "user.token_issued": N_("API token issued"),
    "webhook.registered": N_("webhook registered"),
    "webhook.disabled": N_("webhook disabled"),
    "webhook.replayed": N_("webhook deliveries replayed"),
    "webhook.secret_rotated": N_("webhook secret replaced"),
}
OBJECTS = {
    "appeal": N_("appeal"),
    "audit_log": N_("audit log"),
    "decision": N_("decision"),
    "dispute": N_("dispute"),
    "item_note": N_("note"),
    "disputes": N_("disputes"),
    "export": N_("export"),
    "label": N_("label"),
    "ledger_entry": N_("ledger entry"),
    "qa_golden": N_("golden item"),
    "qa_record": N_("QA record"),
    "qa_rereview": N_("blind re-review"),
    "qa_task": N_("QA item"),
    "media": N_("file"),
    "review_item": N_("review item"),
    "rule_version": N_("rules version"),
    "staff_user": N_("account"),
    "submission": N_("claim"),
    "unit": N_("unit"),
    "webhook_endpoint": N_("webhook"),
}
# The jobs that act on their own (`system:<job>`).
SYSTEM = {"seed": N_("demo data"), "disputes": N_("dispute finder"),
          "lease": N_("lease sweeper"), "bootstrap": N_("first start"),
          "qa": N_("quality sampler")}  # fmt: skip
FIELDS = {
    "submission_id": N_("claim"), "submissions": N_("claims"), "decision_id": N_("decision"),
    "dispute_id": N_("dispute"), "review_item_id": N_("review item"),
    "rejection_id": N_("rejection"), "media_id": N_("file"), "media": N_("files"),
    "unit_id": N_("unit"), "rule_version_id": N_("rules version"), "reason": N_("reason"),
    "reason_code": N_("reason"), "comment": N_("comment"), "note": N_("note"),
    "target_type": N_("target"), "outcome": N_("outcome"), "claim_status": N_("claim status"),
    "status": N_("status"), "from": N_("from"), "to": N_("to"), "via": N_("by way of"),
    "email": N_("e-mail"), "role": N_("role"), "name": N_("name"), "points": N_("points"),
    "paid_before": N_("paid before"), "row_sha256": N_("row's SHA-256"),
    "sha256": N_("SHA-256"), "size": N_("size, bytes"), "objects": N_("stored objects"),
    "language": N_("language"), "time_zone": N_("time zone"),
    "effective_from": N_("in force from"), "rules": N_("rules"), "cause": N_("cause"),
    "url": N_("address"), "events": N_("events"), "count": N_("count"), "kind": N_("kind"),
    "signals": N_("signals"), "same_footage": N_("the same footage"),
    "same_place_time": N_("same place and time"), "share": N_("share of frames"),
    "distance_m": N_("distance, m"),
    "minutes_apart": N_("minutes apart"), "min_distance": N_("closest frames' distance"),
    "first_bad_seq": N_("first bad event"), "up_to": N_("up to event"), "head": N_("head hash"),
    "seconds": N_("seconds"), "ok": N_("intact"), "problem": N_("problem"),
    "witnessed": N_("witnesses checked"), "witnesses": N_("witnesses configured"),
    "occurred_at": N_("time"), "expires_at": N_("expires"),
    "frames": N_("frames"), "code": N_("code"), "detail": N_("detail"), "attempt": N_("attempt"),
    "automatic": N_("automatic"), "deliveries": N_("deliveries"), "decision": N_("decision"),
    "stage": N_("stage"), "tokens_revoked": N_("tokens revoked"),
    "members_disabled": N_("members' accounts disabled"), "grace_seconds": N_("grace, s"),
    "mentioned_ids": N_("mentioned"), "holder": N_("held by"),
    "correct": N_("right"), "rereview_id": N_("blind re-review"),
}  # fmt: skip
VALUES = {
    "via": {"web": N_("web page"), "cli": N_("command line"), "api_token": N_("API token")},
    "kind": {"same_footage": N_("the same footage"), "same_place_time": N_("same place and time"),
             "award": N_("award"), "reversal": N_("reversal"), "debit": N_("spending")},
    "role": {"reviewer": N_("reviewer"), "senior": N_("senior"), "admin": N_("admin"),
             "auditor": N_("auditor"), "marketplace": N_("marketplace"),
             "unit": N_("unit member")},
    "decision": {"approve": N_("approved"), "reject": N_("rejected"),
                 "escalate": N_("escalated")},
}  # fmt: skip
# A claim's statuses, as the staff tables name them (_names.html status_labels).
STATUSES = {"awaiting_upload": N_("awaiting upload"), "processing": N_("processing"),
            "in_queue": N_("in the queue"), "in_review": N_("in review"),
            "approved": N_("approved"), "rejected": N_("rejected"),
            "escalated": N_("escalated"), "failed": N_("failed"), "open": N_("open"),
            "settled": N_("settled"), "pending": N_("pending"), "upheld": N_("upheld"),
            "denied": N_("denied")}  # fmt: skip
STATUS_KEYS = ("claim_status", "status", "from", "to")
# Values that are data, shown as stored: ids, hashes, addresses, stored keys and names. (The
# verifier's diagnosis, `problem`, is said in words by web.diagnosis_words.)
LITERAL_KEYS = {"objects", "sha256", "row_sha256", "head", "url", "email", "name",
                "code", "detail", "language", "time_zone"}  # fmt: skip


def action_words(code: str) -> str | None:
    return gettext(ACTIONS[code]) if code in ACTIONS else None


def object_words(code: str) -> str | None:
    return gettext(OBJECTS[code]) if code in OBJECTS else None


def system_words(job: str) -> str:
    return gettext(SYSTEM[job]) if job in SYSTEM else job


@dataclass(frozen=True)
class Field:
    key: str
    label: str | None  # None: no words for this key; the page shows the key as code
    value: Any  # a str, or a list of Fields for a nested object
    literal: bool = False  # data as stored (an id, a hash, a key), not words


def _value(key: str, value: Any, *, words: Mapping[str, Mapping[str, str]]) -> Any:
    if value is None:
        return NONE
    if isinstance(value, bool):
        return gettext("yes") if value else gettext("no")
    if isinstance(value, int | float):
        return format_decimal(value, locale=i18n.lang())
    if value == {} or value == []:
        return NONE
    if key == "problem" and isinstance(value, str):  # the chain verifier's diagnosis
        return diagnosis_words.in_words(value)
    if isinstance(value, dict):
        return fields(value, words=words)
    if isinstance(value, list):
        items = [_value(key, v, words=words) for v in value]
        if all(isinstance(i, str) for i in items):
            return ", ".join(items)
        return [Field(str(n + 1), str(n + 1), i) for n, i in enumerate(items)]
    text = str(value)
    known = words.get(key, {})
    return known.get(text, text)


def fields(data: Mapping[str, Any] | None, *,
           words: Mapping[str, Mapping[str, str]] | None = None) -> list[Field]:  # fmt: skip
    """An event's data as labelled fields, in the reader's language."""
    if words is None:
        cache = i18n.cached() or {}
        statuses = {c: gettext(t) for c, t in STATUSES.items()}
        words = {k: {c: gettext(t) for c, t in v.items()} for k, v in VALUES.items()}
        words |= {kind: outcome_words.labels(kind, cache.get(f"labels:{kind}", {}))
                  for kind in ("target_type", "outcome", "reject_reason")}  # fmt: skip
        words["reason_code"] = words.pop("reject_reason")
        words |= {k: statuses for k in STATUS_KEYS}
    return [Field(key, gettext(FIELDS[key]) if key in FIELDS else None,
                  _value(key, value, words=words),
                  literal=key in LITERAL_KEYS or key.endswith("_id") or key.endswith("_ids"))
            for key, value in (data or {}).items()]  # fmt: skip
