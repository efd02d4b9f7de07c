"""Agreement and accuracy figures, as small pure functions over plain lists.

Written here rather than imported: statsmodels (and the scipy and pandas it pulls in) would
load some 100 MB into every web worker for three formulas of a few lines each. The tests check
these against statsmodels and against published worked examples."""

import math
from collections import Counter
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

Z95 = 1.959963984540054  # the two-sided 95 % quantile of the normal distribution


def cohen_kappa(first: Sequence[Hashable], second: Sequence[Hashable]) -> float | None:
    """Cohen's kappa of two raters over the same items, in order. None when it is undefined
    (no items, or both raters always gave one and the same category)."""
    if len(first) != len(second):
        raise ValueError("both raters must rate the same items")
    n = len(first)
    if n == 0:
        return None
    observed = sum(a == b for a, b in zip(first, second, strict=True)) / n
    left, right = Counter(first), Counter(second)
    expected = sum(left[c] * right[c] for c in left) / (n * n)
    if expected == 1:
        return None
    return (observed - expected) / (1 - expected)


def fleiss_kappa(table: Sequence[Sequence[int]]) -> float | None:
    """Fleiss' kappa from a subjects x categories table of counts, each row summing to the
    same number of raters (at least two). None when undefined."""
    rows = [list(r) for r in table if sum(r)]
    if not rows:
        return None
    raters = sum(rows[0])
    if raters < 2 or any(sum(r) != raters for r in rows):
        raise ValueError("every subject needs the same number of ratings, at least two")
    subjects = len(rows)
    per_subject = [(sum(c * c for c in r) - raters) / (raters * (raters - 1)) for r in rows]
    observed = sum(per_subject) / subjects
    shares = [sum(col) / (subjects * raters) for col in zip(*rows, strict=True)]
    expected = sum(p * p for p in shares)
    if expected == 1:
        return None
    return float((observed - expected) / (1 - expected))


def wilson(successes: int, trials: int, z: float = Z95) -> tuple[float, float] | None:
    """The Wilson score interval for a proportion (95 % by default); None for no trials.
    Unlike the normal approximation it stays inside [0, 1] and is fair at 0/n and n/n, which
    is where a new reviewer's first golden items land."""
    if trials <= 0:
        return None
    p = successes / trials
    z2 = z * z
    centre = (p + z2 / (2 * trials)) / (1 + z2 / trials)
    half = z * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials)) / (1 + z2 / trials)
    return max(0.0, centre - half), min(1.0, centre + half)


def fleiss_table(
    ratings: Mapping[Any, Sequence[Hashable]], categories: Sequence[Hashable], raters: int = 2
) -> list[list[int]]:
    """The table `fleiss_kappa` reads, from each subject's ratings in time order: the first
    `raters` ratings of each subject that has that many (Fleiss' formula needs the same
    number for every subject; the third look at a subject is a senior's ruling, not a vote)."""
    return [
        [list(given[:raters]).count(c) for c in categories]
        for given in ratings.values()
        if len(given) >= raters
    ]
