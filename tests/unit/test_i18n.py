"""Ukrainian and English pages: which language a request gets, what the templates render in
it, that translated strings still escape, and that the Ukrainian catalogue covers every string
the templates mark."""

import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from fastapi import FastAPI
from fastapi.testclient import TestClient

from edge import errors, i18n
from mvq.errors import Conflict, Forbidden, NotFound, RateLimited
from web.app import create_app
from web.templating import templates

ROOT = Path(__file__).parents[2]


@pytest.fixture(autouse=True)
def default_language(monkeypatch: pytest.MonkeyPatch) -> Iterator[SimpleNamespace]:
    """The configured default, without building real Settings (which in dev write secrets)."""
    settings = SimpleNamespace(default_language="uk", default_time_zone="Europe/Kyiv")
    monkeypatch.setattr(i18n, "get_settings", lambda: settings)
    yield settings


@pytest.fixture
def client() -> Iterator[TestClient]:
    with TestClient(create_app()) as c:
        yield c


def heading(page: str) -> str:
    found = re.search(r"<h1[^>]*>(.*?)</h1>", page)
    assert found, page
    return found[1]


def html_lang(page: str) -> str:
    found = re.search(r'<html lang="([^"]*)">', page)
    assert found, page
    return found[1]


# --- which language ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "cookie", "accept", "expected"),
    [
        ("en", "uk", "uk", "en"),  # ?lang beats everything
        ("EN", None, None, "en"),
        (None, "en", "uk", "en"),  # then the stored choice
        (None, None, "en-US,en;q=0.9", "en"),  # then the browser
        (None, None, None, "uk"),  # then the default
        ("xx", None, None, "uk"),  # unknown values are as good as absent
        ("xx", "fr", "de", "uk"),
        ("xx", "en", None, "en"),
    ],
)
def test_the_order_of_the_sources(
    query: str | None, cookie: str | None, accept: str | None, expected: str
) -> None:
    assert i18n.choose(query=query, cookie=cookie, accept_language=accept, default="uk") == (
        expected
    )


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("en", "en"),
        ("uk-UA,uk;q=0.9,en-US;q=0.8,en;q=0.7", "uk"),
        ("en;q=0.5, uk;q=0.8", "uk"),  # by q, not by position
        ("uk;q=0.8, en;q=0.8", "uk"),  # a tie keeps the header's order
        ("de-DE, en-GB;q=0.7, uk;q=0.6", "en"),  # a region matches its language
        ("EN_us", "en"),
        ("uk;q=0, en;q=0.1", "en"),  # q=0 means "not this one"
        ("en;q=abc, uk;q=0.3", "uk"),  # a malformed entry is skipped
        ("en;q=nan, en;q=2, uk;q=0.1", "uk"),
        ("de, fr;q=0.9", None),
        ("*", None),
        ("", None),
        (None, None),
        (",;, ;q=1,", None),
    ],
)
def test_accept_language(header: str | None, expected: str | None) -> None:
    assert i18n.from_accept_language(header) == expected


def test_the_query_switches_and_stores_the_choice(client: TestClient) -> None:
    page = client.get("/login?lang=en", headers={"Accept-Language": "uk"})
    assert page.status_code == 200 and html_lang(page.text) == "en"
    assert heading(page.text) == "Log in"
    stored = [c for c in page.headers.get_list("set-cookie") if c.startswith(f"{i18n.COOKIE}=")]
    assert len(stored) == 1
    attributes = {a.strip().split("=")[0].lower() for a in stored[0].split(";")}
    assert {"httponly", "max-age", "path", "samesite"} <= attributes
    assert "samesite=lax" in stored[0].lower() and "secure" not in attributes  # plain http
    # The cookie now outranks the browser's own preference.
    again = client.get("/login", headers={"Accept-Language": "uk"})
    assert html_lang(again.text) == "en"
    assert not [c for c in again.headers.get_list("set-cookie") if c.startswith(i18n.COOKIE)]
    back = client.get("/login?lang=uk", headers={"Accept-Language": "en"})
    assert heading(back.text) == "Увійти"
    assert html_lang(client.get("/login").text) == "uk"


def test_the_cookie_is_secure_over_https() -> None:
    with TestClient(create_app(), base_url="https://testserver") as secure:
        page = secure.get("/login?lang=en")
    stored = [c for c in page.headers.get_list("set-cookie") if c.startswith(f"{i18n.COOKIE}=")]
    assert len(stored) == 1 and "; secure" in stored[0].lower()


def test_an_unknown_language_is_ignored(client: TestClient) -> None:
    page = client.get("/login?lang=xx", headers={"Accept-Language": "en"})
    assert page.status_code == 200 and html_lang(page.text) == "en"
    assert i18n.COOKIE not in page.headers.get("set-cookie", "")
    assert i18n.COOKIE not in client.cookies
    client.cookies.set(i18n.COOKIE, "<script>")  # a forged cookie is no choice either
    page = client.get("/login")
    assert page.status_code == 200 and html_lang(page.text) == "uk"


def test_accept_language_then_the_default(
    client: TestClient, default_language: SimpleNamespace
) -> None:
    page = client.get("/login", headers={"Accept-Language": "de-DE,en;q=0.5"})
    assert heading(page.text) == "Log in"
    assert "Accept-Language" in page.headers["vary"]
    assert heading(client.get("/login", headers={"Accept-Language": "de"}).text) == "Увійти"
    default_language.default_language = "en"
    assert heading(client.get("/login").text) == "Log in"


def test_a_default_without_pages_stops_the_start(default_language: SimpleNamespace) -> None:
    default_language.default_language = "ru"
    with pytest.raises(ValueError, match="MVQ_DEFAULT_LANGUAGE"):
        create_app()


def test_error_pages_speak_the_language_too(client: TestClient) -> None:
    page = client.get("/nothing-here?lang=en")
    assert page.status_code == 404 and "<title>Error 404 · mvq</title>" in page.text
    page = client.get("/nothing-here?lang=uk")
    assert page.status_code == 404 and "<title>Помилка 404 · mvq</title>" in page.text
    # Issue 31: headed in the reader's words ("404 · not_found" before), the code kept for
    # scripts in data-code; and a way on for the reader.
    assert heading(page.text) == "404 · Тут нічого немає"
    assert '<h1 data-code="not_found">' in page.text and "not_found</h1>" not in page.text
    assert heading(client.get("/nothing-here?lang=en").text) == "404 · Nothing here"


# --- what gets rendered ---------------------------------------------------------------------


def test_a_page_in_each_language(client: TestClient) -> None:
    uk = client.get("/login?lang=uk&next=/review").text
    assert "<title>Увійти · mvq</title>" in uk and "Пароль" in uk and "Log in" not in uk
    en = client.get("/login?lang=en&next=/review").text
    assert "<title>Log in · mvq</title>" in en and "Password" in en and "Увійти" not in en
    # The switch keeps the page's other parameters and marks the current language.
    assert '<a href="?next=%2Freview&amp;lang=uk" hreflang="uk" lang="uk">Українська</a>' in en
    assert 'href="?next=%2Freview&amp;lang=en" hreflang="en" lang="en" aria-current="true"' in en


@pytest.mark.parametrize(("language", "word"), [("uk", "Помилка"), ("en", "Error")])
def test_placeholder_values_are_escaped(language: str, word: str) -> None:
    template = templates.env.from_string('{{ _("Error %(status)s", status=value) }}')
    with i18n.using(language):
        rendered = template.render(value='<script>alert("x")</script>')
    assert rendered == f"{word} &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;"


def test_route_code_gettext() -> None:
    with i18n.using("uk"):
        assert i18n.lang() == "uk"
        assert i18n.gettext("Log out") == "Вийти"
        assert i18n.gettext("Error %(status)s", status=403) == "Помилка 403"
        assert i18n.gettext("100% new") == "100% new"  # untranslated, and not formatted
        assert i18n.ngettext("%(num)d clip", "%(num)d clips", 3) == "3 clips"
    with i18n.using("en"):
        assert i18n.gettext("Log out") == "Log out"
    assert i18n.lang() == "uk"  # outside: the configured default
    with pytest.raises(ValueError):
        i18n.using("xx").__enter__()


# --- the catalogue --------------------------------------------------------------------------

PLACEHOLDER = re.compile(r"%\((\w+)\)[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa]")


def extracted() -> dict[str, tuple[str | tuple[str, ...], list[str]]]:
    """Every marked string, found the way `make messages` finds them (babel.cfg): msgid ->
    (message, where)."""
    with (ROOT / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    tops = {pattern.split("/")[0] for pattern, _ in method_map}

    def only_configured(path: str) -> bool:  # don't walk the benchmarks' footage
        parts = Path(path).relative_to(ROOT).parts
        return parts[0] in tops and not any(p.startswith((".", "_")) for p in parts)

    found: dict[str, tuple[str | tuple[str, ...], list[str]]] = {}
    for filename, lineno, message, _, context in extract_from_dir(
        ROOT, method_map, options_map, DEFAULT_KEYWORDS, directory_filter=only_configured
    ):
        assert context is None, "no pgettext here: context would need a key of its own"
        key = message if isinstance(message, str) else message[0]
        found.setdefault(key, (message, []))[1].append(f"{filename}:{lineno}")
    return found


def test_extraction_finds_the_marked_strings() -> None:
    found = extracted()
    for message in ("Log in", "Log out", "Error %(status)s", "Back to the queue"):
        assert message in found
    assert any(where.startswith("web/templates/base.html") for where in found["Log out"][1])


def test_every_marked_string_has_a_ukrainian_translation() -> None:
    """Fails, naming each string and where it is marked, until the catalogue has it:
    run `make messages`, translate, remove any `#, fuzzy`."""
    with i18n.catalogue_path("uk").open("rb") as po:
        catalog = read_po(po, locale="uk")
    problems = []
    for msgid, (message, where) in sorted(extracted().items()):
        at = ", ".join(where)
        ids = [message] if isinstance(message, str) else list(message)
        entry = catalog.get(msgid)
        if entry is None:
            problems.append(f"missing: {msgid!r} ({at})")
            continue
        strings = [entry.string] if isinstance(entry.string, str) else list(entry.string)
        if entry.fuzzy or not all(strings):
            problems.append(f"{'fuzzy' if entry.fuzzy else 'untranslated'}: {msgid!r} ({at})")
            continue
        # Ukrainian's "one" form also covers 21, 31, ...: every form needs every placeholder.
        expected = {name for text in ids for name in PLACEHOLDER.findall(text)}
        for text in strings:
            if set(PLACEHOLDER.findall(text)) != expected:
                problems.append(f"placeholders differ: {msgid!r} -> {text!r} ({at})")
            else:
                try:  # Jinja's newstyle gettext always %-formats: a stray % would break it
                    text % {name: 1 for name in expected}  # 1 suits %s and %d
                except (ValueError, TypeError, KeyError) as exc:
                    problems.append(f"bad format ({exc}): {text!r} ({at})")
            # Jinja marks a translation safe (only the variables are escaped): a translation
            # must not bring markup its English source does not have.
            if set("<>&") & set(text) - set("".join(ids)):
                problems.append(f"markup in translation: {text!r} ({at})")
    assert not problems, "\n".join(problems)


def test_the_catalogue_is_current() -> None:
    """The sources and the catalogue name the same strings: a string marked since the last
    `make messages` is missing from it, one no longer marked anywhere is stale in it. The
    extraction is the one `make messages` runs (babel.cfg), held in memory like a temp .pot."""
    with i18n.catalogue_path("uk").open("rb") as po:
        catalog = read_po(po, locale="uk")
    in_sources = set(extracted())
    in_catalogue = {m.id if isinstance(m.id, str) else m.id[0] for m in catalog if m.id}
    new = sorted(in_sources - in_catalogue)
    removed = sorted(in_catalogue - in_sources)
    assert not new and not removed, "run `make messages` and translate:\n" + "\n".join(
        [f"new: {m!r}" for m in new] + [f"no longer in the sources: {m!r}" for m in removed]
    )


def test_the_compiled_catalogue_is_used_while_current(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    po = tmp_path / "uk" / "LC_MESSAGES" / "messages.po"
    po.parent.mkdir(parents=True)
    po.write_text('msgid ""\nmsgstr ""\n\nmsgid "Log out"\nmsgstr "Вийти з .po"\n')
    monkeypatch.setattr(i18n, "LOCALES", tmp_path)
    assert i18n._load("uk").gettext("Log out") == "Вийти з .po"  # no .mo: the .po
    with po.open("rb") as source:
        catalog = read_po(source, locale="uk")
    catalog["Log out"].string = "Вийти з .mo"
    with i18n.compiled_path("uk").open("wb") as mo:
        write_mo(mo, catalog)
    assert i18n._load("uk").gettext("Log out") == "Вийти з .mo"
    os.utime(po, (po.stat().st_mtime + 10,) * 2)  # the .po edited after the compile
    assert i18n._load("uk").gettext("Log out") == "Вийти з .po"


# --- dates, numbers, spans ---------------------------------------------------------------


def test_times_in_the_readers_zone_with_utc_on_hover() -> None:
    template = templates.env.from_string("{{ at | when }}|{{ at | when('time') }}")
    at = datetime(2026, 11, 28, 12, 5, tzinfo=UTC)
    with i18n.using("uk"):
        kyiv = template.render(at=at)
    assert kyiv.startswith('<time datetime="2026-11-28T12:05:00Z" title="2026-11-28 12:05:00 UTC">')
    assert "28 лист. 2026\u202fр., 14:05</time>" in kyiv  # noqa: RUF001
    assert ">14:05:00</time>" in kyiv
    with i18n.using("en", time_zone="America/New_York"):
        assert "Nov 28, 2026, 07:05</time>" in template.render(at=at)
    with i18n.using("en", time_zone="Not/AZone"):  # an unknown stored zone: the default
        assert "Nov 28, 2026, 14:05</time>" in template.render(at=at)
    assert templates.env.from_string("{{ none | when }}").render() == "\N{EN DASH}"


def test_numbers_and_spans_in_the_readers_language() -> None:
    template = templates.env.from_string(
        "{{ 1234.5 | number(1) }}|{{ waited | age }}|{{ 150 | span }}|{{ then | ago(now) }}"
    )
    now = datetime(2026, 1, 1, tzinfo=UTC)
    values = {"waited": timedelta(hours=2, minutes=5), "then": now - timedelta(minutes=5)}
    with i18n.using("uk"):
        assert template.render(now=now, **values) == "1\xa0234,5|2 год 5 хв|2 години|5 хвилин тому"
    with i18n.using("en"):
        assert template.render(now=now, **values) == "1,234.5|2 hr 5 min|2 hours|5 minutes ago"


# --- error messages ---------------------------------------------------------------------------


def test_error_messages_follow_the_language_and_keep_their_code() -> None:
    limited = errors.problem(RateLimited("more than 5 attempts in 900 s", retry_after=30))
    assert errors.message_in(limited, "en") == "more than 5 attempts in 900 s"  # as it was
    assert errors.message_in(limited, "uk") == "Забагато спроб: спробуйте знову через 30 с."  # noqa: RUF001
    unknown = errors.problem(Conflict("something new", code="brand_new"))
    assert errors.message_in(unknown, "uk") == "something new"  # no entry: the English
    missing = errors.problem(NotFound("no such submission"))
    assert missing.code == "not_found" and errors.message_in(missing, "uk").startswith("Тут")


def test_json_errors_speak_the_clients_language() -> None:
    app = FastAPI()
    errors.install(app)

    @app.get("/refuse")
    def refuse() -> None:
        raise Forbidden("send the page's CSRF token in X-CSRF-Token", code="csrf")

    with TestClient(app) as api:
        plain = api.get("/refuse")
        ukrainian = api.get("/refuse", headers={"Accept-Language": "uk-UA,uk;q=0.9,en;q=0.5"})
    assert plain.json()["error"] == {
        "code": "csrf",
        "message": "send the page's CSRF token in X-CSRF-Token",
    }
    assert ukrainian.json()["error"]["code"] == "csrf"
    assert ukrainian.json()["error"]["message"] == (
        "Форма застаріла: оновіть сторінку й спробуйте ще раз."
    )
    assert "accept-language" in ukrainian.headers["vary"].lower()
