"""A steady stream of uploads for MVQ_SOAK_SECONDS (60 in `make test`; 1800 for the full soak):
every upload reaches the queue, and the API's and workers' memory stays flat within 10 %."""

import json
import os
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from mvq.db import session_factory
from mvq.submissions.models import Submission
from testkit import footage, harness
from testkit.claims import upload
from testkit.people import units

SOAK_SECONDS = float(os.environ.get("MVQ_SOAK_SECONDS", "60"))
ARTIFACTS = Path(os.environ.get("MVQ_ARTIFACTS_DIR", Path(__file__).parents[2] / "artifacts"))


def rss_kib(pid: int, field: str = "VmRSS") -> int:
    """`RssAnon` is the process's private memory: not the index segments it maps from files,
    whose pages the kernel shares between the workers of a host (and may drop)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} for {pid}")


def memory(stack: harness.Stack, field: str = "VmRSS") -> dict[str, int]:
    return {
        p.name: rss_kib(p.popen.pid, field)
        for p in stack.group.procs
        if p.name == "api" or p.name.startswith("worker")
    }


def all_queued(ids: list[str]) -> bool:
    with session_factory()() as session:
        done = session.scalar(
            select(func.count()).where(Submission.id.in_(ids), Submission.status == "in_queue")
        )
    return done == len(ids)


@pytest.mark.timeout(int(SOAK_SECONDS) + 900)
def test_memory_stays_flat_under_a_steady_stream(stack: harness.Stack, tmp_path: Path) -> None:
    clips = [
        footage.clip(n, tmp_path / f"{n}.mp4", seconds=3, size="320x180")
        for n in ("coffee", "rocket", "chelsea")
    ]
    accounts = units(3)
    warm = [upload(stack, accounts[n % 3][1], clips[n % 3]) for n in range(15)]
    harness.wait_until(lambda: all_queued(warm), timeout=300, interval=1, what="warm-up")
    before, private_before = memory(stack), memory(stack, "RssAnon")
    ids, n, samples = [], 0, []
    start = time.monotonic()
    deadline = start + SOAK_SECONDS
    while time.monotonic() < deadline:
        ids.append(upload(stack, accounts[n % 3][1], clips[n % 3]))
        n += 1
        if n % 10 == 0:  # a step (something loaded once) tells itself from a slope here
            samples.append({"seconds": round(time.monotonic() - start),
                            "private_kib": memory(stack, "RssAnon")})  # fmt: skip
        time.sleep(1.0)
    harness.wait_until(lambda: all_queued(ids), timeout=600, interval=1, what="soak uploads")
    after, private_after = memory(stack), memory(stack, "RssAnon")
    # Kept for the record (docs/BENCHMARKS.md has the full-length run).
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "soak.json").write_text(
        json.dumps(
            {
                "seconds": SOAK_SECONDS,
                "uploads": len(ids),
                "rss_kib_before": before,
                "rss_kib_after": after,
                "private_kib_before": private_before,
                "private_kib_after": private_after,
                "private_kib_samples": samples,
            },
            indent=2,
        )
    )
    assert len(ids) >= SOAK_SECONDS / 4
    for name, kib in after.items():
        assert kib <= before[name] * 1.10, (name, before[name], kib)
        assert private_after[name] <= private_before[name] * 1.10, (
            name,
            private_before[name],
            private_after[name],
        )
