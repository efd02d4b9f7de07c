"""The shared frame index at 10M and 30M frames: segments as the compaction job leaves them,
mapped by fresh worker processes, against today's baseline (each worker building its tables
in memory), all in one run.

    .venv/bin/python -m bench.index [--sizes 10000000 30000000] [--clips 40]

Frames carry five hashes each, as mvq indexes (full, centre, upper and two vertical cuts). The
full hashes are drawn to look like PDQ output of real footage, not uniform noise: clusters (the
frames of one clip, and its copies) whose members differ from their centre by a few percent of
bits. The other four kinds are the full hash XOR a fixed random mask per kind: the same sizes
and the same clustering, at a fifth of the drawing time. A query clip is 64 stored frames with
up to 25 bits flipped (planted near neighbours, as a re-encoded copy's frames would be).

The segments are laid out as the compaction job's policy leaves them (`compaction.merge_run`
run on every 16,384 rows arriving), and a tail in memory.
Measured per size:
- baseline: building one kind's tables in memory from the hashes (what every worker does
  today when it starts, before even reading the database), times five kinds;
- cold start of a worker from the segments on this host, with the page cache dropped first:
  mapping them, and reading them once so no search waits on the disk; and with the page cache
  already warm (another worker on the host has them);
- memory: each worker's private (anonymous) RSS with two workers mapping the same files, and
  the shared file pages; bytes per indexed frame on disk (= in the page cache);
- clip lookup p50/p99 in the worker (all segments and the tail), and recall against numpy
  brute force over every stored hash, for the first clips.
"""

import argparse
import json
import math
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from bench.report import percentile, write_section
from mvq.matching import compaction, segments
from mvq.matching.catalogue import KINDS, MEDIA_ID_BYTES, Part
from mvq.matching.index import FrameIndex, build_tables, distances
from mvq.settings import get_settings

THRESHOLD = 31
CLIP_FRAMES = 64
FRAMES_A_CLIP = 45  # indexed frames of one uploaded clip, for the clip table
ROOT = Path(__file__).resolve().parent.parent / ".data" / "bench" / "index"


def clustered_hashes(rng: np.random.Generator, n: int) -> npt.NDArray[np.uint64]:
    centres = rng.integers(0, 2**63, size=(max(1, n // 60), 4), dtype=np.uint64)
    codes = np.empty((n, 4), np.uint64)
    for start in range(0, n, 100_000):
        stop = min(n, start + 100_000)
        noise = np.packbits(rng.random((stop - start, 256)) < 0.04, axis=1)
        codes[start:stop] = centres[rng.integers(0, len(centres), stop - start)] ^ noise.view(
            ">u8").astype(np.uint64)  # fmt: skip
    return codes


def clip_queries(rng: np.random.Generator, codes: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    picked = codes[rng.integers(0, len(codes), CLIP_FRAMES)].copy()
    for row in picked:
        for bit in rng.choice(256, size=int(rng.integers(0, 26)), replace=False):
            row[bit // 64] ^= np.uint64(1 << (63 - bit % 64))
    return picked


def tiered_sizes(n: int) -> tuple[list[int], int]:
    """The segment sizes compaction leaves after n rows arrived, oldest first; the tail."""
    settings, sizes = get_settings(), []
    policy = {"small": settings.index_small_rows, "fanin": settings.index_merge_fanin,
              "max_rows": settings.index_max_segment_rows}  # fmt: skip
    for _ in range(n // settings.index_segment_rows):
        sizes.append(settings.index_segment_rows)
        while count := compaction.merge_run(sizes, **policy):
            sizes[-count:] = [sum(sizes[-count:])]
    return sizes, n - sum(sizes)


def make_part(codes: npt.NDArray[np.uint64], masks: dict[str, np.ndarray[Any, Any]], lo: int,
              with_tables: bool) -> Part:  # fmt: skip
    n = len(codes)
    clips = math.ceil(n / FRAMES_A_CLIP)
    ids = np.array([f"{lo + c:036d}" for c in range(clips)], f"S{MEDIA_ID_BYTES}")
    media = (np.arange(n) // FRAMES_A_CLIP).astype(np.int32)
    t = (np.arange(n) % FRAMES_A_CLIP).astype(np.float32)
    first = np.append(np.arange(0, n, FRAMES_A_CLIP), n).astype(np.int64)
    indexes = {}
    for kind in KINDS:
        if with_tables:  # the tail: as a worker's catch-up builds it
            indexes[kind] = FrameIndex()
            indexes[kind].add(codes ^ masks[kind])
        else:  # a segment's tables are built as it is written
            indexes[kind] = FrameIndex(codes ^ masks[kind])
    return Part(indexes, media, t, t.copy(), ids, first, lo, lo + n)


def rss() -> dict[str, int]:
    with open("/proc/self/status") as fh:
        fields = dict(line.split(":", 1) for line in fh)
    return {k: int(fields[k].split()[0]) // 1024 for k in ("RssAnon", "RssFile")}


def worker(root: Path, cold: bool) -> None:
    """One worker process: map the segments (reading them once when `cold`), build the tail,
    run the clips; one JSON line out."""
    started = time.perf_counter()
    listing = json.loads((root / "listing.json").read_text())
    parts = [segments.open_segment(root / m["id"], m) for m in listing["segments"]]
    mapped = time.perf_counter() - started
    if cold:  # fault every page in once, sequentially, as a starting worker would
        for part in parts:
            for kind in KINDS:
                index = part.indexes[kind]
                assert index.tables is not None
                for array in (index.codes, index.tables.order, index.tables.starts):
                    int(np.asarray(array).reshape(-1).view(np.uint8)[::4096].sum())
    tail_codes = np.load(root / "tail.npy")
    masks = {k: np.load(root / f"mask_{k}.npy") for k in KINDS}
    parts.append(make_part(tail_codes, masks, listing["segments"][-1]["hi"], with_tables=True))
    ready = time.perf_counter() - started
    queries = np.load(root / "queries.npy")
    latencies, peak_anon = [], 0
    for clip in queries:
        t0 = time.perf_counter()
        for part in parts:
            part.search("full", clip, THRESHOLD)
        latencies.append(time.perf_counter() - t0)
        peak_anon = max(peak_anon, rss()["RssAnon"])
    print(json.dumps({"mapped": mapped, "ready": ready, "latencies": latencies,
                      "peak_anon": peak_anon, **rss()}), flush=True)  # fmt: skip
    sys.stdin.readline()  # keep the mapping until the other worker has measured too


def drop_caches() -> None:
    subprocess.run(["sync"], check=True)
    Path("/proc/sys/vm/drop_caches").write_text("1\n")


def run_workers(root: Path, count: int, *, cold: bool) -> list[dict[str, Any]]:
    argv = [sys.executable, "-m", "bench.index", "--worker", str(root)] + (
        ["--cold"] if cold else []
    )
    procs = []
    results = []
    for _ in range(count):  # one after the other: the second finds the first's pages
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        procs.append(proc)
        results.append(json.loads(proc.stdout.readline()))  # type: ignore[union-attr]
    for proc in procs:
        proc.communicate("\n")
    return results


def measure(n: int, clips: int, recall_clips: int, rng: np.random.Generator) -> str:
    root = ROOT / f"{n}"
    root.mkdir(parents=True, exist_ok=True)
    codes = clustered_hashes(rng, n)
    masks = {k: (np.zeros(4, np.uint64) if k == "full" else
                 rng.integers(0, 2**63, 4, dtype=np.uint64)) for k in KINDS}  # fmt: skip
    for kind, mask in masks.items():
        np.save(root / f"mask_{kind}.npy", mask)
    started = time.perf_counter()
    build_tables(codes)  # the baseline: one kind's tables over every hash, in memory
    rebuild = time.perf_counter() - started
    sizes, tail = tiered_sizes(n)
    manifests, lo = [], 0
    started = time.perf_counter()
    for size in sizes:
        part = make_part(codes[lo : lo + size], masks, lo, with_tables=False)
        manifests.append(segments.write(part, root / segments.segment_id(lo, lo + size)))
        lo += size
    written = time.perf_counter() - started
    (root / "listing.json").write_text(json.dumps({"generation": "bench", "segments": manifests}))
    np.save(root / "tail.npy", codes[lo:])
    queries = np.stack([clip_queries(rng, codes) for _ in range(clips)])
    np.save(root / "queries.npy", queries)
    disk = sum(f["size"] for m in manifests for f in m["files"].values())

    drop_caches()
    cold = run_workers(root, 2, cold=True)  # the second finds the first's pages in the cache
    warm = run_workers(root, 1, cold=False)[0]
    # Recall: the same search in this process, against brute force over every full hash.
    parts = [segments.open_segment(root / m["id"], m) for m in manifests]
    parts.append(make_part(codes[lo:], masks, lo, with_tables=True))
    found = expected = 0
    for clip in queries[:recall_clips]:
        hits: list[set[int]] = [set() for _ in clip]
        for part in parts:
            for q, (rows, _) in enumerate(part.search("full", clip, THRESHOLD)):
                hits[q] |= set((rows + part.lo).tolist())
        for q, query in enumerate(clip):
            truth = set(np.flatnonzero(distances(codes, query) <= THRESHOLD).tolist())
            found += len(truth & hits[q])
            expected += len(truth)
    lat = cold[0]["latencies"] + cold[1]["latencies"]
    return (
        f"| {n:,} | {len(sizes)} + {tail:,} | {rebuild:.1f} s | {5 * rebuild:.0f} s | "
        f"{written:.0f} s | {cold[0]['mapped'] * 1000:.0f} ms | {cold[0]['ready']:.1f} s | "
        f"{cold[1]['ready']:.2f} s | {warm['ready']:.2f} s | "
        f"{max(c['peak_anon'] for c in cold):,} MiB | {cold[1]['RssFile']:,} MiB | "
        f"{disk / n:.0f} B | {percentile(lat, 50) * 1000:.1f} ms | "
        f"{percentile(lat, 99) * 1000:.1f} ms | {found / max(1, expected):.4f} ({expected:,}) |"
    )


HEADER = "\n".join([
    "| " + " | ".join([
        "frames", "segments + tail rows", "baseline: build 1 kind", "x 5 kinds", "write segments",
        "map", "first worker ready (disk)", "second worker ready", "ready, cache warm",
        "private RSS per worker (peak)", "shared file pages", "bytes a frame", "clip p50",
        "clip p99", "recall (pairs)"]) + " |",
    "|---" * 15 + "|",
])  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000_000, 30_000_000])
    parser.add_argument("--clips", type=int, default=40)
    parser.add_argument("--recall-clips", type=int, default=5)
    parser.add_argument("--worker", type=Path)
    parser.add_argument("--cold", action="store_true")
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.cold)
        return
    rng = np.random.default_rng(2025)
    rows = []
    for n in args.sizes:
        rows.append(measure(n, args.clips, args.recall_clips, rng))
        print(rows[-1], flush=True)
    write_section(
        "index",
        f"""## Frame index: shared segments, memory-mapped

Command: `.venv/bin/python -m bench.index --clips {args.clips}` (module docstring: how the
hashes, the queries and the segment layout are made). Five hashes a frame. Radius {THRESHOLD}.
A clip lookup is {CLIP_FRAMES} query frames against one kind (full) in every segment and the
tail. Two worker processes start one after the other on one host, the page cache dropped before
the first: the first reads the segments from disk, the second finds them in the cache.

{HEADER}
{chr(10).join(rows)}

Baseline: what every worker does today when it starts (and the bench's "build" before this
issue), building one kind's tables in memory from hashes already in memory; a worker does it
for five kinds and after reading and parsing every row from the database, so x 5 is a floor.
"Ready" includes building the tail's in-memory index. Recall: the first
{args.recall_clips} clips, against numpy brute force over every full hash.
""",
    )


if __name__ == "__main__":
    main()
