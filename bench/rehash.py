"""Re-hash benchmark: `mvq index rehash` over N old index rows, as an operator runs it, against
real SeaweedFS and a SQLite (or Postgres) database.

    .venv/bin/python -m bench.rehash [--rows 100000] [--database sqlite] [--stills 64]
                                     [--sample N]

`--sample N` re-hashes only the first N of the rows: at 1M rows on a shared 2-core machine a
whole run takes hours, and the database's share of a batch (a partial-index read, N updates by
primary key) is what could grow with the table, so a sample at 1M shows whether it does.

The rows are written in bulk: clips of 60 stills each (frames and index rows, hashed the old
way: no caption, vertical or 4:5 variant, and `scheme` NULL). Their stills are `--stills` real
JPEGs (photos shipped with scikit-image, 640x360, each turned its own way) in S3, shared by
many rows: every row still costs its own GET, decode and hashes, as nothing is cached. Before
the run, one still's fetch and its hashing are timed apart, to say where the time goes.
"""

import argparse
import io
import json
import os
import re
import statistics
import subprocess
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from PIL import Image
from sqlalchemy import func, insert, select

from bench.report import machine, write_section
from deploy import servers
from mvq import storage
from mvq.db import session_factory, utcnow
from mvq.matching import rehash
from mvq.matching.models import SCHEME, IndexedFrame
from mvq.media.ingest.frames import still_hashes
from mvq.media.models import Frame, Media, MediaStatus
from mvq.submissions.models import Submission, SubmissionStatus
from mvq.units.models import Unit
from testkit import footage, harness

PER_CLIP, CHUNK = 60, 20_000
PHOTOS = list(footage.PHOTOS.values())
PROGRESS = re.compile(r"rehash: (\d+)/(\d+) rows, (\d+) rows/s")


def stills(count: int) -> list[str]:
    """`count` JPEG stills in S3, as the worker stores them; their keys."""
    keys = []
    for n in range(count):
        img = Image.fromarray(PHOTOS[n % len(PHOTOS)]()).convert("RGB")
        out = io.BytesIO()
        img.rotate(5 * n).resize((640, 360)).save(out, "JPEG", quality=82)
        keys.append(f"bench-stills/{n:04d}.jpg")
        storage.put_bytes(keys[-1], out.getvalue(), content_type="image/jpeg")
    return keys


def seed(url: str, rows: int, keys: list[str]) -> float:
    """`rows` old index rows over clips of PER_CLIP stills; seconds taken."""
    started = time.perf_counter()
    now = utcnow()
    unit = str(uuid.uuid4())
    with session_factory(url)() as session:
        session.execute(insert(Unit), [{"id": unit, "name": "bench"}])
        for first in range(0, rows, CHUNK):
            subs, media, frames, indexed = [], [], [], []
            for n in range(first, min(rows, first + CHUNK)):
                if n % PER_CLIP == 0 or n == first:
                    sid, mid = str(uuid.uuid4()), str(uuid.uuid4())
                    subs.append({"id": sid, "unit_id": unit, "target_type": "tank",
                                 "status": SubmissionStatus.approved, "outcome": "destroyed",
                                 "occurred_at": now, "created_at": now,
                                 "updated_at": now})  # fmt: skip
                    media.append({"id": mid, "submission_id": sid, "filename": "c.mp4",
                                  "status": MediaStatus.processed, "content_type": "video/mp4",
                                  "declared_size": 1, "declared_sha256": "0" * 64,
                                  "s3_key": f"originals/{mid}", "created_at": now})  # fmt: skip
                fid, t = str(uuid.uuid4()), float(n % PER_CLIP)
                old = os.urandom(32).hex()
                frames.append({"id": fid, "media_id": mid, "index": n, "t_seconds": t,
                               "s3_key": keys[n % len(keys)], "width": 640, "height": 360,
                               "pdq": old, "pdq_quality": 100})  # fmt: skip
                indexed.append({"frame_id": fid, "media_id": mid, "t_seconds": t, "pdq": old,
                                "pdq_center": old, "scheme": None})  # fmt: skip
            session.execute(insert(Submission), subs)
            session.execute(insert(Media), media)
            session.execute(insert(Frame), frames)
            # The ORM leaves out a key given as None, and the column's default (the current
            # scheme) would fill it: these rows must be old.
            session.execute(insert(IndexedFrame).execution_options(render_nulls=True), indexed)
            session.commit()
    return time.perf_counter() - started


def per_still(key: str, repeats: int = 50) -> tuple[float, float]:
    """Milliseconds one still's GET takes, and its decoding and hashing (medians)."""
    fetch, hashing = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jpeg = storage.get_bytes(key)
        t1 = time.perf_counter()
        still_hashes(jpeg)
        fetch.append(t1 - t0)
        hashing.append(time.perf_counter() - t1)
    return statistics.median(fetch) * 1000, statistics.median(hashing) * 1000


def threads_rate(key: str, threads: int, n: int = 400) -> float:
    """Stills a second through `threads` at once, in this process."""
    with ThreadPoolExecutor(threads) as pool:
        started = time.perf_counter()
        list(pool.map(lambda _: still_hashes(storage.get_bytes(key)), range(n)))
    return n / (time.perf_counter() - started)


def run_cli(env: dict[str, str], *args: str) -> tuple[float, str, str]:
    started = time.perf_counter()
    done = subprocess.run(servers.mvq_argv(*args), env={**os.environ, **env}, cwd=harness.ROOT,
                          capture_output=True, text=True, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return time.perf_counter() - started, done.stdout, done.stderr


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--stills", type=int, default=64)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--sample", type=int, default=None)
    args = parser.parse_args()
    sample = args.sample or args.rows
    with harness.temporary_backing("mvq-bench-rehash-") as backing:
        url = harness.fresh_database(backing, args.database)
        env = {**backing.env, "MVQ_DATABASE_URL": url}
        harness.use_env(env)
        keys = stills(args.stills)
        seed_s = seed(url, args.rows, keys)
        fetch_ms, hash_ms = per_still(keys[0])
        rates = {n: threads_rate(keys[0], n) for n in (1, rehash.THREADS)}
        status_s, status, _ = run_cli(env, "index", "status")
        assert json.loads(status)["rehash"]["backlog"] == args.rows, status
        first = sample // 10  # stopped there, as a killed run, then resumed
        part_s, _, _ = run_cli(env, "index", "rehash", "--batch", str(args.batch),
                               "--limit", str(first))  # fmt: skip
        rest_s, _, err = run_cli(env, "index", "rehash", "--batch", str(args.batch),
                                 "--limit", str(sample - first))  # fmt: skip
        with session_factory(url)() as session:
            left = session.scalar(select(func.count()).where(IndexedFrame.scheme.is_(None)))
            current = session.scalar(select(func.count()).where(IndexedFrame.scheme == SCHEME))
    assert (left, current) == (args.rows - sample, sample), (left, current)
    lines = [m.groups() for m in PROGRESS.finditer(err)]
    batch_rates = [int(r) for *_, r in lines]
    overall = sample / (part_s + rest_s)
    body = f"""## Re-hash of old index rows, {args.rows:,} rows ({args.database})

Command: `.venv/bin/python -m bench.rehash --rows {args.rows} --database {args.database}
--sample {sample}`. {args.rows:,} old rows (clips of {PER_CLIP}) seeded in bulk in
{seed_s:.0f} s; their stills are {args.stills} real 640x360 JPEGs in SeaweedFS, each row
fetched and hashed on its own. `mvq index rehash --limit {first}` ({part_s:.0f} s), then
`mvq index rehash --limit {sample - first}` resuming from there ({rest_s:.0f} s, {len(lines)}
batches of {args.batch}): {sample:,} rows current after.

| figure | value |
|---|---|
| rows a second, both runs as processes | {overall:,.0f} |
| rows a second, the resumed run's last progress line | {batch_rates[-1] if batch_rates else 0:,} |
| one still: S3 GET, ms (median) | {fetch_ms:.1f} |
| one still: decode and every hash, ms (median) | {hash_ms:.1f} |
| stills a second, 1 thread / {rehash.THREADS} threads (in process) | \
{rates[1]:,.0f} / {rates[rehash.THREADS]:,.0f} |
| `mvq index status` with the backlog, s | {status_s:.1f} |
| 1M rows at this rate, hours | {1_000_000 / overall / 3600:.1f} |
| `mvq index status` backlog before the run | {args.rows:,} |

Host: {machine()}.
"""
    write_section(f"rehash_{args.database}", body)
    print(body)


if __name__ == "__main__":
    main()
