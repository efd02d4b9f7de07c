"""Reading the weighted lists of HTTP's content negotiation headers (Accept, Accept-Language:
RFC 9110 §12.4.2). Written here because neither Starlette nor Babel parses them; both the
language of a page and the JSON-or-HTML choice for error answers read them this one way."""

from collections.abc import Iterator

MAX_ITEMS = 64  # a sane bound on a hostile header


def weighted(header: str) -> Iterator[tuple[str, float]]:
    """(value, q) for each comma-separated item, in the header's order, lower-cased. A missing
    or unreadable q counts as 1 and 0 respectively: the header is the client's to get wrong."""
    for item in header.split(",")[:MAX_ITEMS]:
        value, *params = (piece.strip() for piece in item.split(";"))
        q = 1.0
        for param in params:
            name, _, number = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(number)
                except ValueError:
                    q = 0.0
        yield value.lower(), q


def _quality(accept: str, wanted: str) -> float:
    """The q a request's Accept gives one media type: the most specific range that matches."""
    best: tuple[int, float] = (-1, 0.0)
    kind = wanted.split("/")[0]
    for media_range, q in weighted(accept):
        specificity = {wanted: 2, f"{kind}/*": 1, "*/*": 0}.get(media_range)
        if specificity is not None and specificity >= best[0]:
            best = (specificity, q)
    return best[1]


def prefers_html(accept: str | None) -> bool:
    """A browser's Accept ranks text/html above JSON; a script's (none, */*, JSON) does not."""
    if not accept:
        return False
    return _quality(accept, "text/html") > _quality(accept, "application/json")
