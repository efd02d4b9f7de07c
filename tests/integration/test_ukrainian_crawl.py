"""Issue 31, "Ukrainian everywhere": every person of every role reads every page of the web app
in Ukrainian (every GET route of the route table that answers HTML, and the same-site pages
those link to, one hop), and no page shows

- English text (a message nobody translated, or words built in Python without gettext),
- a raw code (`appeal.upheld`, `not_found`, `submission_id`, or a bare target type such as
  `tank`),
- escaped JSON (`\\u0411…`, Cyrillic as a JSON dump writes it),
- markup shown as text (a `<time>` written into an attribute ends it early).

Codes, ids and names meant as such are marked up as code (`<code>`, `<kbd>`, `<samp>`) or with
`translate="no"`, and text in another language carries its `lang` (the language switch): the
crawl skips those, as a translator's tools do. A GET route the crawl cannot fill fails it
(test_visibility_crawl.fill), so a new page is read in Ukrainian from the day it is added."""

import re
import uuid
from collections import deque
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

from sqlalchemy import select

from mvq.audit import service as audit
from mvq.auth.models import Role, StaffUser
from mvq.db import session_factory
from mvq.media.models import Media
from mvq.review.models import ReviewItem
from mvq.submissions.models import Flag
from mvq.webhooks.models import WebhookEndpoint
from testkit import harness
from testkit.people import make_login, web_login
from tests.routes import fill, get_routes
from tests.words import NAMES

MAX_REQUESTS = 160  # per person
NOT_PAGES = ("/api/", "/static/", "/healthz", "/readyz", "/metrics", "/favicon.ico", "/docs",
             "/logout")  # fmt: skip
LINK = re.compile(r"""href=["'](/[^"'/][^"']*|/)["']""")
# Code, and what a person types (a field's content is theirs, in their words or codes).
SKIPPED_TAGS = {"script", "style", "code", "kbd", "samp", "template", "svg", "textarea"}
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}  # fmt: skip
SHOWN_ATTRIBUTES = ("title", "aria-label", "placeholder", "alt")
# What is data rather than words: addresses, e-mails, ids, file names, the test's own names.
DATA = re.compile(
    r"https?://\S+|[\w.+-]+@[\w.-]+|\b[0-9a-f]{8,}(?:-[0-9a-f]{4,})*\b|\b[\w-]+\.(?:mp4|jpe?g|png|mov|zip|json)\b"
    r"|\b(?:unit|sys|r)-[0-9a-f]{8}\b|\bx\d{3}\b|\bversion-\w+"
    r"|\b(?:Africa|America|Antarctica|Arctic|Asia|Atlantic|Australia|Europe|Indian|Pacific|Etc)/[\w/+-]+"
)
# What the copies fixture's unit typed (an appeal's reason): a person's words, shown as typed.
TYPED = ("it is ours",)
LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z'\u2019]{2,}")
RAW_CODE = re.compile(r"(?<![\w@/])[a-z][a-z0-9]*(?:[._][a-z0-9]+)+(?![\w@/])")
ESCAPED = re.compile(r"\\u0[0-9a-fA-F]{3}")
# Markup that ended an attribute early and shows as text ('1 січ. 2025 р., 02:00">').  # noqa: RUF003
LEAKED = re.compile(r"\"\s*/?>|</?[a-z]+[\s>]")


class Shown(HTMLParser):
    """The text a reader sees (and hears: titles, labels, placeholders), element by element,
    without what the page marks as code, as untranslatable or as another language."""

    def __init__(self, page_lang: str) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[bool] = []  # per open element: is its content skipped?
        self.page_lang = page_lang
        self.texts: list[str] = []

    def _skipped(self) -> bool:
        return bool(self.stack) and self.stack[-1]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        skip = (self._skipped() or tag in SKIPPED_TAGS or a.get("translate") == "no"
                or (a.get("lang") not in (None, self.page_lang)))  # fmt: skip
        if not skip:
            self.texts += [a[name] or "" for name in SHOWN_ATTRIBUTES if a.get(name)]
            if tag == "input" and a.get("type") in ("submit", "button") and a.get("value"):
                self.texts.append(a["value"] or "")
        if tag not in VOID:
            self.stack.append(skip)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.stack.pop()

    def handle_endtag(self, tag: str) -> None:
        if tag not in VOID and self.stack:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        if not self._skipped() and data.strip():
            self.texts.append(data)


def findings(html: str, *, codes: set[str]) -> set[str]:
    """What on the page is not Ukrainian: each finding names its kind and the text."""
    lang = re.search(r'<html lang="([a-z]+)"', html)
    if not lang or lang[1] != "uk":
        return {f"not a Ukrainian page: {lang[0] if lang else 'no <html lang>'}"}
    parser = Shown("uk")
    parser.feed(html)
    found = set()
    for text in parser.texts:
        if LEAKED.search(text):
            found.add(f"markup as text: {text.strip()[:80]!r}")
        if ESCAPED.search(text):
            found.add(f"escaped JSON: {text.strip()[:80]!r}")
        words = DATA.sub(" ", text)
        for typed in TYPED:
            words = words.replace(typed, " ")
        for code in RAW_CODE.findall(words):
            found.add(f"raw code: {code!r} in {text.strip()[:80]!r}")
        english = [w for w in LATIN_WORD.findall(RAW_CODE.sub(" ", words)) if w not in NAMES]
        bare = [w for w in english if w in codes]
        if bare:
            found.add(f"raw code: {bare} in {text.strip()[:80]!r}")
        elif english:
            found.add(f"English: {text.strip()[:100]!r}")
    return found


def test_findings_catch_each_kind_and_spare_code_and_names() -> None:
    page = '<html lang="uk"><body>{}</body></html>'
    codes = {"tank"}
    assert findings(page.format("<p>перевірено: container tags, EXIF</p>"), codes=codes)
    assert findings(page.format("<td>appeal.upheld</td>"), codes=codes)
    assert findings(page.format("<h1>404 · not_found</h1>"), codes=codes)
    assert findings(page.format("<td>tank</td>"), codes=codes) == {"raw code: ['tank'] in 'tank'"}
    assert findings(page.format('<pre>{"a": "\\u0411"}</pre>'), codes=codes)
    assert findings(page.format('<input placeholder="Search here">'), codes=codes)
    assert findings('<html lang="en"><p>Привіт</p></html>', codes=codes)
    leak = '<section aria-label="Правила з <time datetime="x">1 січ. 2025 р.</time>"><p>Є</p>'  # noqa: RUF001
    assert any("markup as text" in f for f in findings(page.format(leak), codes=codes))
    fine = (
        "<p>Танк <code>tank</code>, файл strike.mp4, EXIF, r@web.mvq, 0123abcd; "
        '<span translate="no">unit-0123abcd</span> <a lang="en">English</a></p>'
    )
    assert findings(page.format(fine), codes=codes) == set()


def _enrich(copies) -> None:
    """What the issue found in English on top of the copies: a file's flags with the checks'
    own words, a C2PA status, an audit event with Cyrillic in its details."""
    with session_factory()() as session:
        media = session.get_one(Media, copies.b_media)
        media.c2pa_status = "absent"
        media.encoder = "Lavf60.16.100"
        session.add(Flag(submission_id=copies.b_claim, media_id=copies.b_media,
                         kind="no_capture_time",
                         evidence={"looked_in": ["container tags", "EXIF", "telemetry",
                                                 "on-screen display"]}))  # fmt: skip
        session.add(Flag(submission_id=copies.b_claim, media_id=copies.b_media, kind="reencoded",
                         evidence={"signals": ["encoder tag 'Lavf60.16.100'",
                                               "no camera make/model beside an ffmpeg muxer tag"],
                                   "encoder": "Lavf60.16.100"}))  # fmt: skip
        audit.record(session, actor="test", action="appeal.upheld", object_type="appeal",
                     object_id=copies.b_appeal,
                     data={"submission_id": copies.b_appealed, "reason": "Було видно танк",
                           "target_type": "tank", "outcome": "destroyed",
                           "claim_status": "approved"})  # fmt: skip
        session.commit()


def test_every_page_is_ukrainian_for_every_role(stack: harness.Stack, copies) -> None:
    _enrich(copies)
    people = {role.value: make_login(role) for role in
              (Role.reviewer, Role.senior, Role.admin, Role.auditor, Role.marketplace)}  # fmt: skip
    people["member of B"] = make_login(Role.unit, unit_id=copies.unit_b)
    with session_factory()() as session:
        users = list(session.scalars(select(StaffUser.id)))[:3]
        items = list(session.scalars(select(ReviewItem.id).where(
            ReviewItem.submission_id == copies.b_claim)))  # fmt: skip
        hook = WebhookEndpoint(
            url="https://hooks.example/mvq",
            unit_id=copies.unit_b,
            events=["*"],
            sealed_secret="unused",
            created_by="test",
        )
        session.add(hook)
        session.commit()
        hook_id = hook.id
    values = {"unit_id": [copies.unit_b], "user_id": users, "item_id": items,
              "submission_id": [copies.b_claim, copies.b_appealed],
              "endpoint_id": [hook_id], "entry_id": copies.b_entries[:1],
              "reason_code": ["approve", "not_visible"]}  # fmt: skip
    starts = [url for path in get_routes() if not path.startswith(NOT_PAGES)
              for url in fill(path, values)]  # fmt: skip
    # An address that is nobody's, and the chain verified once (its time on the audit page).
    starts += [f"/no-such-page-{uuid.uuid4().hex[:6]}", f"/review/{uuid.uuid4()}"]
    codes = {"tank", "mlrs", "artillery", "apc", "infantry", "armoured_vehicle", "destroyed",
             "damaged", "approved", "rejected", "forbidden", "submission", "appeal"}  # fmt: skip
    found: dict[str, set[str]] = {}
    for who, login in people.items():
        web = web_login(stack, *login)
        client = web.client
        client.headers["Accept-Language"] = "uk"
        if who == "auditor":
            done = client.post("/audit/verify", data={"csrf_token": web.csrf})
            assert done.status_code == 303, done.text
        seen: set[str] = set()
        todo = deque((url, 0) for url in starts)
        while todo and len(seen) < MAX_REQUESTS:
            url, depth = todo.popleft()
            if url in seen:
                continue
            seen.add(url)
            answer = client.get(url, headers={"Accept": "text/html"})
            if "text/html" not in answer.headers.get("content-type", ""):
                continue
            for problem in findings(answer.text, codes=codes):
                found.setdefault(problem, set()).add(f"{who} {url} ({answer.status_code})")
            if depth == 0:
                for link in LINK.findall(answer.text):
                    target = urljoin(url, link.replace("&amp;", "&"))
                    if not urlsplit(target).path.startswith(NOT_PAGES) and "lang=" not in target:
                        todo.append((target, 1))
        assert len(seen) >= len(starts), (who, len(seen))
    report = [f"{p}\n    on {', '.join(sorted(w)[:3])}{' …' if len(w) > 3 else ''}"
              for p, w in sorted(found.items())]  # fmt: skip
    assert not found, f"{len(found)} findings:\n" + "\n".join(report)
