"""A claim's outcome in words (edge.outcome_words): every kind says something, with its figures,
and says it in Ukrainian, not in English, for a Ukrainian reader."""

import re
from datetime import UTC, datetime

import pytest

from edge import i18n, outcome_words
from mvq.submissions.schemas import DisputeShareOut, OutcomeOut, ReversalOut

AT = datetime(2026, 12, 1, tzinfo=UTC)
NOTE = "дрон першого підрозділу"
CASES = {
    "approved": OutcomeOut(kind="approved", points=40),
    "awaiting_second": OutcomeOut(kind="awaiting_second", points=0),
    "held_in_dispute": OutcomeOut(
        kind="held_in_dispute", points=0, dispute=DisputeShareOut(status="open")
    ),
    "dispute_settled": OutcomeOut(
        kind="dispute_settled",
        points=0,
        dispute=DisputeShareOut(status="settled", share=0, total=40, note=NOTE, settled_at=AT),
    ),
    "rejected": OutcomeOut(kind="rejected", points=0, reason_code="not_visible", appeal="denied"),
    "reversed": OutcomeOut(
        kind="approved",
        points=0,
        reversals=[
            ReversalOut(points=-40, cause="dispute", reason=NOTE, at=AT),
            ReversalOut(points=-25, cause="overturn", reason_code="wrong_target", at=AT),
            ReversalOut(points=-5, cause="undo", at=AT),
        ],
    ),
}


def said(case: str, language: str) -> list[str]:
    with i18n.using(language):
        reasons = outcome_words.labels("reject_reason", {})
        return outcome_words.sentences(CASES[case], reasons=reasons)


@pytest.fixture(autouse=True)
def _default_language(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(i18n, "default_language", lambda: "uk")


@pytest.mark.parametrize("case", list(CASES))
def test_every_outcome_is_told_in_both_languages(case: str) -> None:
    english, ukrainian = said(case, "en"), said(case, "uk")
    assert english and len(english) == len(ukrainian)
    for en, uk in zip(english, ukrainian, strict=True):
        assert en != uk, en  # translated, not left in English
        assert re.findall(r"\d+", en) == re.findall(r"\d+", uk), (en, uk)  # the same figures


def test_a_lost_dispute_says_the_share_the_total_and_the_note() -> None:
    (share, note) = said("dispute_settled", "en")
    assert "gets 0 points of the target's 40 points" in share
    assert note == f"The senior reviewer's note: {NOTE}"


def test_a_rejection_and_an_overturn_name_their_reasons() -> None:
    assert said("rejected", "en") == ["Rejected: Target not visible.", "Your appeal was denied."]
    assert said("reversed", "en") == [
        "Approved: 0 points.",
        f"40 points taken back: {NOTE}",
        "25 points taken back: a senior reviewer overturned the approval (Wrong target type).",
        "5 points taken back: the reviewer took the approval back.",
    ]


def test_the_staff_labels_are_the_unit_labels() -> None:
    with i18n.using("uk"):
        assert outcome_words.labels("target_type", {})["tank"] == "танк"
        admins = {"tank": "бойовий танк"}  # an admin's label wins over the shipped words
        assert outcome_words.labels("target_type", admins)["tank"] == "бойовий танк"


def test_every_built_in_code_has_words_in_both_languages() -> None:
    """Issue 31: pages showed "tank", "apc", "mlrs" to Ukrainian units. Every target type the
    demo rules price, both outcomes and every reject reason have shipped words: Cyrillic in
    Ukrainian; the same table for every page (staff and units) and the audit log."""
    from mvq.review.decisions import REJECT_REASONS
    from mvq.rules.models import Outcome
    from mvq.rules.service import DEMO_RULES

    built_in = {
        "target_type": {t for t, _, _ in DEMO_RULES},
        "outcome": {o.value for o in Outcome},
        "reject_reason": set(REJECT_REASONS),
    }
    for kind, codes in built_in.items():
        for language in ("uk", "en"):
            with i18n.using(language):
                words = outcome_words.labels(kind, {})
            missing = codes - words.keys()
            assert not missing, (kind, language, missing)
            if language == "uk":
                assert all(re.search("[\u0400-\u04ff]", words[c]) for c in codes), words
