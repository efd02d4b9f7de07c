"""Golden items come at the configured rate: the queue's choice (`golden_due`) over 1,000
simulated claims, with seeded draws."""

import itertools
import random

import pytest

from mvq.review.qa.tasks import golden_due


def simulate(rate: float, claims: int, rng: random.Random) -> list[int]:
    """The claim numbers (1-based) that got a golden item."""
    golden: list[int] = []
    for n in range(1, claims + 1):
        if golden_due(served=len(golden), claims=n, rate=rate, draw=rng.random()):
            golden.append(n)
    return golden


@pytest.mark.parametrize("seed", range(25))
@pytest.mark.parametrize("rate", [1 / 50, 1 / 10, 0.3])
def test_the_rate_holds_within_20_percent_over_1000_claims(seed: int, rate: float) -> None:
    golden = simulate(rate, 1_000, random.Random(seed))
    assert abs(len(golden) - rate * 1_000) <= 0.2 * rate * 1_000, len(golden)
    # And at every point on the way, within one item of the rate.
    for k, n in enumerate(golden, start=1):
        assert k <= rate * n + 1


def test_which_claim_is_golden_cannot_be_told_from_its_position() -> None:
    """Not every 50th: the gaps between golden items vary, and the first of them falls on
    many different claims across reviewers (seeds)."""
    golden = simulate(1 / 50, 1_000, random.Random(7))
    gaps = {b - a for a, b in itertools.pairwise(golden)}
    assert len(gaps) > 5, gaps
    firsts = {simulate(1 / 50, 60, random.Random(seed))[0] for seed in range(40)}
    assert len(firsts) > 10, firsts


def test_no_golden_items_at_rate_zero() -> None:
    assert simulate(0.0, 1_000, random.Random(1)) == []
