"""The provenance ranking's reasons in the reader's language."""

from datetime import timedelta

from edge.i18n import gettext
from mvq.review.provenance import Reason, Verdict
from web.templating import _duration, _number
from web.templating import _span as _minutes


def _span(seconds: int) -> str:
    if seconds >= 120:
        return _minutes(seconds / 60)
    return _duration(timedelta(seconds=seconds), "second", style="long")


def _source(code: str) -> str:
    return gettext("telemetry") if code.startswith("telemetry") else gettext("file metadata")


def reason(r: Reason) -> str:
    p = r.params
    if r.code == "c2pa":
        return gettext("C2PA manifest; the other has none")
    if r.code == "contains":
        return gettext("contains all of the other's frames plus %(span)s more",
                       span=_span(p["seconds"]))  # fmt: skip
    if r.code == "camera":
        if p.get("other_reencoded"):
            return gettext("camera metadata; the other is re-encoded")
        return gettext("camera metadata; the other has none")
    if r.code == "earlier":
        return gettext("recorded %(span)s earlier (%(source)s)", span=_span(p["seconds"]),
                       source=_source(p["source"]))  # fmt: skip
    if r.code == "keeps_time":
        return gettext("keeps its capture time (%(source)s); the other has none",
                       source=_source(p["source"]))  # fmt: skip
    if r.code == "resolution":
        return gettext("higher resolution (%(ratio)s times the pixels)",
                       ratio=_number(round(p["a"] / p["b"], 1)))  # fmt: skip
    if r.code in ("bit_rate", "bit_rate_much"):
        return gettext("higher bit rate (%(ratio)s times)", ratio=_number(p["ratio"]))
    return gettext("uploaded first")


def reasons(verdict: Verdict, side: str) -> list[str]:
    return [reason(r) for r in sorted(verdict.reasons.get(side, []), key=lambda r: -r.weight)]
