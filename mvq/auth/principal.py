"""Who is asking: a unit (its token, or a member signed in for it) or a person on staff."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Principal:
    kind: str  # "unit", "staff", or "cli" (the command line, mvq.auth.policy.OPERATOR)
    id: str
    role: str | None = None
    unit_id: str | None = None
    # A unit's member signed in as a person: the unit acts, and the audit names the member.
    member_id: str | None = None

    @property
    def actor(self) -> str:
        return f"member:{self.member_id}" if self.member_id else f"{self.kind}:{self.id}"

    @property
    def user_id(self) -> str | None:
        """The person's account, staff or member; None for a unit's API token."""
        return self.member_id or (self.id if self.kind == "staff" else None)
