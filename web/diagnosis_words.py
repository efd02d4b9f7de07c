"""The chain verifier's diagnosis in the reader's words.

The verifier (`mvq.exports.integrity`, `mvq.audit.checkpoint`, `.witnesses`, `.binding`) words
what it finds in English, and that sentence is the record: it is hashed into the
`audit.verified` event and printed by `mvq audit verify`, so it cannot change with a reader.
The page reads it back here: each known sentence (nested ones too, "audit chain broken at
event 7: <why>") is matched and said in the page's language, with its numbers, ids and
addresses kept as code. A sentence this table does not know is shown as it is, as English
code, so nothing the verifier said is ever hidden."""

import re

from markupsafe import Markup, escape

from edge.i18n import N_, gettext

# (the verifier's sentence, its words here); `rest` is itself a diagnosis, the other named
# groups are data (counts, ids, addresses, a library's own error text).
KNOWN: list[tuple[re.Pattern[str], str]] = [
    (re.compile(p, re.S), words)
    for p, words in [
        (r"audit chain broken at event (?P<seq>\d+): (?P<rest>.+)",
         N_("the chain breaks at event %(seq)s: %(rest)s")),
        (r"prev_hash does not match the event before",
         N_("its link to the event before it does not match")),
        (r"hash does not match the event's contents",
         N_("its hash does not match its contents: the event was edited")),
        (r"audit chain does not vouch for (?P<rest>.+)",
         N_("the chain does not vouch for this: %(rest)s")),
        (r"(?P<table>\w+) row (?P<row>\S+): no audit event binds this row",
         N_("row %(row)s of %(table)s: no audit event records it")),
        (r"(?P<table>\w+) row (?P<row>\S+): differs from the row its audit event recorded",
         N_("row %(row)s of %(table)s differs from the row its audit event recorded")),
        (r"(?P<table>\w+) row (?P<row>\S+): recorded by its audit event but missing",
         N_("row %(row)s of %(table)s is recorded by its audit event but missing")),
        (r"audit log contradicts witness (?P<url>\S+): (?P<rest>.+)",
         N_("the log contradicts witness %(url)s: %(rest)s")),
        (r"audit log contradicts its newest checkpoint in S3: (?P<rest>.+)",
         N_("the log contradicts its own newest checkpoint in storage: %(rest)s")),
        (r"a checkpoint covers (?P<size>\d+) events, the log has (?P<events>\d+): truncated",
         N_("a checkpoint covers %(size)s events, but the log has %(events)s: it was cut short")),
        (r"the first (?P<size>\d+) events (?:have another root than|are not the ones) the "
         r"checkpoint(?: covered)?: the log was rewritten",
         N_("the first %(size)s events are not the ones the checkpoint covered: the log was "
            "rewritten")),
        (r"no consistency proof from the checkpoint at (?P<size>\d+): (?P<detail>.+)",
         N_("no consistency proof from the checkpoint of %(size)s events: %(detail)s")),
        (r"the tree cannot be read: (?P<detail>.+)",
         N_("the Merkle tree cannot be read: %(detail)s")),
        (r"the stored Merkle tree does not match the events",
         N_("the stored Merkle tree does not match the events")),
        (r"the checkpoints in S3 cannot be read, so truncation cannot be ruled out: "
         r"(?P<detail>.+)",
         N_("the checkpoints in storage cannot be read, so a cut cannot be ruled out: "
            "%(detail)s")),
        (r"witness (?P<url>\S+) cannot be checked, so a rewrite cannot be ruled out: "
         r"(?P<detail>.+)",
         N_("witness %(url)s cannot be asked, so a rewrite cannot be ruled out: %(detail)s")),
        (r"the checkpoint is malformed: (?P<detail>.+)",
         N_("the checkpoint is malformed: %(detail)s")),
        (r"the checkpoint is malformed", N_("the checkpoint is malformed")),
        (r"not this log's checkpoint: (?P<detail>.+)",
         N_("the checkpoint is another log's: %(detail)s")),
        (r"the checkpoint's signature does not verify",
         N_("the checkpoint's signature does not verify")),
    ]
]  # fmt: skip


def _data(value: str | None) -> Markup:
    return Markup("<code>{}</code>").format(value) if value else Markup("")


def in_words(diagnosis: str) -> Markup:
    """`diagnosis` said in the current page's language, as markup with its data as code."""
    for pattern, words in KNOWN:
        found = pattern.fullmatch(diagnosis.strip())
        if found is None:
            continue
        parts = {name: in_words(value) if name == "rest" else _data(value)
                 for name, value in found.groupdict().items()}  # fmt: skip
        return escape(gettext(words)) % parts
    return Markup('<code lang="en">{}</code>').format(diagnosis)
