"""The shared frame index at 10M and 30M frames: segments as the compaction job leaves them,
in the layout written before packed tables and in today's, mapped by fresh worker processes,
against the baseline of a worker building its tables in memory, all in one run; and a query
fanned out to two processes, each holding part of the segments.

    .venv/bin/python -m bench.index [--sizes 10000000 30000000] [--clips 40]

Frames carry five hashes each, as mvq indexes (full, centre, upper and two vertical cuts). The
full hashes are drawn to look like PDQ output of real footage, not uniform noise: clusters (the
frames of one clip, and its copies) whose members differ from their centre by a few percent of
bits. The other four kinds are the full hash XOR a fixed random mask per kind: the same sizes
and the same clustering, at a fifth of the drawing time. A query clip is 64 stored frames with
up to 25 bits flipped (planted near neighbours, as a re-encoded copy's frames would be). The
generator is seeded (2025) and its seed printed.

The segments are laid out as the compaction job's policy leaves them (`compaction.merge_run`
run on every 16,384 rows arriving), and a tail in memory. Per size and layout:
- how a worker gets ready: "faulted", as workers did before this issue (map, then touch every
  page, each fault reading 128 KiB), or "read ahead" (`segments.read_ahead`, what they do now);
  the first worker after the page cache was dropped reads from the disk, a second one started
  after it finds the pages in the cache;
- memory: each worker's private (anonymous) RSS with two workers mapping the same files, and
  the shared file pages; bytes per indexed frame on disk (= in the page cache);
- clip lookup p50/p99 in the worker (all segments and the tail), and recall against numpy
  brute force over every stored hash, for the first clips;
- for today's layout, the same clips fanned out to two processes (the oldest segment in one,
  the rest and the tail in the other), as `docs/OPERATIONS.md` plans for an index past one
  host: each clip's wall time, sent to both and both answers back.
"""

import argparse
import json
import math
import shutil
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
    t = (np.arange(n) % FRAMES_A_CLIP).astype(np.float32)
    first = np.append(np.arange(0, n, FRAMES_A_CLIP), n).astype(np.int64)
    indexes = {}
    for kind in KINDS:
        if with_tables:  # the tail: as a worker's catch-up builds it
            indexes[kind] = FrameIndex()
            indexes[kind].add(codes ^ masks[kind])
        else:  # a segment's tables are built as it is written
            indexes[kind] = FrameIndex(codes ^ masks[kind])
    return Part(indexes, t, t.copy(), ids, first, lo, lo + n)


def rss() -> dict[str, int]:
    with open("/proc/self/status") as fh:
        fields = dict(line.split(":", 1) for line in fh)
    return {k: int(fields[k].split()[0]) // 1024 for k in ("RssAnon", "RssFile")}


def open_parts(root: Path, layout: str, ids: list[str] | None, read_ahead: bool) -> list[Part]:
    listing = json.loads((root / layout / "listing.json").read_text())
    manifests = [m for m in listing["segments"] if ids is None or m["id"] in ids]
    parts = [segments.open_segment(root / layout / m["id"], m) for m in manifests]
    for manifest in manifests:
        if read_ahead:
            segments.read_ahead(root / layout / manifest["id"], manifest)
        else:  # fault every page in once, as a worker did before read-ahead
            for array in segments.map_files(root / layout / manifest["id"], manifest).values():
                int(np.asarray(array).reshape(-1).view(np.uint8)[::4096].sum())
    return parts


def with_tail(root: Path, parts: list[Part]) -> list[Part]:
    tail_codes = np.load(root / "tail.npy")
    masks = {k: np.load(root / f"mask_{k}.npy") for k in KINDS}
    lo = int(json.loads((root / "tail.json").read_text())["lo"])
    return [*parts, make_part(tail_codes, masks, lo, with_tables=True)]


def worker(root: Path, layout: str, start: str) -> None:
    """One worker process: map the segments and get ready, build the tail, run the clips; one
    JSON line out."""
    started = time.perf_counter()
    parts = with_tail(root, open_parts(root, layout, None, read_ahead=start == "read"))
    ready = time.perf_counter() - started
    queries = np.load(root / "queries.npy")
    latencies, peak_anon = [], 0
    for clip in queries:
        t0 = time.perf_counter()
        for part in parts:
            part.search("full", clip, THRESHOLD)
        latencies.append(time.perf_counter() - t0)
        peak_anon = max(peak_anon, rss()["RssAnon"])
    print(json.dumps({"ready": ready, "latencies": latencies, "peak_anon": peak_anon,
                      **rss()}), flush=True)  # fmt: skip
    sys.stdin.readline()  # keep the mapping until the other worker has measured too


def shard(root: Path, ids: list[str], tail: bool) -> None:
    """One process of a fan-out: its segments (and the tail, if given), then a clip's hits
    for each clip number read from stdin."""
    parts = open_parts(root, "packed", ids, read_ahead=True)
    parts = with_tail(root, parts) if tail else parts
    queries = np.load(root / "queries.npy")
    print("ready", flush=True)
    for line in sys.stdin:
        clip = queries[int(line)]
        hits = [[(int(r) + part.lo, int(d)) for r, d in zip(*found, strict=True)]
                for part in parts for found in part.search("full", clip, THRESHOLD)]  # fmt: skip
        print(json.dumps(hits), flush=True)


def fan_out(root: Path, clips: int) -> list[float]:
    """Each clip's wall time, sent to two shard processes and both answers read back."""
    listing = json.loads((root / "packed" / "listing.json").read_text())
    ids = [m["id"] for m in listing["segments"]]
    halves = [ids[:1], ids[1:]]  # the oldest (biggest) segment, and the others with the tail
    argvs = [[sys.executable, "-m", "bench.index", "--shard", str(root), *half]
             + (["--tail"] if n else []) for n, half in enumerate(halves)]  # fmt: skip
    procs = [subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
             for argv in argvs]  # fmt: skip
    try:
        for proc in procs:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        latencies = []
        for clip in range(clips):
            t0 = time.perf_counter()
            for proc in procs:
                assert proc.stdin is not None
                proc.stdin.write(f"{clip}\n")
                proc.stdin.flush()
            for proc in procs:
                assert proc.stdout is not None
                json.loads(proc.stdout.readline())
            latencies.append(time.perf_counter() - t0)
        return latencies
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


def drop_caches() -> None:
    subprocess.run(["sync"], check=True)
    Path("/proc/sys/vm/drop_caches").write_text("1\n")


def run_workers(root: Path, layout: str, start: str) -> list[dict[str, Any]]:
    """Two workers, one after the other, the page cache dropped before the first."""
    argv = [sys.executable, "-m", "bench.index", "--worker", str(root), layout, start]
    drop_caches()
    procs, results = [], []
    for _ in range(2):  # one after the other: the second finds the first's pages
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        procs.append(proc)
        results.append(json.loads(proc.stdout.readline()))  # type: ignore[union-attr]
    for proc in procs:
        proc.communicate("\n")
    return results


LAYOUTS = {"unpacked": segments.write_unpacked, "packed": segments.write}
RUNS = [("unpacked", "faulted"), ("unpacked", "read"), ("packed", "read")]
NAMES = {("unpacked", "faulted"): "before: int32 tables, faulted in",
         ("unpacked", "read"): "int32 tables, read ahead",
         ("packed", "read"): "now: packed tables, read ahead"}  # fmt: skip


def measure(n: int, clips: int, recall_clips: int, rng: np.random.Generator) -> list[str]:
    root = ROOT / f"{n}"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    codes = clustered_hashes(rng, n)
    masks = {k: (np.zeros(4, np.uint64) if k == "full" else
                 rng.integers(0, 2**63, 4, dtype=np.uint64)) for k in KINDS}  # fmt: skip
    for kind, mask in masks.items():
        np.save(root / f"mask_{kind}.npy", mask)
    started = time.perf_counter()
    build_tables(codes)  # the baseline: one kind's tables over every hash, in memory
    rebuild = time.perf_counter() - started
    sizes, tail = tiered_sizes(n)
    written, disk = {}, {}
    for layout, write in LAYOUTS.items():
        manifests, lo = [], 0
        started = time.perf_counter()
        for size in sizes:
            part = make_part(codes[lo : lo + size], masks, lo, with_tables=False)
            manifests.append(write(part, root / layout / segments.segment_id(lo, lo + size)))
            lo += size
            del part
        written[layout] = time.perf_counter() - started
        (root / layout / "listing.json").write_text(json.dumps({"segments": manifests}))
        disk[layout] = sum(f["size"] for m in manifests for f in m["files"].values())
    np.save(root / "tail.npy", codes[lo:])
    (root / "tail.json").write_text(json.dumps({"lo": lo}))
    queries = np.stack([clip_queries(rng, codes) for _ in range(clips)])
    np.save(root / "queries.npy", queries)
    truth = [[set(np.flatnonzero(distances(codes, q) <= THRESHOLD).tolist()) for q in clip]
             for clip in queries[:recall_clips]]  # fmt: skip
    del codes

    rows = []
    for layout, start in RUNS:
        first, second = run_workers(root, layout, start)
        parts = with_tail(root, open_parts(root, layout, None, read_ahead=False))
        found = expected = 0
        for clip, answers in zip(queries, truth, strict=False):
            hits: list[set[int]] = [set() for _ in clip]
            for part in parts:
                for q, (positions, _) in enumerate(part.search("full", clip, THRESHOLD)):
                    hits[q] |= set((positions + part.lo).tolist())
            found += sum(len(a & h) for a, h in zip(answers, hits, strict=True))
            expected += sum(len(a) for a in answers)
        del parts
        lat = first["latencies"] + second["latencies"]
        rows.append(
            f"| {n:,} | {NAMES[(layout, start)]} | {len(sizes)} + {tail:,} | "
            f"{written[layout]:.0f} s | {first['ready']:.1f} s | {second['ready']:.2f} s | "
            f"{max(first['peak_anon'], second['peak_anon']):,} MiB | "
            f"{second['RssFile']:,} MiB | {disk[layout] / n:.0f} B | "
            f"{percentile(lat, 50) * 1000:.1f} ms | {percentile(lat, 99) * 1000:.1f} ms | "
            f"{found / max(1, expected):.4f} ({expected:,}) |"
        )
        print(rows[-1], flush=True)
    fanned = fan_out(root, clips)
    rows.append(
        f"| {n:,} | now, fanned out to 2 processes | {len(sizes)} + {tail:,} | | | | | | | "
        f"{percentile(fanned, 50) * 1000:.1f} ms | {percentile(fanned, 99) * 1000:.1f} ms | |"
    )
    print(rows[-1], flush=True)
    rows.append(f"| {n:,} | baseline: build 1 kind in memory (x 5 kinds) | | "
                f"{rebuild:.1f} s ({5 * rebuild:.0f} s) | | | | | | | | |")  # fmt: skip
    shutil.rmtree(root, ignore_errors=True)
    return rows


HEADER = "\n".join([
    "| " + " | ".join([
        "frames", "layout, start", "segments + tail rows", "write segments",
        "first worker ready (disk)", "second worker ready (cache warm)",
        "private RSS per worker (peak)", "file pages its searches touched", "bytes a frame",
        "clip p50",
        "clip p99", "recall (pairs)"]) + " |",
    "|---" * 12 + "|",
])  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000_000, 30_000_000])
    parser.add_argument("--clips", type=int, default=40)
    parser.add_argument("--recall-clips", type=int, default=5)
    parser.add_argument("--seed", type=int, default=2025)
    parser.add_argument("--worker", nargs=3, metavar=("ROOT", "LAYOUT", "START"))
    parser.add_argument("--shard", nargs="+", metavar="ROOT SEGMENT")
    parser.add_argument("--tail", action="store_true")
    args = parser.parse_args()
    if args.worker:
        worker(Path(args.worker[0]), args.worker[1], args.worker[2])
        return
    if args.shard:
        shard(Path(args.shard[0]), args.shard[1:], args.tail)
        return
    print(f"seed {args.seed}", flush=True)
    rng = np.random.default_rng(args.seed)
    rows = []
    for n in args.sizes:
        rows += measure(n, args.clips, args.recall_clips, rng)
    write_section(
        "index",
        f"""## Frame index: shared segments, memory-mapped

Command: `.venv/bin/python -m bench.index --clips {args.clips} --seed {args.seed}` (module
docstring: how the hashes, the queries and the segment layout are made). Five hashes a frame.
Radius {THRESHOLD}. A clip lookup is {CLIP_FRAMES} query frames against one kind (full) in every
segment and the tail. Two worker processes start one after the other on one host, the page
cache dropped before the first: the first reads the segments from disk, the second finds them in
the cache. "Ready" includes building the tail's in-memory index.

{HEADER}
{chr(10).join(rows)}

Layouts: "int32 tables" is the segment as written before this issue (per kind eleven int32
position tables and an int32 directory of one to two buckets a row, and a per-row clip
number); "packed" is `index.pack` (3-byte positions, a uint16 directory of as many buckets) and no
clip column. Baseline: a worker building one kind's tables in memory from hashes
already in memory, as workers did before segments; x 5 kinds is a floor. Recall: the first
{args.recall_clips} clips, against numpy brute force over every full hash.
""",
    )


if __name__ == "__main__":
    main()
