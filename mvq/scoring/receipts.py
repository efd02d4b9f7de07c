"""Receipts: a ledger entry with the proof that it is in the witnessed audit log.

A receipt (docs/RECEIPTS.md) is JSON: the entry's row in its canonical text form, its audit
event's exact bytes (the Merkle leaf), the leaf's index, an RFC 9162 inclusion proof and the
newest checkpoint in S3 with its witnesses' cosignatures. It checks offline with only the
log's and the witnesses' public keys (`verify`), and with a newer checkpoint and a consistency
proof (`mvq audit prove-consistency`) it shows whether the log still holds it.
"""

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from mvq.audit import binding, checkpoint, merkle, notes, tree, witnesses
from mvq.audit.models import AuditEvent
from mvq.audit.service import event_leaf
from mvq.auth import policy
from mvq.auth.principal import Principal
from mvq.errors import Conflict, NotFound
from mvq.scoring.models import LedgerEntry

FORMAT = 1
TABLE = cast(Table, LedgerEntry.__table__)


class NotYetWitnessed(Conflict):
    code = "receipt_not_ready"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def build(session: Session, *, entry_id: str, reader: Principal) -> dict[str, Any]:
    entry = session.get(LedgerEntry, entry_id)
    if entry is None or not policy.may_read_receipt(
        reader, entry_unit_id=entry.unit_id, entry_type=entry.entry_type,
        entry_actor_id=entry.actor_id,
    ):  # fmt: skip
        raise NotFound("no such ledger entry")
    event = session.scalar(
        select(AuditEvent)
        .where(AuditEvent.object_type == "ledger_entry", AuditEvent.object_id == entry_id)
        .order_by(AuditEvent.seq)
        .limit(1)
    )
    index = None if event is None else tree.leaf_index(session, event.seq)
    latest = checkpoint.latest(session)
    if event is None or index is None or latest is None or latest[0].size <= index:
        raise NotYetWitnessed(
            "this entry is not in a witnessed checkpoint yet; ask again after the next sweep"
        )
    anchored, note = latest
    problem = checkpoint.check(session, anchored)
    if problem is not None:
        raise checkpoint.CheckpointInvalid(problem)
    proof = tree.inclusion_proof(session, index=index, tree_size=anchored.size)
    return {
        "mvq_receipt": FORMAT,
        "entry": binding.row_text(TABLE, _values(entry)),
        "event": {"seq": event.seq, "leaf": _b64(event_leaf(event))},
        "leaf_index": index,
        "tree_size": anchored.size,
        "inclusion_proof": [_b64(p) for p in proof],
        "checkpoint": note,
    }


def _values(entry: LedgerEntry) -> dict[str, Any]:
    mapper = entry.__mapper__
    return {c.name: getattr(entry, mapper.get_property_by_column(c).key) for c in TABLE.columns}


class ReceiptInvalid(Exception):
    pass


@dataclass(frozen=True)
class Checked:
    entry_id: str
    points: int
    leaf_index: int
    tree_size: int
    witnesses: list[str]


def _decode(items: list[str]) -> list[bytes]:
    return [base64.b64decode(p, validate=True) for p in items]


def verify(
    receipt: dict[str, Any],
    *,
    log_key: str,
    witness_keys: list[str],
    newer: dict[str, Any] | None = None,
) -> Checked:
    """Checks a receipt offline; with `newer` ({new, proof} from `mvq audit prove-consistency`)
    also that a newer checkpoint of the log extends the receipt's. Raises ReceiptInvalid."""
    try:
        if receipt.get("mvq_receipt") != FORMAT:
            raise ReceiptInvalid("not an mvq receipt of a format this version reads")
        note = receipt["checkpoint"]
        anchored = checkpoint.parse(note, public_key=log_key)
        text, lines = notes.split(note)
        names = []
        for key in witness_keys:
            name = witnesses.Witness("", key).name
            if notes.cosigned_by(text, lines, name=name, public_key=key) is None:
                raise ReceiptInvalid(f"the checkpoint carries no valid cosignature by {name}")
            names.append(name)
        if not names:
            raise ReceiptInvalid(
                "name at least one witness key: an unwitnessed receipt proves nothing"
            )
        leaf = base64.b64decode(receipt["event"]["leaf"], validate=True)
        if receipt["tree_size"] != anchored.size:
            raise ReceiptInvalid("the proof is for another tree size than the checkpoint's")
        merkle.verify_inclusion(
            index=int(receipt["leaf_index"]), size=anchored.size, leaf=merkle.leaf_hash(leaf),
            proof=_decode(receipt["inclusion_proof"]), root_hash=anchored.root,
        )  # fmt: skip
        event = json.loads(leaf)
        entry = receipt["entry"]
        expected = ("ledger_entry", entry["id"], f"ledger.{entry['entry_type']}")
        if (event["object_type"], event["object_id"], event["action"]) != expected:
            raise ReceiptInvalid("the audit event is not this entry's")
        data = event["data"]
        if (str(data.get("points")), data.get("unit_id")) != (entry["points"], entry["unit_id"]):
            raise ReceiptInvalid("the entry's points or unit are not what its event recorded")
        if data.get(binding.ROW_DIGEST) != binding.digest(TABLE, entry):
            raise ReceiptInvalid("the entry is not the row its audit event recorded")
        if newer is not None:
            later = checkpoint.parse(newer["new"], public_key=log_key)
            merkle.verify_consistency(
                first=anchored.size, second=later.size, first_root=anchored.root,
                second_root=later.root, proof=_decode(newer["proof"]),
            )  # fmt: skip
    except checkpoint.CheckpointInvalid as exc:
        raise ReceiptInvalid(f"checkpoint: {exc.message}") from exc
    except merkle.ProofError as exc:
        raise ReceiptInvalid(str(exc)) from exc
    except (KeyError, TypeError, ValueError, binascii.Error) as exc:
        raise ReceiptInvalid(f"malformed receipt: {exc!r}") from exc
    return Checked(entry["id"], int(entry["points"]), int(receipt["leaf_index"]), anchored.size,
                   names)  # fmt: skip
