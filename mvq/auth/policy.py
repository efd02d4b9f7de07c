"""Who may do what: one named role set per kind of person, one check per action.

Services, the API's dependencies and the web pages' templates all ask this module, so a role
gains or loses an action here and nowhere else. Object-level rules (a unit sees its own
claims; staff linked to a unit never see that unit's) live here too.
"""

import enum

from mvq.auth.models import Role
from mvq.auth.service import Principal
from mvq.errors import Forbidden

REVIEWERS = frozenset({Role.reviewer, Role.senior})
SENIORS = frozenset({Role.senior})
# People who may look at claims without deciding them: reviewers to compare duplicates,
# admins and auditors to check the work. The marketplace's account is not a person.
STAFF = frozenset({Role.reviewer, Role.senior, Role.admin, Role.auditor})
ADMINS = frozenset({Role.admin})
AUDITORS = frozenset({Role.auditor})


class Action(enum.StrEnum):
    view_queue = "view_queue"
    review = "review"  # claim, hold a lease, decide
    take_escalated = "take_escalated"
    overturn = "overturn"
    view_disputes = "view_disputes"
    settle_disputes = "settle_disputes"
    decide_appeals = "decide_appeals"
    view_rules = "view_rules"
    edit_rules = "edit_rules"
    view_leaderboard = "view_leaderboard"
    manage_units = "manage_units"
    read_ledgers = "read_ledgers"
    record_debits = "record_debits"
    read_audit = "read_audit"
    download_evidence = "download_evidence"
    manage_webhooks = "manage_webhooks"
    manage_staff = "manage_staff"  # people's accounts, roles, passwords and second factors
    edit_labels = "edit_labels"


ALLOWED: dict[Action, frozenset[Role]] = {
    Action.view_queue: STAFF,
    Action.review: REVIEWERS,
    Action.take_escalated: SENIORS,
    Action.overturn: SENIORS,
    Action.view_disputes: SENIORS | ADMINS | AUDITORS,
    Action.settle_disputes: SENIORS,
    Action.decide_appeals: SENIORS,
    Action.view_rules: STAFF,
    Action.edit_rules: ADMINS,
    Action.view_leaderboard: STAFF,
    Action.manage_units: ADMINS,
    Action.read_ledgers: ADMINS | AUDITORS | {Role.marketplace},
    Action.record_debits: ADMINS | {Role.marketplace},
    Action.read_audit: AUDITORS,
    Action.download_evidence: AUDITORS | SENIORS,
    Action.manage_webhooks: ADMINS,
    Action.manage_staff: ADMINS,
    Action.edit_labels: ADMINS,
}

REFUSALS: dict[Action, str] = {
    Action.view_queue: "your role has no access to the review queue",
    Action.review: "only reviewers claim and decide items",
    Action.take_escalated: "only seniors take escalated items",
    Action.overturn: "only seniors overturn decisions",
    Action.view_disputes: "your role has no access to disputes",
    Action.settle_disputes: "only seniors settle disputes",
    Action.decide_appeals: "only seniors decide appeals",
    Action.view_rules: "staff only",
    Action.edit_rules: "only admins change the points rules",
    Action.view_leaderboard: "staff only",
    Action.manage_units: "only admins manage units",
    Action.read_ledgers: "your role may not read unit ledgers",
    Action.record_debits: "only admins and the marketplace record spends",
    Action.read_audit: "the audit log is for auditors",
    Action.download_evidence: "evidence bundles are for auditors and seniors",
    Action.manage_webhooks: "only admins register and change webhooks",
    Action.manage_staff: "only admins manage people's accounts",
    Action.edit_labels: "only admins edit labels",
}


def allows(principal: Principal, action: Action) -> bool:
    return principal.kind == "staff" and principal.role in ALLOWED[action]


def require(principal: Principal, action: Action) -> None:
    if not allows(principal, action):
        raise Forbidden(REFUSALS[action])


def is_staff(principal: Principal) -> bool:
    return principal.kind == "staff" and principal.role in STAFF


def may_read_claims(principal: Principal) -> bool:
    """Units and people on staff; the marketplace records spends and reads nothing else."""
    return principal.kind == "unit" or is_staff(principal)


def may_see_claim(principal: Principal, *, claim_unit_id: str) -> bool:
    """A unit sees only its own claims; a member of staff linked to a unit (a conflict of
    interest) never sees that unit's claims, on any path."""
    if principal.kind == "unit":
        return principal.unit_id == claim_unit_id
    return is_staff(principal) and principal.unit_id != claim_unit_id


def may_see_webhook(principal: Principal, *, endpoint_unit_id: str | None) -> bool:
    """Admins see every endpoint; a unit its own unit's; the marketplace's account the
    marketplace's (those of no unit), which hear of every unit."""
    if principal.kind == "unit":
        return endpoint_unit_id is not None and principal.unit_id == endpoint_unit_id
    if principal.kind != "staff":
        return False
    if principal.role == Role.marketplace:
        return endpoint_unit_id is None
    return allows(principal, Action.manage_webhooks)
