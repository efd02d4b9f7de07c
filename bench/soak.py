"""The full-length soak: tests/system/test_soak.py for 30 minutes at one upload a second, then
its memory figures (API and workers, after warm-up and at the end) into docs/BENCHMARKS.md.

    .venv/bin/python -m bench.soak [--seconds 1800] [--baseline OLD/soak.json]

`--baseline`: the artifact of a run on another tree, shown beside (a before/after).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.report import write_section

ARTIFACT = Path(__file__).resolve().parent.parent / "artifacts" / "soak.json"


def slope(run: dict[str, Any], name: str) -> str:
    """Private memory gained per upload over the samples (least squares), or a dash."""
    points = [(s["seconds"], s["private_kib"][name]) for s in run.get("private_kib_samples", [])]
    if len(points) < 3:
        return "-"
    seconds = run["seconds"]
    per_second = statistics.linear_regression(*zip(*points, strict=True)).slope
    return f"{per_second * seconds / run['uploads']:+.0f} KiB"


def table(run: dict[str, Any]) -> str:
    def mib(kib: int) -> str:
        return f"{kib / 1024:.0f} MiB"

    rows = []
    for name, before in sorted(run["rss_kib_before"].items()):
        after = run["rss_kib_after"][name]
        private = (run.get("private_kib_before", {}).get(name),
                   run.get("private_kib_after", {}).get(name))  # fmt: skip
        shown = "- | - | -"
        if private[0] and private[1]:
            change = (private[1] / private[0] - 1) * 100
            shown = f"{mib(private[0])} | {mib(private[1])} | {change:+.1f} %"
        change = (after / before - 1) * 100
        rows.append(f"| {name} | {mib(before)} | {mib(after)} | {change:+.1f} % | {shown} "
                    f"| {slope(run, name)} |")  # fmt: skip
    return "\n".join(rows)


HEAD = (
    "| process | RSS after warm-up | RSS at the end | change | private after warm-up "
    "| private at the end | change | private per upload |\n" + "|---" * 8 + "|"
)


def record(baseline: Path | None = None) -> str:
    run = json.loads(ARTIFACT.read_text())
    before = ""
    if baseline is not None:
        base = json.loads(baseline.read_text())
        before = f"""
Before: the same command on {base.get("tree", "an earlier tree")} ({base["uploads"]} uploads).

{HEAD}
{table(base)}
"""
    body = f"""## Soak: memory under a steady stream of uploads

Command: `.venv/bin/python -m bench.soak --seconds {run["seconds"]:.0f}` (the system test
`tests/system/test_soak.py`; 1800 s is its full length). One upload a second (3 s clips from
real photos) from 3 units for {run["seconds"] / 60:.0f} minutes, {run["uploads"]} uploads,
every one reaching the review queue; RSS and private memory (`RssAnon`: not the index segments
mapped from files, whose pages the workers of a host share) of the API and of each worker
after a 15-upload warm-up and at the end; private memory sampled every 10 uploads, its slope
per upload by least squares. The test fails above +10 % on either.

{HEAD}
{table(run)}
{before}"""
    write_section("soak", body)
    return body


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=1800)
    parser.add_argument(
        "--baseline", type=Path, help="a soak.json of an earlier tree, shown beside"
    )
    args = parser.parse_args()
    env = {**os.environ, "MVQ_SOAK_SECONDS": str(args.seconds)}
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/system/test_soak.py",
        ],
        env=env,
        check=False,  # a failed run's figures are the point of a before/after
    )
    print(record(args.baseline))


if __name__ == "__main__":
    main()
