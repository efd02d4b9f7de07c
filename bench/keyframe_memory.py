"""A worker's private memory as the keyframe index grows (issue 29): the soak's three 3 s clips
uploaded over and over into one process's geometric index, each searched (candidates and
RANSAC) and then added, with nothing else running (no database, no queue), so the figure is
the index's alone.

- `memory`: the design that was reverted: every keyframe held by every worker, an unsorted
  tail of up to 8,192 descriptors, queries in batches of 256;
- `segments`: the tail written to a segment and mapped every 64 keyframes (what the
  compaction job and the worker's refresh do), an unsorted tail of up to 1,024, batches of 64.

    .venv/bin/python -m bench.keyframe_memory [--uploads 150]
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.report import write_section

CLIPS = ("coffee", "rocket", "chelsea")


def private_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1])
    raise AssertionError("no RssAnon")


def run(mode: str, uploads: int) -> dict[str, object]:
    import gc

    from mvq.matching import features
    from mvq.media.ingest import pipeline
    from testkit import footage

    if mode == "memory":
        features.SCAN_MAX, features.BATCH = 8192, 256
    scratch = Path(tempfile.mkdtemp(prefix="bench-keyframes-"))
    clips = [footage.clip(n, scratch / f"{n}.mp4", seconds=3, size="320x180") for n in CLIPS]
    found = [pipeline.analyse(c).keyframes for c in clips]
    index = features.FeatureIndex()
    samples, started, cpu = [], time.monotonic(), time.process_time()
    for n in range(uploads):
        query = found[n % 3]
        index.verified(query, index.hits(query), exclude_media=None)
        index.add(f"{n:036d}", [features.Keyframe(k.t_seconds, k.width, k.height, k.points,
                                                  k.descriptors) for k in query])  # fmt: skip
        if mode == "segments" and len(index.tail) >= 64:
            part = features.concat([*index.segments, index.tail])
            part.lo, part.hi = 0, sum(len(p) for p in index.parts)
            manifest = features.write(part, scratch / f"segment-{n}")
            mapped = features.open_segment(scratch / f"segment-{n}", manifest)
            index = features.FeatureIndex([mapped], features.empty_part(part.hi))
            del part
        if n % 10 == 9:
            gc.collect()
            samples.append((n + 1, private_kib()))
    return {"mode": mode, "uploads": uploads, "descriptors": len(index), "samples": samples,
            "seconds": time.monotonic() - started, "cpu": time.process_time() - cpu}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--uploads", type=int, default=150)
    parser.add_argument("--mode", help=argparse.SUPPRESS)  # one mode, in a fresh process
    args = parser.parse_args()
    if args.mode:
        print(json.dumps(run(args.mode, args.uploads)))
        return
    rows = []
    for mode in ("memory", "segments"):
        out = subprocess.run([sys.executable, "-m", "bench.keyframe_memory", "--mode", mode,
                              "--uploads", str(args.uploads)], capture_output=True, text=True,
                             check=True).stdout  # fmt: skip
        r = json.loads(out.splitlines()[-1])
        first, last = r["samples"][0][1], r["samples"][-1][1]
        slope = statistics.linear_regression(*zip(*r["samples"], strict=True)).slope
        cpu_ms = r["cpu"] / r["uploads"] * 1000
        rows.append(f"| {mode} | {r['descriptors']:,} | {first / 1024:.0f} MiB | "
                    f"{last / 1024:.0f} MiB | {slope:+.0f} KiB | {cpu_ms:.0f} ms |")  # fmt: skip
        print(rows[-1], flush=True)
    body = f"""## Keyframe index: a worker's private memory as it grows (issue 29)

Command: `.venv/bin/python -m bench.keyframe_memory --uploads {args.uploads}` (module
docstring: what each mode is). One process per mode; the soak's 3 s clips (800 query
descriptors each, mirrors included) searched and added {args.uploads} times; private memory
(`RssAnon`) after 10 uploads and at the end, its slope per upload by least squares over a
sample every 10 uploads; CPU per upload for the search, verification and adding.

| mode | descriptors indexed | private after 10 | at the end | per upload | CPU per upload |
|---|---|---|---|---|---|
{chr(10).join(rows)}
"""
    write_section("keyframe-memory", body)
    print(body)


if __name__ == "__main__":
    main()
