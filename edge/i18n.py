"""Ukrainian and English for the web pages: the catalogues, each request's language, and the
gettext functions that templates (`_()`) and route code share.

English is the source language: every msgid is the English text, so `en` needs no catalogue,
and a string nobody has translated yet shows in English rather than as a key.

The language of a request: `?lang=uk|en`, else the signed-in person's stored choice
(`staff_users.language`), else the cookie's, else the browser's `Accept-Language`, else the
configured `default_language`. `LanguageMiddleware` decides all but the stored choice, which
only the session knows: `web.deps` adopts it (and stores a `?lang=` choice there) once it has
found the person. The request's reader (language and time zone) lives in a ContextVar for the
request's duration, so gettext needs no request argument and works the same in templates and
in route code.

To add or change a translation: `make messages` (extracts the marked strings and merges them
into edge/locales/uk/LC_MESSAGES/messages.po), fill in the msgstr, clear any `#, fuzzy` flag,
`make catalogues` (compiles the .mo; `make install` does it too) and restart. Without a
current .mo the .po is compiled in memory at start-up, so a forgotten compile never shows
stale words.
"""

import gettext as _gettext_module
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from io import BytesIO
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.core import negotiate_locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from edge import negotiation
from mvq.settings import get_settings

SUPPORTED = ("uk", "en")
SOURCE = "en"  # the msgids' language
# Each language by its own name: a reader who cannot read the current page still finds theirs.
NAMES = {"uk": "Українська", "en": "English"}
QUERY = "lang"
COOKIE = "mvq_lang"
COOKIE_MAX_AGE = 400 * 24 * 3600  # the longest lifetime browsers honour (RFC 6265bis)
DOMAIN = "messages"
LOCALES = Path(__file__).parent / "locales"


def catalogue_path(language: str) -> Path:
    return LOCALES / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def compiled_path(language: str) -> Path:
    return catalogue_path(language).with_suffix(".mo")


def _load(language: str) -> _gettext_module.NullTranslations:
    if language == SOURCE:
        return NullTranslations()
    source, compiled = catalogue_path(language), compiled_path(language)
    # The .mo that `make install` compiles (`pybabel compile`, which leaves fuzzy entries out),
    # unless the .po was edited after it: then the .po, compiled here in memory the same way,
    # so an edit without a compile never shows stale words. Not in git (a compiled file there
    # goes stale with the first edit): every checkout builds its own.
    if compiled.exists() and compiled.stat().st_mtime >= source.stat().st_mtime:
        with compiled.open("rb") as mo:
            return Translations(mo, domain=DOMAIN)
    with source.open("rb") as po:
        catalog = read_po(po, locale=language, domain=DOMAIN, abort_invalid=True)
    in_memory = BytesIO()
    # Fuzzy entries are pybabel update's guesses from similar strings; until a person has
    # checked one it stays out, and the page shows the English instead of a wrong Ukrainian.
    write_mo(in_memory, catalog, use_fuzzy=False)
    in_memory.seek(0)
    return Translations(in_memory, domain=DOMAIN)


# Loaded once, at import (so at start-up): a missing or malformed catalogue stops the process
# instead of failing the first page that needs it.
_CATALOGUES: dict[str, _gettext_module.NullTranslations] = {lang: _load(lang) for lang in SUPPORTED}


@dataclass
class Reader:
    """Who a request's page is for: its language and time zone (None: the configured zone).
    Mutable on purpose: the middleware makes it, and the session dependency, which FastAPI
    runs in a worker thread with a copy of the context, completes it in place once it knows
    the signed-in person; a ContextVar set there would not reach the page."""

    language: str
    time_zone: str | None = None
    # The `?lang=` of this request, if any: it outranks a stored choice and replaces it.
    chosen: str | None = None
    signed_in: bool = False
    # Whatever a page looks up once per request (the admins' labels): name -> value.
    cache: dict[str, Any] = field(default_factory=dict)


def cached() -> dict[str, Any] | None:
    """The current request's cache, or None outside one."""
    reader = _current.get()
    return reader.cache if reader else None


# None outside a request (a CLI, a test rendering a template): then the configured default.
_current: ContextVar[Reader | None] = ContextVar("mvq_web_reader", default=None)


def supported(value: str | None) -> str | None:
    """`value` as one of SUPPORTED, or None for anything else (absent, unknown, malformed)."""
    if value is None:
        return None
    value = value.strip().lower()
    return value if value in SUPPORTED else None


def default_language() -> str:
    configured = get_settings().default_language
    found = supported(configured)
    if found is None:
        raise ValueError(
            f"MVQ_DEFAULT_LANGUAGE={configured!r}: the web pages exist in {', '.join(SUPPORTED)}"
        )
    return found


def from_accept_language(header: str | None) -> str | None:
    """The best of SUPPORTED for an Accept-Language header (RFC 9110 §12.5.4), or None.

    Ranges are ordered by their q-value (ties keep the header's order) and q=0 means "not
    this one"; `en-GB` matches `en`. Malformed entries are skipped, not fatal: the header is
    the client's to get wrong."""
    if not header:
        return None
    ranked: list[tuple[float, int, str]] = []
    for position, (tag, q) in enumerate(negotiation.weighted(header)):
        if not tag or tag == "*" or not 0 < q <= 1:  # also drops nan and inf
            continue
        ranked.append((-q, position, tag.replace("_", "-")))
    preferred = [tag for _, _, tag in sorted(ranked)]
    return negotiate_locale(preferred, SUPPORTED, sep="-", aliases={})


def choose(
    *, query: str | None, cookie: str | None, accept_language: str | None, default: str
) -> str:
    return supported(query) or supported(cookie) or from_accept_language(accept_language) or default


def lang() -> str:
    """The current request's language (outside a request, the configured default)."""
    reader = _current.get()
    return reader.language if reader else default_language()


def zone(name: str | None) -> ZoneInfo | None:
    """The IANA zone called `name`, or None for an empty or unknown name."""
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def default_time_zone() -> ZoneInfo:
    configured = get_settings().default_time_zone
    found = zone(configured)
    if found is None:
        raise ValueError(f"MVQ_DEFAULT_TIME_ZONE={configured!r} is not an IANA time zone")
    return found


def time_zone() -> ZoneInfo:
    """The zone the current reader reads times in: their own, else the configured one."""
    reader = _current.get()
    return (zone(reader.time_zone) if reader else None) or default_time_zone()


def adopt(*, language: str | None, time_zone: str | None) -> str | None:
    """The signed-in person's stored choices, once the session has found them: their
    language unless this request's `?lang=` says otherwise, and their time zone. Returns the
    `?lang=` choice that should replace the stored one, if any (None: nothing to store)."""
    reader = _current.get()
    if reader is None:
        return None
    reader.signed_in = True
    reader.time_zone = time_zone
    if reader.chosen is not None:
        return reader.chosen if reader.chosen != supported(language) else None
    stored = supported(language)
    if stored is not None:
        reader.language = stored
    return None


@contextmanager
def using(language: str, *, time_zone: str | None = None) -> Iterator[None]:
    """Speak `language` (and tell times in `time_zone`) inside the block: for work outside a
    web request that renders for a known reader, and for tests."""
    found = supported(language)
    if found is None:
        raise ValueError(f"no pages in {language!r}; there are {', '.join(SUPPORTED)}")
    token = _current.set(Reader(found, time_zone))
    try:
        yield
    finally:
        _current.reset(token)


def _catalogue() -> _gettext_module.NullTranslations:
    return _CATALOGUES[lang()]


# What Jinja calls. Its newstyle wrappers do the `%` formatting themselves, after marking the
# translation safe and escaping the variables, so these must return the bare translation.
def _template_gettext(message: str) -> str:
    return _catalogue().gettext(message)


def _template_ngettext(singular: str, plural: str, n: int) -> str:
    return _catalogue().ngettext(singular, plural, n)


def N_(message: str) -> str:  # gettext's name for "mark for the catalogue, translate later"
    return message


def gettext(message: str, /, **variables: Any) -> str:
    """For route code: `gettext("Claim %(id)s approved", id=claim_id)`. Call it while handling
    the request, never at import time (there is no request language then). Formats only when
    given variables, so a plain message may contain a literal `%`. The result is plain text:
    templates escape it like any other value."""
    text = _catalogue().gettext(message)
    return text % variables if variables else text


def ngettext(singular: str, plural: str, n: int, /, **variables: Any) -> str:
    """For route code: `ngettext("%(num)d clip", "%(num)d clips", n)`; like Jinja's newstyle
    ngettext, `num` is n unless given, and the result is always formatted."""
    variables.setdefault("num", n)
    return _catalogue().ngettext(singular, plural, n) % variables


def install(env: Any) -> None:
    """Make `_()`, `gettext()` and `ngettext()` in templates speak the request's language.
    Newstyle: `_("%(n)s items", n=x)` escapes x under autoescape, and a missing variable is an
    error rather than a silently unformatted string."""
    env.add_extension("jinja2.ext.i18n")
    env.install_gettext_callables(_template_gettext, _template_ngettext, newstyle=True)


@dataclass(frozen=True)
class LanguageLink:
    code: str
    name: str
    href: str
    current: bool


def switch_links(request: Request) -> list[LanguageLink]:
    """The header's language switch: this page again with `?lang=`. The href is a bare query,
    which the browser resolves against the page's own path, so it holds behind any proxy
    prefix. Other parameters stay (a login's `next`), except a one-off notice."""
    kept = [(k, v) for k, v in parse_qsl(request.url.query) if k not in (QUERY, "message")]
    current = lang()
    return [
        LanguageLink(code, NAMES[code], "?" + urlencode([*kept, (QUERY, code)]), code == current)
        for code in SUPPORTED
    ]


def template_context(request: Request) -> dict[str, Any]:
    """A context processor: every page knows its language (`<html lang>`) and its switch."""
    return {"lang": lang(), "languages": switch_links(request)}


def _cookie_header(language: str, *, secure: bool) -> str:
    cookie: SimpleCookie = SimpleCookie()
    cookie[COOKIE] = language
    morsel = cookie[COOKIE]
    morsel["max-age"] = COOKIE_MAX_AGE
    morsel["path"] = "/"
    morsel["httponly"] = True
    # Lax: the choice should hold when someone follows a link to the site from elsewhere.
    morsel["samesite"] = "Lax"
    if secure:
        morsel["secure"] = True
    return morsel.OutputString()


def _vary(headers: MutableHeaders, names: Iterable[str]) -> None:
    present = {v.strip().lower() for value in headers.getlist("vary") for v in value.split(",")}
    for name in names:
        if name.lower() not in present:
            headers.add_vary_header(name)


class LanguageMiddleware:
    """Sets the request's language for everything inside the web app, its error pages
    included, and stores a `?lang=` choice. Plain ASGI rather than BaseHTTPMiddleware, so the
    ContextVar is set in the very task (and thus every thread) that renders the page."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        chosen = supported(request.query_params.get(QUERY))
        language = choose(
            query=chosen,
            cookie=request.cookies.get(COOKIE),
            accept_language=request.headers.get("accept-language"),
            default=default_language(),
        )

        async def send_with_language(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if chosen is not None:
                    secure = scope.get("scheme") == "https"
                    headers.append("set-cookie", _cookie_header(chosen, secure=secure))
                if headers.get("content-type", "").startswith("text/html"):
                    # A shared cache must not hand one reader's language to another.
                    _vary(headers, ("Accept-Language", "Cookie"))
            await send(message)

        token = _current.set(Reader(language, chosen=chosen))
        try:
            await self.app(scope, receive, send_with_language)
        finally:
            _current.reset(token)
