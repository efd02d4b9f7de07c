"""Starting an RQ worker: `python -m workers [QUEUE...]`, which `mvq worker` hands over to (the
CLI imports no adapter of the workers; pyproject.toml's import contracts)."""

import argparse
import ctypes

from rq import SimpleWorker

from mvq import logs, queue
from workers.jobs import clean_stale_scratch

M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter (malloc.h)


def return_big_blocks(threshold: int = 128 * 1024) -> None:
    """Blocks of `threshold` bytes and more taken straight from the kernel and given back when
    freed. glibc otherwise raises that threshold to the largest block freed so far (up to 32
    MiB), after which the searches' numpy temporaries come from the heap, which keeps its
    high-water mark: measured in the soak (docs/BENCHMARKS.md), a worker's private memory grew
    10-13 % in 4 minutes without this, 2-3 % with it."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc: that allocator's own policy applies
        return
    libc.mallopt(M_MMAP_THRESHOLD, threshold)


def work(queues: list[str]) -> None:
    """One RQ worker (with the scheduler) on `queues`; by default webhooks first, then media,
    then the index's compaction."""
    logs.configure()
    return_big_blocks()
    clean_stale_scratch()
    # SimpleWorker runs jobs in this process instead of a fork per job, so the frame index
    # it builds from the database survives from one job to the next.
    # Short TTL, monitoring and maintenance intervals: a killed worker's job is found and
    # re-run within about a minute (by RQ's own clean-up, or sooner by the sweeper).
    w = SimpleWorker(
        queues or list(queue.WORKER_QUEUES),
        connection=queue.redis_conn(),
        worker_ttl=queue.WORKER_TTL_SECONDS,
        job_monitoring_interval=queue.WORKER_MONITOR_SECONDS,
        maintenance_interval=60,
    )
    # RQ's own log lines stay plain text (its handler); ours are JSON.
    w.work(with_scheduler=True, logging_level="INFO")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m workers", description=work.__doc__)
    parser.add_argument("queues", nargs="*", help="the queues to serve, in order")
    work(parser.parse_args().queues)
