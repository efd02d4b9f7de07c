"""The full-length soak: tests/system/test_soak.py for 30 minutes at one upload a second, then
its memory figures (API and workers, after warm-up and at the end) into docs/BENCHMARKS.md.

    .venv/bin/python -m bench.soak [--seconds 1800]
"""

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from bench.report import write_section

ARTIFACT = Path(__file__).resolve().parent.parent / "artifacts" / "soak.json"


def record() -> str:
    run = json.loads(ARTIFACT.read_text())
    rows = "\n".join(
        f"| {name} | {before / 1024:.0f} MiB | {run['rss_kib_after'][name] / 1024:.0f} MiB "
        f"| {(run['rss_kib_after'][name] / before - 1) * 100:+.1f} % |"
        for name, before in sorted(run["rss_kib_before"].items())
    )
    body = f"""## Soak: memory under a steady stream of uploads

Command: `.venv/bin/python -m bench.soak --seconds {run["seconds"]:.0f}` (the system test
`tests/system/test_soak.py` at full length). One upload a second (3 s clips from real photos)
from 3 units for {run["seconds"] / 60:.0f} minutes, {run["uploads"]} uploads, every one reaching
the review queue; RSS of the API and of each worker after a 15-upload warm-up and at the end.
The test fails above +10 %.

| process | after warm-up | at the end | change |
|---|---|---|---|
{rows}
"""
    write_section("soak", body)
    return body


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=1800)
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
        check=True,
    )
    print(record())


if __name__ == "__main__":
    main()
