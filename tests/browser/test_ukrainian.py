"""The reviewer's way through the site in Ukrainian (a browser that asks for uk-UA): the login,
the queue, an item with flags, a rejection and the queue again. On every page, no visible text
is left in English: no text equals an English string the catalogue translates, and no run of
Latin letters appears beyond a short list of codes and names that stay as they are.
Screenshots: artifacts/uk-*.png.

Then the pages of issue 31 (the labels page, the audit log, the rules, an error page, a unit's
claims) in Ukrainian at a laptop's and a phone's size: no English, axe clean (landmark-unique
included), and a page of 100 audit events under five phone screens."""

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
from tests.browser import axe
from tests.words import NAMES

# Latin words that are right in a Ukrainian page: the product, standards and formats, key
# names, and each language's own name in the switch.
# ("Ed": Ed25519, whose digits LATIN leaves out.)
ALLOWED = {"mvq", "MGRS", "SHA", "UTC", "PDQ", "C2PA", "Esc", "Enter", "English", "Ed"} | NAMES
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
            // Code and what the page marks untranslatable (ids, zones) stay as they are.
            const skipped = "script, style, template, [hidden], code, kbd, samp, textarea, "
              + "[translate=no]";
            if (!el || el.closest(skipped)) continue;
            // Text marked as another language (the language switch) is that language.
            if (el.closest("[lang]") && el.closest("[lang]").lang !== "uk") continue;
            const style = getComputedStyle(el);
            if (style.display === "none" || style.visibility === "hidden") continue;
            if (!el.getClientRects().length) continue;
            const text = node.textContent.trim();
            if (text) out.push(text);
          }
          document.querySelectorAll("[aria-label], [placeholder], [title]").forEach((el) => {
            if (el.closest("code, kbd, samp, textarea, [translate=no]")) return;
            if (el.closest("[lang]") && el.closest("[lang]").lang !== "uk") return;
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


SIZES = {1366: {"width": 1366, "height": 768}, 390: {"width": 390, "height": 844}}
# axe calls landmark-unique moderate; issue 31 found it on three pages, so it fails here too.
ALSO_BLOCKING = ("landmark-unique",)


def in_ukrainian(browser: Browser, stack: harness.Stack, role: Role,
                 unit_id: str | None = None) -> Reviewer:  # fmt: skip
    who = Reviewer(browser, stack, role, unit_id=unit_id)
    who.context.close()
    who.context = browser.new_context(base_url=stack.url, locale="uk-UA")
    who.page = who.context.new_page()
    return who


def events_for_a_page(unit_id: str) -> str:
    """A claim with a dispute's worth of history, and more events than a page holds."""
    from mvq.audit import service as audit

    with session_factory()() as session:
        claim = Submission(unit_id=unit_id, status=SubmissionStatus.rejected,
                           target_type="apc", outcome="damaged",
                           occurred_at=datetime.now(UTC) - timedelta(hours=5))  # fmt: skip
        session.add(claim)
        session.flush()
        for n in range(110):
            audit.record(session, actor="system:seed", action="media.viewed",
                         object_type="submission", object_id=claim.id,
                         data={"objects": [f"frames/{n}.jpg"], "via": "web"})  # fmt: skip
        audit.record(session, actor="system:disputes", action="appeal.upheld",
                     object_type="appeal", object_id=claim.id,
                     data={"submission_id": claim.id, "reason": "Було видно бронетранспортер",
                           "target_type": "apc", "outcome": "damaged",
                           "claim_status": "approved"})  # fmt: skip
        session.commit()
        return claim.id


def check(who: Reviewer, path: str, name: str, english: set[str], known: set[str]) -> None:
    page = who.page
    for width, size in SIZES.items():
        page.set_viewport_size(size)  # type: ignore[arg-type]
        response = page.goto(path)
        assert response is not None
        expect(page.locator("html")).to_have_attribute("lang", "uk")
        assert untranslated(page, english, known) == [], (path, width)
        who.screenshot(f"uk-{name}-{width}")
        found = axe.assert_no_serious_violations(page, f"{path} at {width}")
        assert not [v for v in found if v["id"] in ALSO_BLOCKING], axe.describe(found)


def test_labels_audit_rules_error_and_unit_pages_in_ukrainian(
    browser: Browser, stack: harness.Stack, unit: tuple[str, str]
) -> None:
    """Issue 31: /admin/labels printed `LanguageLink(...)` in its headers (30 valid-lang
    errors), /audit showed codes and escaped JSON and ran to 21,983 px on a phone, the rules
    leaked a date out of an attribute, error pages said "404 · not_found"."""
    unit_id, unit_name = unit
    claim = events_for_a_page(unit_id)
    english = english_msgids()
    known = {unit_name}
    admin = in_ukrainian(browser, stack, Role.admin)
    auditor = in_ukrainian(browser, stack, Role.auditor)
    member = in_ukrainian(browser, stack, Role.unit, unit_id)
    try:
        admin.login()
        check(admin, "/admin/labels", "labels", english, known)
        page = admin.page
        headers = page.locator(".labels-form thead th").all_inner_texts()
        assert headers == ["Код", "Українська", "English"] * 2, headers
        expect(page.locator('input[name="uk"][placeholder="танк"]')).to_have_count(1)
        check(admin, "/admin", "admin", english, known)
        check(admin, "/scoring/rules", "rules", english, known)
        assert '">' not in page.locator("main").inner_text()
        check(admin, "/no-such-page", "error", english, known)
        expect(page.locator("h1")).to_have_text("404 · Тут нічого немає")
        expect(page.locator("p.ways a")).to_have_attribute("href", "/review")

        auditor.login()
        check(auditor, f"/audit?claim={claim[:8]}", "audit-claim", english, known)
        page = auditor.page
        expect(page.locator('a.action[data-action="appeal.upheld"]')).to_have_text(
            "апеляцію задоволено")  # fmt: skip
        page.locator('tr:has(a[data-action="appeal.upheld"]) td.more summary').click()
        details = page.locator('tr:has(a[data-action="appeal.upheld"]) dl.fields')
        expect(details).to_contain_text("Було видно бронетранспортер")
        expect(details).to_contain_text("БТР")
        auditor.screenshot("uk-audit-claim-details-open-390")
        check(auditor, "/audit", "audit", english, known)
        page.set_viewport_size(SIZES[390])  # type: ignore[arg-type]
        page.goto("/audit")
        expect(page.locator("table.log tbody tr")).to_have_count(100)
        height = page.evaluate("() => document.documentElement.scrollHeight")
        assert height < 5 * 844, f"a page of 100 events is {height} px on a phone"
        assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")

        member.login()
        check(member, "/unit", "unit", english, known)
        expect(member.page.locator("main")).to_contain_text("БТР")
        check(member, "/review", "error-member", english, known)
        expect(member.page.locator("p.ways a").first).to_have_attribute("href", "/unit")
    finally:
        for who in (admin, auditor, member):
            who.close()
