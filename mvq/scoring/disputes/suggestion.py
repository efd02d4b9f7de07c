"""The split that follows from the provenance ranking: the target's worth all to the likely
original (a copy's payment taken back), or shared equally when no claim is the other's source
or the evidence can't tell. A suggestion only: the senior accepts it or types another."""

from dataclasses import dataclass, field

from mvq.review.provenance import Ranking
from mvq.scoring.disputes.reading import Contest


@dataclass
class Suggestion:
    kind: str  # "original": all to the likely original; "shared": equal shares
    shares: dict[str, int] = field(default_factory=dict)
    reverse: list[str] = field(default_factory=list)
    # Why it can't be settled as suggested yet: "unpriced", "nothing_approved", "wait_original"
    blocked: str | None = None
    note: str = ""  # the settlement's reason, in the senior's words, when accepted


def suggest(contest: Contest, ranking: Ranking) -> Suggestion:
    members = {c.submission.id: c for c in contest.members}
    worth = contest.worth.points
    if ranking.original in members:
        kind = "original"
        # Claims filmed apart are nobody's copy: they share with the original.
        owners = [ranking.original, *(s for s in ranking.apart if s in members)]
        reverse = [s for s in ranking.copies if s in members and members[s].paid > 0]
    else:
        kind, owners, reverse = "shared", list(members), []
    found = Suggestion(kind, reverse=reverse)
    if worth is None:
        found.blocked = "unpriced"
        return found
    if not any(c.approved for c in contest.members):
        found.blocked = "nothing_approved"
        return found
    original = members.get(ranking.original or "")
    if original is not None and not original.payable and original.paid == 0:
        # Its approval is still to come; settled now, the copy would keep the target.
        found.blocked = "wait_original"
        return found
    kept = sum(c.paid for sid, c in members.items() if sid not in reverse)
    left = max(0, worth - kept)
    payable = [s for s in owners if members[s].payable]
    for i, sid in enumerate(payable):
        found.shares[sid] = left // len(payable) + (1 if i < left % len(payable) else 0)
    for sid, c in members.items():
        if c.payable and sid not in found.shares:
            found.shares[sid] = 0
    return found
