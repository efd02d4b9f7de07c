"""The agreement figures against statsmodels and against published worked examples."""

import random

import pytest
from statsmodels.stats.inter_rater import cohens_kappa as sm_cohen
from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss
from statsmodels.stats.proportion import proportion_confint

from mvq.review.qa.agreement import cohen_kappa, fleiss_kappa, fleiss_table, wilson

# Fleiss (1971) as worked on Wikipedia's "Fleiss' kappa" page: 10 subjects, 14 raters,
# 5 categories; kappa = 0.210.
FLEISS_EXAMPLE = [
    [0, 0, 0, 0, 14],
    [0, 2, 6, 4, 2],
    [0, 0, 3, 5, 6],
    [0, 3, 9, 2, 0],
    [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0],
    [3, 2, 6, 3, 0],
    [2, 5, 3, 2, 2],
    [6, 5, 2, 1, 0],
    [0, 2, 2, 3, 7],
]


def test_fleiss_textbook_example() -> None:
    assert fleiss_kappa(FLEISS_EXAMPLE) == pytest.approx(0.2099, abs=1e-4)


def test_cohen_textbook_example() -> None:
    # Wikipedia's "Cohen's kappa" worked example: 50 grant proposals, both yes 20, A yes and
    # B no 5, A no and B yes 10, both no 15: p_o = 0.7, p_e = 0.5, kappa = 0.4.
    a = ["yes"] * 25 + ["no"] * 25
    b = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    assert cohen_kappa(a, b) == pytest.approx(0.4)


@pytest.mark.parametrize("seed", range(20))
def test_cohen_matches_statsmodels(seed: int) -> None:
    rng = random.Random(seed)
    cats = ["approve", "reject", "escalate"][: rng.randint(2, 3)]
    a = [rng.choice(cats) for _ in range(rng.randint(5, 80))]
    b = [x if rng.random() < 0.6 else rng.choice(cats) for x in a]
    table = [[sum(1 for x, y in zip(a, b, strict=True) if (x, y) == (r, c)) for c in cats]
             for r in cats]  # fmt: skip
    expected = sm_cohen(table).kappa
    assert cohen_kappa(a, b) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("seed", range(20))
def test_fleiss_matches_statsmodels(seed: int) -> None:
    rng = random.Random(seed)
    raters, cats = rng.randint(2, 6), rng.randint(2, 4)
    table = []
    for _ in range(rng.randint(3, 40)):
        row = [0] * cats
        for _ in range(raters):
            row[rng.randrange(cats)] += 1
        table.append(row)
    assert fleiss_kappa(table) == pytest.approx(sm_fleiss(table, method="fleiss"), abs=1e-12)
    assert fleiss_kappa(FLEISS_EXAMPLE) == pytest.approx(sm_fleiss(FLEISS_EXAMPLE), abs=1e-12)


@pytest.mark.parametrize("k,n", [(0, 10), (10, 10), (1, 2), (81, 263), (7, 50), (49, 50), (3, 3)])
def test_wilson_matches_statsmodels(k: int, n: int) -> None:
    low, high = proportion_confint(k, n, alpha=0.05, method="wilson")
    assert wilson(k, n) == pytest.approx((low, high), abs=1e-9)


def test_wilson_known_values() -> None:
    # Newcombe (1998), Statistics in Medicine 17:857, table I: 81/263 gives 0.2553 to 0.3662.
    low, high = wilson(81, 263)  # type: ignore[misc]
    assert (round(low, 4), round(high, 4)) == (0.2553, 0.3662)
    # 0 of 10: the upper end is z^2 / (n + z^2) = 0.2775; 10 of 10 mirrors it.
    assert wilson(0, 10)[1] == pytest.approx(0.27753, abs=1e-5)  # type: ignore[index]
    assert wilson(10, 10)[0] == pytest.approx(0.72247, abs=1e-5)  # type: ignore[index]
    assert wilson(0, 0) is None


def test_undefined_and_mismatched() -> None:
    assert cohen_kappa([], []) is None
    assert cohen_kappa(["a", "a"], ["a", "a"]) is None
    with pytest.raises(ValueError):
        cohen_kappa(["a"], ["a", "b"])
    with pytest.raises(ValueError):
        fleiss_kappa([[1, 1], [3, 0]])


def test_fleiss_table_takes_the_first_two_ratings() -> None:
    ratings = {"s1": ["approve", "reject", "approve"], "s2": ["reject", "reject"], "s3": ["x"]}
    assert fleiss_table(ratings, ["approve", "reject"]) == [[1, 1], [0, 2]]
