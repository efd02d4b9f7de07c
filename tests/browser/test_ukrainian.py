"""The reviewer's way through the site in Ukrainian (a browser that asks for uk-UA): the login,
the queue, an item with flags, a rejection and the queue again. On every page, no visible text
is left in English: no text equals an English string the catalogue translates, and no run of
Latin letters appears beyond a short list of codes and names that stay as they are.
Screenshots: artifacts/uk-*.png."""

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from babel.messages.pofile import read_po
from playwright.sync_api import Browser, Page, expect

from edge import i18n
from mvq.auth.models import Role
from mvq.db import session_factory
from mvq.flows import intake
from mvq.submissions.models import Flag, Submission, SubmissionStatus
from mvq.units.models import Unit
from testkit import harness
from testkit.browser import Reviewer
from testkit.people import make_unit

# Latin words that are right in a Ukrainian page: the product, standards and formats, key
# names, and each language's own name in the switch.
ALLOWED = {"mvq", "MGRS", "SHA", "UTC", "PDQ", "C2PA", "Esc", "Enter", "English"}
LATIN = re.compile(r"[A-Za-z][A-Za-z'\u2019-]*[A-Za-z]")
FLAGS = ("cross_unit_duplicate", "already_credited", "no_capture_time", "reencoded")


def english_msgids() -> set[str]:
    """The English strings whose Ukrainian differs: seeing one on a uk page is a miss."""
    with i18n.catalogue_path("uk").open("rb") as po:
        catalog = read_po(po, locale="uk")
    found = set()
    for message in catalog:
        if not message.id or message.fuzzy:
            continue
        ids = [message.id] if isinstance(message.id, str) else list(message.id)
        strings = [message.string] if isinstance(message.string, str) else list(message.string)
        found |= {text for text in ids if text not in strings and "%(" not in text}
    return found


def visible_texts(page: Page) -> list[str]:
    """Every visible text node, and the labels people meet without reading the page
    (title, placeholders, aria-labels, button values)."""
    texts: list[str] = page.evaluate(
        """() => {
          const out = [document.title];
          const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
          while (walker.nextNode()) {
            const node = walker.currentNode;
            const el = node.parentElement;
            if (!el || el.closest("script, style, template, [hidden]")) continue;
            const style = getComputedStyle(el);
            if (style.display === "none" || style.visibility === "hidden") continue;
            if (!el.getClientRects().length) continue;
            const text = node.textContent.trim();
            if (text) out.push(text);
          }
          document.querySelectorAll("[aria-label], [placeholder], [title]").forEach((el) => {
            for (const a of ["aria-label", "placeholder"]) {
              const v = el.getAttribute(a);
              if (v) out.push(v.trim());
            }
          });
          return out;
        }"""
    )
    return texts


def untranslated(page: Page, english: set[str], known: set[str]) -> list[str]:
    """What on `page` is still English: whole strings from the catalogue, or Latin words not
    in ALLOWED once e-mail addresses, ids, codes in `known` (unit names) and numbers are out."""
    misses = []
    for text in visible_texts(page):
        if text in english:
            misses.append(f"English string: {text!r}")
            continue
        rest = re.sub(r"\S+@\S+", " ", text)  # e-mail addresses
        for name in known:
            rest = rest.replace(name, " ")
        rest = re.sub(r"#?\b[0-9a-f]{8,}\b", " ", rest)  # ids and hashes
        words = [w for w in LATIN.findall(rest) if w not in ALLOWED]
        if words:
            misses.append(f"Latin words {words} in {text!r}")
    return misses


@pytest.fixture(scope="module")
def stack(backing: harness.Backing, database: str) -> Iterator[harness.Stack]:
    stack = harness.start_stack(backing, database)
    try:
        yield stack
    finally:
        stack.group.stop()


@pytest.fixture(scope="module")
def unit(database: str) -> tuple[str, str]:
    with session_factory()() as session:
        unit_id = make_unit(session)[0]
        return unit_id, session.get_one(Unit, unit_id).name


def waiting_item(unit_id: str) -> str:
    """A flagged claim straight into the queue (the words, not the footage, are tested)."""
    with session_factory()() as session:
        submission = Submission(unit_id=unit_id, status=SubmissionStatus.in_queue,
                                target_type="tank", outcome="destroyed",
                                occurred_at=datetime.now(UTC) - timedelta(hours=3))  # fmt: skip
        session.add(submission)
        session.flush()
        for kind in FLAGS:
            session.add(Flag(submission_id=submission.id, kind=kind, evidence={}))
        session.flush()
        item = intake.queue_for_review(session, submission=submission)
        session.commit()
        return item.id


def ukrainian(browser: Browser, stack: harness.Stack, role: Role) -> Reviewer:
    """A Reviewer (its login helper, second factor included) at a browser set to uk-UA."""
    who = Reviewer(browser, stack, role)
    who.context.close()
    who.context = browser.new_context(base_url=stack.url, locale="uk-UA")
    who.page = who.context.new_page()
    return who


def test_login_queue_item_and_decision_in_ukrainian(
    browser: Browser, stack: harness.Stack, unit: tuple[str, str]
) -> None:
    unit_id, unit_name = unit
    item_id = waiting_item(unit_id)
    english = english_msgids()
    known = {unit_name}
    who = ukrainian(browser, stack, Role.reviewer)
    try:
        page = who.page
        page.goto("/login")
        expect(page.locator("html")).to_have_attribute("lang", "uk")
        expect(page.locator("h1")).to_have_text("Увійти")
        assert untranslated(page, english, known) == []
        who.screenshot("uk-login")

        who.login()  # lands on the queue
        page.goto("/review")
        expect(page.locator("h1")).to_have_text("Черга на розгляд")
        row = page.locator(f'tr[data-item="{item_id}"]')
        expect(row).to_contain_text("танк")
        expect(row.locator('.flag[data-flag="cross_unit_duplicate"]')).to_have_text(
            "відео іншого підрозділу"
        )
        assert untranslated(page, english, known) == []
        who.screenshot("uk-queue")

        page.keyboard.press("n")  # take the next item: ours
        page.wait_for_url(f"**/review/{item_id}*")
        expect(page.locator("#item-state")).to_have_text("на розгляді")
        # Times in the reader's zone (Kyiv by default), UTC on hover.
        claimed = page.locator(".claim-line time")
        expect(claimed).to_have_attribute("title", re.compile(r"UTC$"))
        assert untranslated(page, english, known) == []
        who.screenshot("uk-item")

        page.select_option("#reason", "not_visible")
        expect(page.locator("#reason option:checked")).to_have_text("Ціль не видно")
        page.fill("#reject-comment", "Ціль не видно на жодному кадрі.")
        page.click("#reject")
        page.wait_for_url("**/review*")
        expect(page.locator("#undo-toast")).to_contain_text("відхилено")
        assert untranslated(page, english, known) == []
        who.screenshot("uk-decided")

        # The choice follows the person: English once, then English on a browser asking uk.
        page.goto("/review?lang=en")
        expect(page.locator("h1")).to_have_text("Review queue")
        page.context.clear_cookies(name=i18n.COOKIE)
        page.goto("/review")
        expect(page.locator("h1")).to_have_text("Review queue")
        page.goto("/review?lang=uk")
        expect(page.locator("h1")).to_have_text("Черга на розгляд")
    finally:
        who.close()
