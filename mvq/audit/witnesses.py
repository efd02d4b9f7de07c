"""The operator's side of witnessing: sending each new checkpoint to the witnesses in
MVQ_WITNESSES and checking the database against what they hold.

MVQ_WITNESSES lists each witness as "URL PUBLIC_KEY" (hex Ed25519), comma-separated. Whoever
runs `mvq audit verify` must hold this list independently of the operator (an auditor's own
environment): a list the operator can edit is no check on the operator.
"""

import base64
import logging
from collections.abc import Callable
from dataclasses import dataclass

import httpx
from sqlalchemy.orm import Session

from mvq.audit import checkpoint, merkle, notes, tree
from mvq.audit.witness import SIZE_TYPE, witness_name
from mvq.settings import get_settings

log = logging.getLogger(__name__)
_TIMEOUT = 10.0


@dataclass(frozen=True)
class Witness:
    url: str
    public_key: str

    @property
    def name(self) -> str:
        return witness_name(self.public_key)


def parse(value: str) -> list[Witness]:
    found = []
    for item in value.split(","):
        if item.strip():
            url, key = item.split()
            found.append(Witness(url.rstrip("/"), key))
    return found


def configured() -> list[Witness]:
    return parse(get_settings().witnesses)


class WitnessRefused(Exception):
    pass


def _request_body(old: int, proof: list[bytes], note: str) -> str:
    lines = [f"old {old}", *(base64.b64encode(p).decode() for p in proof)]
    return "\n".join(lines) + "\n\n" + note


def add_checkpoint(
    witness: Witness, *, old: int, note: str, proof_from: Callable[[int], list[bytes]]
) -> str:
    """The witness's cosignature line for `note`, checked. Starts from `old`; a 409 names the
    size the witness holds, and the request is made once more from there."""
    for _ in range(2):
        body = _request_body(old, proof_from(old), note)
        answer = httpx.post(f"{witness.url}/add-checkpoint", content=body, timeout=_TIMEOUT)
        if answer.status_code == 409 and answer.headers.get("content-type", "").startswith(
            SIZE_TYPE
        ):
            held = int(answer.text.strip())
            if held == old:
                raise WitnessRefused(f"{witness.url}: fork refused at size {old}")
            old = held
            continue
        if answer.status_code != 200:
            raise WitnessRefused(f"{witness.url}: {answer.status_code} {answer.text.strip()}")
        line = answer.text.strip()
        text, _ = notes.split(note)
        if notes.cosigned_by(text, [line], name=witness.name, public_key=witness.public_key):
            return line
        raise WitnessRefused(f"{witness.url}: the cosignature does not verify")
    raise WitnessRefused(f"{witness.url}: it holds a size the log cannot prove from ({old})")


def held(witness: Witness) -> tuple[checkpoint.Checkpoint, str] | None:
    """The newest checkpoint this log has at `witness`, log signature and cosignature checked;
    None when the witness never saw the log. Raises WitnessRefused (or httpx errors)."""
    answer = httpx.get(
        f"{witness.url}/latest", params={"origin": checkpoint.origin()}, timeout=_TIMEOUT
    )
    if answer.status_code == 404:
        return None
    if answer.status_code != 200:
        raise WitnessRefused(f"{witness.url}: {answer.status_code}")
    note = answer.text
    found = checkpoint.parse(note)
    text, lines = notes.split(note)
    if notes.cosigned_by(text, lines, name=witness.name, public_key=witness.public_key) is None:
        raise WitnessRefused(f"{witness.url}: its checkpoint carries no valid cosignature")
    return found, note


def anchor(session: Session) -> checkpoint.Checkpoint | None:
    """Integrates new events, signs the tree, has every witness cosign it and stores the
    cosigned checkpoint in S3; returns it, or None when nothing moved. Commits the tree.
    Raises CheckpointInvalid when the database contradicts the newest stored checkpoint: like a
    witness, the operator signs nothing inconsistent."""
    last = checkpoint.latest(session)
    if last is not None:
        problem = checkpoint.check(session, last[0])
        if problem is not None:
            raise checkpoint.CheckpointInvalid(problem)
    now = checkpoint.current(session)
    session.commit()
    if now is None or (last is not None and last[0] == now):
        return None
    note = checkpoint.sign(now)
    text, lines = notes.split(note)

    def proof_from(old: int) -> list[bytes]:
        if old > now.size:
            return []
        return tree.consistency_proof(session, first=old, second=now.size)

    start = last[0].size if last is not None else 0
    for witness in configured():
        try:
            lines.append(add_checkpoint(witness, old=start, note=note, proof_from=proof_from))
        except (WitnessRefused, httpx.HTTPError) as exc:
            log.error("checkpoint of size %d not cosigned: %s", now.size, exc)
    checkpoint.store(session, now, notes.join(text, lines))
    return now


@dataclass(frozen=True)
class Held:
    witness: Witness
    checkpoint: checkpoint.Checkpoint | None


def check_witnessed(
    witnessed: checkpoint.Checkpoint, *, events: int, roots: dict[int, bytes]
) -> str | None:
    """Whether the log's events (`roots` recomputed from them: {size: root}) still begin with
    the ones a checkpoint covered."""
    if witnessed.size > events:
        return f"a checkpoint covers {witnessed.size} events, the log has {events}: truncated"
    if roots.get(witnessed.size) != witnessed.root:
        return (
            f"the first {witnessed.size} events are not the ones the checkpoint covered: "
            "the log was rewritten"
        )
    return None


def check_proof(
    session: Session, witnessed: checkpoint.Checkpoint, *, size: int, root: bytes
) -> str | None:
    """The stored tree's consistency proof from `witnessed` to the tree of `size` leaves with
    `root`, checked as a witness checks it."""
    try:
        proof = tree.consistency_proof(session, first=witnessed.size, second=size)
        merkle.verify_consistency(first=witnessed.size, second=size, first_root=witnessed.root,
                                  second_root=root, proof=proof)  # fmt: skip
    except merkle.ProofError as exc:
        return f"no consistency proof from the checkpoint at {witnessed.size}: {exc}"
    return None
