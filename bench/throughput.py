"""Matching throughput with 1, 2 and 4 worker processes against a 10M-frame index, and how long
each clip holds the global matching lock, against the old way (the whole search under the
lock) in the same run.

    .venv/bin/python -m bench.index --sizes 10000000    # the segments, first
    .venv/bin/python -m bench.throughput [--clips 2000] [--workers 1 2 4]

Postgres (Debian's) in a temporary directory, a fresh database per configuration, its
`indexed_frames` sequence started after the segments' rows. Each worker maps the segments
bench.index wrote (the page cache warm, as on a host already running workers) and runs the
real matcher on its share of the clips: `locked_matches` (every probe in every variant against
all five kinds, then the tail under the lock), `index_frames`, commit. A clip is 45 stills
(its rows) and 64 probes; a quarter of the clips are re-encoded copies of indexed footage, and
every tenth is a copy of the clip before it, processed at about the same moment.

What is not in these figures: ffmpeg, S3 and the rest of the pipeline (bench/ingest.py).
"""

import argparse
import json
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import text

from bench.index import ROOT
from bench.report import percentile, write_section
from mvq.matching.catalogue import KINDS

STILLS, PROBES = 45, 64


def hexes(codes: npt.NDArray[np.uint64]) -> list[str]:
    return [row.astype(">u8").tobytes().hex() for row in codes]


def flip(rng: np.random.Generator, codes: npt.NDArray[np.uint64], bits: int) -> Any:
    out = codes.copy()
    for row in out:
        for bit in rng.choice(256, bits, replace=False):
            row[bit // 64] ^= np.uint64(1 << (63 - bit % 64))
    return out


def make_clips(index: Path, count: int, seed: int) -> list[dict[str, Any]]:
    """Each clip's stills (full hashes) and probes, as hex."""
    rng = np.random.default_rng(seed)
    listing = json.loads((index / "listing.json").read_text())
    indexed = [
        np.load(index / m["id"] / "codes_full.npy", mmap_mode="r") for m in listing["segments"]
    ]
    clips: list[dict[str, Any]] = []
    for n in range(count):
        if n % 10 == 9:  # a copy of the clip before, uploaded at the same moment
            stills = flip(rng, clips[-1]["codes"], 8)
        elif n % 4 == 0:  # a re-encoded copy of indexed footage
            seg = indexed[int(rng.integers(0, len(indexed)))]
            start = int(rng.integers(0, len(seg) - STILLS))
            stills = flip(rng, np.array(seg[start : start + STILLS]), 10)
        else:  # new footage: one scene, its stills a few bits apart
            centre = rng.integers(0, 2**63, (1, 4), dtype=np.uint64)
            stills = flip(rng, np.repeat(centre, STILLS, axis=0), 0)
            stills = np.stack([flip(rng, s[None], 30)[0] for s in stills])
        probes = flip(rng, stills[rng.integers(0, STILLS, PROBES)], 6)
        clips.append({"codes": stills, "stills": hexes(stills), "probes": hexes(probes)})
    return clips


def setup_database(url: str, clips: list[dict[str, Any]], first_seq: int) -> list[str]:
    """The clips' claims, files and frames (not yet indexed); their media ids."""
    from mvq.auth import service as auth
    from mvq.db import session_factory
    from testkit.indexed_clips import add_clip

    with session_factory(url)() as session:
        # The rows after the segments' (pg_get_serial_sequence: whatever the sequence is named).
        session.execute(text("SELECT setval(pg_get_serial_sequence('indexed_frames', 'seq'), "
                             f"{first_seq - 1})"))  # fmt: skip
        unit, _ = auth.create_unit(session, name=f"bench-{uuid.uuid4().hex[:6]}", actor="bench")
        ids = [add_clip(session, unit.id, clip["stills"]) for clip in clips]
        session.commit()
    return ids


def worker(args: argparse.Namespace) -> None:
    """One worker process: its share of the clips, one after the other, as RQ would run them."""
    from mvq.db import session_factory
    from mvq.matching import segments
    from mvq.matching import service as matching
    from mvq.matching.catalogue import Catalogue, empty_part
    from mvq.media.ingest.frames import Probe
    from mvq.media.ingest.hashing import FrameHashes

    job = json.loads(Path(args.worker).read_text())
    masks = {k: int(np.load(Path(job["index"]) / f"mask_{k}.npy").astype(">u8").tobytes().hex(),
                    16) for k in KINDS}  # fmt: skip
    listing = json.loads((Path(job["index"]) / "listing.json").read_text())
    parts = [segments.open_segment(Path(job["index"]) / m["id"], m) for m in listing["segments"]]
    url = job["url"]
    matching._catalogues[url] = Catalogue(segments=parts, tail=empty_part(parts[-1].hi),
                                          generation="bench", checked_at=1e18)  # fmt: skip
    rule = matching.ClipRule(0.3, 2)
    held: list[float] = []
    taken = 0.0
    lock = matching.lock_matching

    def timed_lock(session: Any) -> None:
        nonlocal taken
        lock(session)
        if not job["whole_under_lock"]:  # else taken before the search, below
            taken = time.perf_counter()

    matching.lock_matching = timed_lock

    def kind(h: str, k: str) -> str:
        return f"{int(h, 16) ^ masks[k]:064x}"

    per_clip, found = [], 0
    make = session_factory(url)
    for media_id, probes in zip(job["media"], job["probes"], strict=True):
        started = time.perf_counter()
        with make() as session:
            if job["whole_under_lock"]:
                lock(session)  # the old way: the lock first, the search under it
                taken = time.perf_counter()
            wanted = [Probe(t_seconds=float(i), hashes=FrameHashes(
                dihedral=(h, *(f"{int(h, 16) ^ (r + 1) * 0x9E3779B97F4A7C15:064x}"
                               for r in range(7))),
                quality=100, upper=kind(h, "upper"), center=kind(h, "center"),
                vertical_9x16=kind(h, "vertical_9x16"), vertical_4x5=kind(h, "vertical_4x5")))
                for i, h in enumerate(probes)]  # fmt: skip
            found += bool(matching.locked_matches(session, wanted, exclude_media=media_id,
                                                  threshold=31, rule=rule))  # fmt: skip
            matching.index_frames(session, media_id=media_id)
            session.commit()
            held.append(time.perf_counter() - taken)
        per_clip.append(time.perf_counter() - started)
    print(json.dumps({"held": held, "per_clip": per_clip, "found": found}), flush=True)


def run_config(backing: Any, index: Path, clips: list[dict[str, Any]], workers: int,
               whole_under_lock: bool, scratch: Path) -> dict[str, Any]:  # fmt: skip
    from testkit import harness

    url = harness.fresh_database(backing, "postgres")
    listing = json.loads((index / "listing.json").read_text())
    media = setup_database(url, clips, listing["segments"][-1]["hi"] + 1)
    procs = []
    started = time.perf_counter()
    for w in range(workers):
        job = scratch / f"job-{w}.json"
        job.write_text(json.dumps({
            "url": url, "index": str(index), "whole_under_lock": whole_under_lock,
            "media": media[w::workers], "probes": [c["probes"] for c in clips[w::workers]],
        }))  # fmt: skip
        argv = [sys.executable, "-m", "bench.throughput", "--worker", str(job)]
        procs.append(subprocess.Popen(argv, stdout=subprocess.PIPE, text=True))
    results = [json.loads(p.communicate()[0]) for p in procs]
    wall = time.perf_counter() - started
    held = [h for r in results for h in r["held"]]
    per_clip = [c for r in results for c in r["per_clip"]]
    return {
        "workers": workers,
        "whole_under_lock": whole_under_lock,
        "wall": wall,
        "clips_per_s": len(clips) / wall,
        "held_p50": percentile(held, 50),
        "held_p99": percentile(held, 99),
        "held_share": sum(held) / (wall * workers),
        "clip_p50": statistics.median(per_clip),
        "found": sum(r["found"] for r in results),
    }


HEADER = "\n".join([
    "| " + " | ".join(["workers", "under the lock", "wall", "clips/s", "per clip p50",
                       "lock held p50", "lock held p99", "share of worker time under the lock",
                       "found"]) + " |",
    "|---" * 9 + "|",
])  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clips", type=int, default=2000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--index", type=Path, default=ROOT / "10000000")
    parser.add_argument("--worker")
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    from testkit import harness

    clips = make_clips(args.index, args.clips, seed=20)
    frames = json.loads((args.index / "listing.json").read_text())["segments"][-1]["hi"]
    rows = []
    with harness.temporary_backing("mvq-bench-") as backing:
        harness.use_env(backing.env)
        scratch = backing.root / "jobs"
        scratch.mkdir()
        configs = [(w, False) for w in args.workers] + [(max(args.workers), True)]
        for workers, whole in configs:
            r = run_config(backing, args.index, clips, workers, whole, scratch)
            print(json.dumps(r), flush=True)
            locked = "whole search (before)" if whole else "rows new since the search"
            rows.append(
                f"| {workers} | {locked} | "
                f"{r['wall']:.0f} s | {r['clips_per_s']:.1f} | {r['clip_p50'] * 1000:.0f} ms | "
                f"{r['held_p50'] * 1000:.1f} ms | {r['held_p99'] * 1000:.1f} ms | "
                f"{r['held_share']:.0%} | {r['found']} |"
            )
    write_section(
        "throughput",
        f"""## Matching throughput: 1, 2 and 4 workers, {args.clips:,} clips, {frames:,}-frame index

Command: `.venv/bin/python -m bench.throughput --clips {args.clips}` (after `bench.index`;
the module docstring says what a clip is). Postgres; each worker a process mapping the same
segments. "Under the lock": the time from taking the global matching lock to the commit that
releases it, per clip; the last row is the old way, the whole search under the lock, in the
same run. "Found": clips that matched something (a quarter copy indexed footage and a tenth
copy the clip before them; new footage matches nothing).

{HEADER}
{chr(10).join(rows)}
""",
    )


if __name__ == "__main__":
    main()
