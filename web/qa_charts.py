"""The calibration page's charts as numbers: positions and lengths in an SVG viewBox, which
the template draws (inline SVG, no script, no build step). Pure, so the drawing is tested by
what it would place, and the template never builds markup from strings."""

from dataclasses import dataclass

from mvq.review.qa.figures import PairKappa, Rate, TimePoint

WIDTH = 600.0  # the viewBox's width; the SVG scales to the page, phone or desk
SCATTER = 300.0
KAPPA = "\N{GREEK SMALL LETTER KAPPA}"
DASH = "\N{EN DASH}"


@dataclass(frozen=True)
class Bar:
    label: str
    x: float  # where the bar starts
    width: float
    low: float  # the interval's whisker, as x positions
    high: float
    text: str  # the value in words beside the label


def rate_bars(rates: list[Rate]) -> list[Bar]:
    """Bars of the share right, 0 to 100 %, with the Wilson interval as a whisker."""
    bars = []
    for rate in rates:
        low, high = rate.interval or (0.0, 0.0)
        bars.append(Bar(label=rate.key, x=0.0, width=rate.share * WIDTH,
                        low=low * WIDTH, high=high * WIDTH,
                        text=f"{rate.share * 100:.0f} % ({rate.correct}/{rate.total}; "
                             f"{low * 100:.0f}\N{EN DASH}{high * 100:.0f} %)"))  # fmt: skip
    return bars


def kappa_bars(pairs: list[PairKappa]) -> list[Bar]:
    """Kappa from -1 to 1 around a middle zero line; an undefined kappa draws no bar."""
    bars = []
    middle = WIDTH / 2
    for pair in pairs:
        k = pair.kappa if pair.kappa is not None else 0.0
        start, end = sorted((middle, middle + k * middle))
        text = f"{KAPPA} {pair.kappa:.2f} (n={pair.items})" if pair.kappa is not None else DASH
        bars.append(Bar(label=f"{pair.first} · {pair.second}", x=start,
                        width=end - start, low=start, high=end, text=text))  # fmt: skip
    return bars


@dataclass(frozen=True)
class Scatter:
    points: list[tuple[float, float]]  # x, y in the viewBox (y grows downward)
    max_seconds: float  # both axes run from 0 to this
    faster: int  # decisions made in less time than the footage runs
    total: int


def time_scatter(points: list[TimePoint]) -> Scatter:
    """Seconds taken (up) against the footage's length (across), on one scale, so the
    diagonal is "decided in the time the footage runs"; below it, faster than that."""
    top = max([1.0] + [max(p.seconds, p.footage_seconds) for p in points]) * 1.05
    scale = SCATTER / top
    placed = [(p.footage_seconds * scale, SCATTER - min(p.seconds, top) * scale) for p in points]
    faster = sum(p.seconds < p.footage_seconds for p in points)
    return Scatter(points=placed, max_seconds=top, faster=faster, total=len(points))
