"""The prune's batching (mvq.pruning.Batches): a sweep never runs more than its budget of
batches of a kind, however big the backlog, while `mvq prune` (no budget) goes on until a
batch comes back short, that is until nothing is left."""

from collections.abc import Callable

from mvq.pruning import Batches


def backlog(rows: int, *, limit: int) -> tuple[list[int], Callable[[], int]]:
    left = [rows]
    taken: list[int] = []

    def step() -> int:
        removed = min(limit, left[0])
        left[0] -= removed
        taken.append(removed)
        return removed

    return taken, step


def test_a_sweep_stops_at_its_budget_and_leaves_the_rest() -> None:
    taken, step = backlog(10_000, limit=100)
    batches = Batches(budget=3)
    batches.drain(step, limit=100)
    assert taken == [100, 100, 100]
    assert batches.run == 3


def test_each_kind_has_its_own_budget() -> None:
    batches = Batches(budget=2)
    first, step = backlog(1_000, limit=10)
    batches.drain(step, limit=10)
    second, step = backlog(1_000, limit=10)
    batches.drain(step, limit=10)
    assert (first, second, batches.run) == ([10, 10], [10, 10], 4)


def test_without_a_budget_it_drains_until_a_short_batch() -> None:
    taken, step = backlog(250, limit=100)
    batches = Batches(budget=None)
    batches.drain(step, limit=100)
    assert taken == [100, 100, 50]


def test_an_exact_multiple_ends_on_an_empty_batch() -> None:
    taken, step = backlog(200, limit=100)
    Batches(budget=None).drain(step, limit=100)
    assert taken == [100, 100, 0]
