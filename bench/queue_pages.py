"""Queue page benchmark: the reviewer's queue listing (`mvq.review.queue.queue_rows`, one page
of 50 with its flags and first stills) on Postgres with many items waiting, walked from the
first page to the last by keyset cursor in each sort order, plus the plan of a deep page.

    .venv/bin/python -m bench.queue_pages [--items 20000]
"""

import argparse
import time
import uuid

from sqlalchemy import event, text

from bench.claim import fill_queue
from bench.report import median, percentile, write_section
from mvq.auth.models import Role
from mvq.auth.principal import Principal
from mvq.db import session_factory, utcnow
from mvq.review import queue
from testkit import harness


def walk(url: str, sort: str) -> tuple[list[float], list[int], int]:
    """Every page in `sort` order: time per page (ms), statements per page, rows seen."""
    viewer = Principal(kind="staff", id=str(uuid.uuid4()), role=Role.reviewer, unit_id=None)
    times, statements, seen, after = [], [], 0, None
    with session_factory(url)() as session:
        engine = session.get_bind()
        count = [0]

        @event.listens_for(engine, "before_cursor_execute")
        def _count(*_: object) -> None:
            count[0] += 1

        while True:
            count[0] = 0
            start = time.perf_counter()
            rows = queue.queue_rows(session, viewer=viewer, now=utcnow(), after=after,
                                    filters=queue.QueueFilters(sort=sort),
                                    limit=queue.PAGE_SIZE + 1)  # fmt: skip
            times.append((time.perf_counter() - start) * 1000)
            statements.append(count[0])
            page = rows[: queue.PAGE_SIZE]
            seen += len(page)
            if len(rows) <= queue.PAGE_SIZE:
                break
            after = page[-1].cursor
        event.remove(engine, "before_cursor_execute", _count)
    return times, statements, seen


def plan(url: str) -> str:
    """EXPLAIN ANALYZE of a claim-order page deep in the queue."""
    viewer = Principal(kind="staff", id=str(uuid.uuid4()), role=Role.reviewer, unit_id=None)
    with session_factory(url)() as session:
        rows = queue.queue_rows(session, viewer=viewer, now=utcnow(),
                                filters=queue.QueueFilters(), limit=10_000)  # fmt: skip
        cursor = rows[-1].cursor
        captured: list[tuple[str, object]] = []

        @event.listens_for(session.get_bind(), "before_cursor_execute", retval=True)
        def _grab(conn, cur, statement, params, context, executemany):  # type: ignore[no-untyped-def]
            if not captured and "review_items" in statement:
                captured.append((statement, params))
            return statement, params

        queue.queue_rows(session, viewer=viewer, now=utcnow(), filters=queue.QueueFilters(),
                         limit=queue.PAGE_SIZE + 1, after=cursor)  # fmt: skip
        event.remove(session.get_bind(), "before_cursor_execute", _grab)
        statement, params = captured[0]
        explained = session.connection().exec_driver_sql(
            "EXPLAIN (ANALYZE, COSTS OFF) " + statement,
            params,  # type: ignore[arg-type]
        )
        return "\n".join(row[0] for row in explained)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=20_000)
    args = parser.parse_args()
    with harness.temporary_backing("mvq-bench-") as backing:
        url = harness.fresh_database(backing, "postgres")
        harness.use_env({**backing.env, "MVQ_DATABASE_URL": url})
        fill_queue(url, args.items)
        with session_factory(url)() as session:
            session.execute(text("ANALYZE"))
            session.commit()
        table = [
            "| order | pages | p50 per page | p95 per page | last page | statements per page |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for sort in queue.SORTS:
            times, statements, seen = walk(url, sort)
            assert seen == args.items, (sort, seen)
            table.append(
                f"| {sort} | {len(times)} | {median(times):.1f} ms | "
                f"{percentile(times, 95):.1f} ms | {times[-1]:.1f} ms | {max(statements)} |"
            )
        explain = plan(url)
    body = f"""## Review queue pages, {args.items:,} items waiting (Postgres)

Command: `.venv/bin/python -m bench.queue_pages --items {args.items}`. The reviewer's queue
(`/review`), 50 rows a page, walked from the first page to the last by keyset cursor in each
sort order, in process (no HTTP). A page is three statements: the rows, their flags and their
first stills; the cursor is the last row's sort key, so the last page costs what the first does.

{chr(10).join(table)}

Plan of a claim-order page after 10,000 rows:

```
{explain}
```
"""
    print(body)
    write_section("review-queue-pages", body)


if __name__ == "__main__":
    main()
