"""The calibration page's charts as numbers: positions and lengths in an SVG viewBox, which
the template draws (inline SVG, no script, no build step). Pure, so the drawing is tested by
what it would place, and the template never builds markup from strings."""

from dataclasses import dataclass

from mvq.review.qa.figures import PairKappa, Rate, TimePoint

WIDTH = 600.0  # the viewBox's width; the SVG scales to the page, phone or desk
ROW = 40.0  # each bar has its label on a line above it, so long names fit a phone
BAR = 14.0
SCATTER = 300.0
KAPPA = "\N{GREEK SMALL LETTER KAPPA}"
DASH = "\N{EN DASH}"


@dataclass(frozen=True)
class Bar:
    label: str
    y: float  # the label's baseline; the bar sits under it
    x: float  # where the bar starts
    width: float
    low: float  # the interval's whisker, as x positions
    high: float
    text: str  # the value in words beside the label


def rate_bars(rates: list[Rate]) -> tuple[list[Bar], float]:
    """Bars of the share right, 0 to 100 %, with the Wilson interval as a whisker."""
    bars = []
    for n, rate in enumerate(rates):
        low, high = rate.interval or (0.0, 0.0)
        bars.append(Bar(label=rate.key, y=n * ROW + 14, x=0.0, width=rate.share * WIDTH,
                        low=low * WIDTH, high=high * WIDTH,
                        text=f"{rate.share * 100:.0f} % ({rate.correct}/{rate.total}; "
                             f"{low * 100:.0f}\N{EN DASH}{high * 100:.0f} %)"))  # fmt: skip
    return bars, max(ROW, len(rates) * ROW)


def kappa_bars(pairs: list[PairKappa]) -> tuple[list[Bar], float]:
    """Kappa from -1 to 1 around a middle zero line; an undefined kappa draws no bar."""
    bars = []
    middle = WIDTH / 2
    for n, pair in enumerate(pairs):
        k = pair.kappa if pair.kappa is not None else 0.0
        start, end = sorted((middle, middle + k * middle))
        text = f"{KAPPA} {pair.kappa:.2f} (n={pair.items})" if pair.kappa is not None else DASH
        bars.append(Bar(label=f"{pair.first} · {pair.second}", y=n * ROW + 14, x=start,
                        width=end - start, low=start, high=end, text=text))  # fmt: skip
    return bars, max(ROW, len(pairs) * ROW)


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
