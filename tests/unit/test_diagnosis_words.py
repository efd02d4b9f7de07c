"""The chain verifier's English diagnoses, as the auditors' page says them in Ukrainian: every
sentence the verifier can write is known (its words are read from the modules that write
them), nested ones are said whole, data stays as code, an unknown sentence is shown as it is."""

import re
from pathlib import Path

from edge import i18n
from web.diagnosis_words import KNOWN, in_words

ROOT = Path(__file__).parents[2]
WRITERS = ["mvq/exports/integrity.py", "mvq/audit/checkpoint.py", "mvq/audit/witnesses.py",
           "mvq/audit/binding.py", "mvq/audit/service.py"]  # fmt: skip


def uk(text: str) -> str:
    with i18n.using("uk"):
        return str(in_words(text))


def test_nested_diagnoses_are_said_whole_with_their_data_as_code() -> None:
    said = uk("audit chain broken at event 7: hash does not match the event's contents")
    assert said.startswith("ланцюг") and "<code>7</code>" in said and "hash" not in said
    said = uk("audit chain does not vouch for review_decisions row 0d90: differs from the row "
              "its audit event recorded")  # fmt: skip
    assert "<code>review_decisions</code>" in said and "<code>0d90</code>" in said
    assert "differs" not in said
    said = uk("audit log contradicts witness https://w.example/a: a checkpoint covers 9 events, "
              "the log has 4: truncated")  # fmt: skip
    assert "<code>https://w.example/a</code>" in said and "truncated" not in said


def test_an_unknown_sentence_is_shown_as_it_is_and_escaped() -> None:
    assert uk("<b>new</b> trouble") == '<code lang="en">&lt;b&gt;new&lt;/b&gt; trouble</code>'


def test_every_sentence_the_verifier_writes_is_known() -> None:
    """Each literal start of a diagnosis in the writing modules matches one of KNOWN's
    patterns' starts, so a new diagnosis fails here until it has words."""
    starts = {p.pattern.split("(?P")[0].split("(?:")[0] for p, _ in KNOWN}
    written = set()
    for name in WRITERS:
        source = (ROOT / name).read_text()
        for found in re.finditer(r'(?:Failed|CheckpointInvalid|ChainReport|RowProblem|return)'
                                 r'\((?:[^()"]*?, ){0,3}f?"([a-z][^"{]{6,})', source):  # fmt: skip
            written.add(found[1])
        written |= set(re.findall(r'return f?"((?:a checkpoint|the |no )[^"{]*)', source))
    unknown = {w for w in written if not any(w.startswith(s) or s.startswith(w) for s in starts)}
    assert not unknown, unknown
    assert len(written) >= 10, written
