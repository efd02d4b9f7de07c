"""Who may do what: one named role set per kind of person, one check per action.

Every service that changes or reveals something asks this module itself, with the principal
it is given; routes only say who is asking, and the pages' templates ask it what to show. So a
role gains or loses an action here and nowhere else, and no other module compares roles: what
an account's role means (a unit's member, a service account, an admin, who needs a second
factor) is answered here too. Object-level rules (a unit sees its own claims; staff linked to a
unit never see that unit's) live here as well.
"""

import enum

from sqlalchemy import ColumnElement

from mvq.auth.models import Role, StaffUser
from mvq.auth.principal import Principal
from mvq.errors import Forbidden

REVIEWERS = frozenset({Role.reviewer, Role.senior})
SENIORS = frozenset({Role.senior})
# People who may look at claims without deciding them: reviewers to compare duplicates,
# admins and auditors to check the work. The marketplace's account is not a person.
STAFF = frozenset({Role.reviewer, Role.senior, Role.admin, Role.auditor})
ADMINS = frozenset({Role.admin})
AUDITORS = frozenset({Role.auditor})
# The roles an admin gives people on staff (a unit's member is added to a unit instead).
STAFF_ROLES = tuple(r for r in Role if r != Role.unit)
# Roles that must sign in with a second factor; reviewers too when the settings say so.
SECOND_FACTOR_ROLES = frozenset({Role.senior, Role.admin, Role.auditor, Role.marketplace})

# The command line runs with the database's own credentials: whoever holds them administers
# the system already, so its operator may do what an admin may. Its audit actor is "cli:admin".
OPERATOR = Principal(kind="cli", id="admin", role=Role.admin)


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
    write_notes = "write_notes"  # a note on an item's thread
    act_in_bulk = "act_in_bulk"  # escalate, reassign, release or reject many items at once
    edit_policy = "edit_policy"  # the written policy behind each decision reason
    mark_golden = "mark_golden"
    rule_rereviews = "rule_rereviews"  # decide a blind re-review's disagreement
    # Everyone's review figures (stats, calibration); a reviewer reads only their own.
    read_everyones_figures = "read_everyones_figures"


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
    Action.write_notes: REVIEWERS,
    Action.act_in_bulk: SENIORS,
    Action.edit_policy: ADMINS,
    Action.mark_golden: SENIORS,
    Action.rule_rereviews: SENIORS,
    Action.read_everyones_figures: SENIORS | ADMINS | AUDITORS,
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
    Action.write_notes: "only reviewers and seniors write notes on items",
    Action.act_in_bulk: "only seniors act on many items at once",
    Action.edit_policy: "only admins write the decision policy",
    Action.mark_golden: "only seniors mark golden items",
    Action.rule_rereviews: "only seniors rule on re-review disagreements",
    Action.read_everyones_figures: "a reviewer reads only their own figures",
}


def allows(principal: Principal, action: Action) -> bool:
    return principal.kind in ("staff", "cli") and principal.role in ALLOWED[action]


def require(principal: Principal, action: Action) -> None:
    if not allows(principal, action):
        raise Forbidden(REFUSALS[action])


def acts_for_unit(principal: Principal) -> bool:
    """A unit's token, or a member signed in for the unit."""
    return principal.kind == "unit"


def is_staff(principal: Principal) -> bool:
    return principal.kind == "staff" and principal.role in STAFF


def may_read_claims(principal: Principal) -> bool:
    """Units and people on staff; the marketplace records spends and reads nothing else."""
    return acts_for_unit(principal) or is_staff(principal)


def may_see_claim(principal: Principal, *, claim_unit_id: str) -> bool:
    """A unit sees only its own claims; a member of staff linked to a unit (a conflict of
    interest) never sees that unit's claims, on any path. The command line's operator sees all.
    `mvq.submissions.visibility` applies this to claims that appear as another's evidence."""
    if principal.kind == "cli":
        return True
    if acts_for_unit(principal):
        return principal.unit_id == claim_unit_id
    return is_staff(principal) and principal.unit_id != claim_unit_id


def may_read_receipt(
    principal: Principal, *, entry_unit_id: str, entry_type: str, entry_actor_id: str | None
) -> bool:
    """A ledger entry's receipt: its unit, the marketplace for the debits it made itself,
    auditors and the command line's operator; never an account linked to the entry's unit (its
    entries name the unit's claims and decisions: a conflict of interest, as for the claims)."""
    if acts_for_unit(principal):
        return principal.unit_id == entry_unit_id
    if is_linked_to(principal, entry_unit_id):
        return False
    if is_service_account(principal.role) and principal.kind == "staff":
        return entry_type == "debit" and entry_actor_id == principal.user_id
    return principal.kind == "cli" or (principal.kind == "staff" and principal.role in AUDITORS)


def is_linked_to(principal: Principal, unit_id: str) -> bool:
    """An account on staff (or the marketplace's) that belongs to this unit: whatever its role
    lets it read elsewhere, it reads nothing of this unit's claims and ledger."""
    return principal.kind == "staff" and principal.unit_id == unit_id


def may_read_log_entries(principal: Principal) -> bool:
    """The log's entry bundles are the events' exact bytes, which cannot be hidden in part (a
    leaf's hash covers all of it): an auditor linked to a unit reads the hash tiles and the
    audit search (where that unit's claims are hidden), never the bundles."""
    return allows(principal, Action.read_audit) and not (
        principal.kind == "staff" and principal.unit_id is not None
    )


def may_see_webhook(principal: Principal, *, endpoint_unit_id: str | None) -> bool:
    """Admins see every endpoint; a unit its own unit's; the marketplace's account the
    marketplace's (those of no unit), which hear of every unit."""
    if acts_for_unit(principal):
        return endpoint_unit_id is not None and principal.unit_id == endpoint_unit_id
    if principal.kind != "staff":
        return False
    if endpoint_unit_id is not None and principal.unit_id == endpoint_unit_id:
        return False  # its delivery log tells of the unit's claims: a linked admin's conflict
    if is_service_account(principal.role):
        return endpoint_unit_id is None
    return allows(principal, Action.manage_webhooks)


def may_read_ledger(principal: Principal, *, unit_id: str, spent_for: bool) -> bool:
    """Admins and auditors read every unit's ledger but that of a unit they are linked to; the
    marketplace's account only those of units it has recorded a spend for (`spent_for`): its
    debits need no other unit's."""
    if not allows(principal, Action.read_ledgers) or is_linked_to(principal, unit_id):
        return False
    return spent_for or not is_service_account(principal.role)


def figures_of(principal: Principal) -> str | None:
    """Whose review figures (speed, agreement, golden accuracy) this person may read: None
    for everyone's (seniors, admins, auditors), else only their own id."""
    return None if allows(principal, Action.read_everyones_figures) else principal.id


def may_see_account(principal: Principal, *, user_id: str) -> bool:
    """One's own account (its settings), or anyone's for those who manage staff."""
    return principal.user_id == user_id or allows(principal, Action.manage_staff)


# What an account's role means


def is_member(role: str | None) -> bool:
    """A unit's member: a person who acts for their unit, never on staff."""
    return role == Role.unit


def is_staff_role(role: str | None) -> bool:
    return role in STAFF_ROLES


def is_service_account(role: str | None) -> bool:
    """The marketplace's account: not a person, it spends and reads ledgers by API token."""
    return role == Role.marketplace


def is_admin(role: str | None) -> bool:
    return role == Role.admin


def needs_second_factor(role: str | None, *, reviewers_too: bool) -> bool:
    """Must a person of this role sign in with a second factor (enrolling first if need be)?"""
    return role in SECOND_FACTOR_ROLES or (reviewers_too and role == Role.reviewer)


def member_accounts() -> ColumnElement[bool]:
    """The accounts of units' members, as a query condition."""
    return StaffUser.role == Role.unit


def staff_accounts() -> ColumnElement[bool]:
    """Everyone's account but units' members, as a query condition."""
    return StaffUser.role != Role.unit


def admin_accounts() -> ColumnElement[bool]:
    return StaffUser.role == Role.admin
