"""Whether the audit log still holds: one check, run by `mvq audit verify` and by the auditors'
page's "verify now" alike, so neither can be weaker than the other.

It walks the hash chain from genesis, checks that every ledger entry and decision is the row its
event recorded, and checks the log's Merkle tree against the checkpoints the witnesses hold
(MVQ_WITNESSES), not the operator's copy in S3, which anyone with the storage keys can delete:
the log must still begin with every witnessed checkpoint's events, and the stored tree must
prove it extends each. Only when no witness is configured is the operator's newest checkpoint
in S3 the anchor (and the result says the log is not witnessed).

It opens its own sessions: the tree is integrated and committed first (as the sweeper would),
then the chain and the rows are read in one snapshot, so an award committed meanwhile is not
taken for a row without its event. A web request calls it before its own transaction begins.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import httpx
from botocore.exceptions import BotoCoreError, ClientError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mvq.audit import binding, checkpoint, merkle, tree, witnesses
from mvq.audit.models import AuditEvent
from mvq.audit.service import ChainReport, event_leaf, verify_chain
from mvq.db import session_factory
from mvq.exports.dataset import BOUND_TABLES


@dataclass(frozen=True)
class Result:
    problem: str | None  # None: the log holds
    events: int
    up_to: int | None  # the last seq walked
    head: str | None
    first_bad_seq: int | None = None
    root: bytes | None = None
    witnessed: dict[str, int] = field(default_factory=dict)  # witness URL: size it holds
    witnesses: int = 0  # configured
    stored: int | None = None  # the operator's checkpoint, when no witness is configured
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.problem is None

    def summary(self) -> str:
        """The one line `mvq audit verify` prints when the log holds."""
        if self.witnessed:
            anchor = "; extends " + ", ".join(f"{u} at {s}" for u, s in self.witnessed.items())
        elif self.witnesses:
            anchor = "; no witness holds a checkpoint of this log yet"
        else:
            anchor = "; not witnessed (MVQ_WITNESSES is empty)" + (
                f", operator's checkpoint at {self.stored} holds" if self.stored else ""
            )
        root = (self.root or merkle.EMPTY_ROOT).hex()
        return f"ok: {self.events} events, head {self.head}, root {root}{anchor}"


class Failed(Exception):
    def __init__(self, problem: str, first_bad_seq: int | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.first_bad_seq = first_bad_seq


def _roots(session: Session, sizes: set[int]) -> dict[int, bytes]:
    """The roots at `sizes`, recomputed from the events themselves in one pass."""
    compact = merkle.CompactRange()
    found = {0: merkle.EMPTY_ROOT} if 0 in sizes else {}
    for event in session.scalars(select(AuditEvent).order_by(AuditEvent.seq)).yield_per(5_000):
        compact.append(merkle.leaf_hash(event_leaf(event)))
        if compact.size in sizes:
            found[compact.size] = compact.root()
    return found


def _held() -> tuple[list[witnesses.Witness], dict[str, checkpoint.Checkpoint]]:
    configured = witnesses.configured()
    held: dict[str, checkpoint.Checkpoint] = {}
    for witness in configured:
        try:
            found = witnesses.held(witness)
        except (witnesses.WitnessRefused, checkpoint.CheckpointInvalid, httpx.HTTPError) as exc:
            raise Failed(
                f"witness {witness.url} cannot be checked, so a rewrite cannot be ruled out: {exc}"
            ) from exc
        if found is not None:
            held[witness.url] = found[0]
    return configured, held


def check(url: str | None = None) -> Result:
    """The whole check (of MVQ_DATABASE_URL's database unless `url` names another); a failure
    is a Result with its problem, never an exception."""
    started = time.monotonic()
    with session_factory(url)() as session:
        tree.integrate(session)  # what the sweeper would do next; the walk checks it
        session.commit()
    with session_factory(url)() as session:
        if session.get_bind().dialect.name == "postgresql":
            session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        up_to = session.scalar(select(func.max(AuditEvent.seq)))
        report = verify_chain(session, bound_types=BOUND_TABLES)
        try:
            result = _against_anchors(session, report)
        except Failed as exc:
            result = Result(problem=exc.problem, events=0, up_to=None, head=None,
                            first_bad_seq=exc.first_bad_seq)  # fmt: skip
        except (BotoCoreError, ClientError) as exc:
            result = Result(problem="the checkpoints in S3 cannot be read, so truncation "
                            f"cannot be ruled out: {exc}", events=0, up_to=None,
                            head=None)  # fmt: skip
    return replace(result, events=report.events, up_to=up_to, head=report.head,
                   seconds=round(time.monotonic() - started, 3))  # fmt: skip


Anchors = list[tuple[str, checkpoint.Checkpoint]]  # (what it is, for a reason; the checkpoint)


def _against_anchors(session: Session, report: ChainReport) -> Result:
    configured: list[witnesses.Witness] = []
    held: dict[str, checkpoint.Checkpoint] = {}
    stored: tuple[checkpoint.Checkpoint, str] | None = None

    def live_anchors() -> Anchors:
        nonlocal configured, held, stored
        configured, held = _held()
        stored = None if configured else checkpoint.latest(session)
        anchors = [(f"witness {url}", c) for url, c in held.items()]
        if stored is not None:
            anchors.append(("its newest checkpoint in S3", stored[0]))
        return anchors

    root = verify_log(session, report, anchors=live_anchors)
    return Result(
        problem=None, events=report.events, up_to=None, head=report.head, root=root,
        witnessed={url: c.size for url, c in held.items()}, witnesses=len(configured),
        stored=None if stored is None else stored[0].size,
    )  # fmt: skip


def verify_log(session: Session, report: ChainReport, *, anchors: Callable[[], Anchors]) -> bytes:
    """The root of the log in `session`, once its chain (`report`, from verify_chain with
    BOUND_TABLES), its bound rows and its stored tree hold and the log extends every checkpoint
    `anchors()` returns (asked for only after the chain and rows held); raises Failed. The
    restore drill calls it on a restored copy with anchors of its own."""
    if report.first_bad_seq is not None:
        raise Failed(
            f"audit chain broken at event {report.first_bad_seq}: {report.problem}",
            report.first_bad_seq,
        )
    row = binding.verify_rows(session, BOUND_TABLES, report.bindings)
    if row is not None:
        raise Failed(f"audit chain does not vouch for {row}")
    anchored = anchors()
    events = report.events
    roots = _roots(session, {events, *(c.size for _, c in anchored)})
    for name, anchor in anchored:
        problem = witnesses.check_witnessed(anchor, events=events, roots=roots)
        if problem is not None:
            raise Failed(f"audit log contradicts {name}: {problem}")
    size = tree.size(session)
    if size != events or (size and tree.root(session, size) != roots[size]):
        raise Failed("the stored Merkle tree does not match the events")
    for name, anchor in anchored:
        problem = witnesses.check_proof(session, anchor, size=size, root=roots[size])
        if problem is not None:
            raise Failed(f"audit log contradicts {name}: {problem}")
    return roots[events]
