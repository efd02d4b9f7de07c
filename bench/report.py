"""Writes one benchmark's section into docs/BENCHMARKS.md, replacing its previous figures."""

import os
import platform
import statistics
from datetime import UTC, datetime
from pathlib import Path

# MVQ_BENCH_DOC sends a trial run's figures elsewhere, so a smoke run leaves the record alone.
DOC = Path(
    os.environ.get("MVQ_BENCH_DOC")
    or Path(__file__).resolve().parent.parent / "docs" / "BENCHMARKS.md"
)
HEADER = """# Benchmarks

Each section is written by its script under `bench/`; rerun the command to refresh it.
These machines are noisy: figures are medians of repeated runs, and each comes with a
baseline measured in the same run, so compare ratios rather than absolute numbers.
"""


def machine() -> str:
    return f"{os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


def median(values: list[float]) -> float:
    return statistics.median(values)


def write_section(name: str, body: str) -> None:
    text = DOC.read_text() if DOC.exists() else HEADER
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    section = f"{start}\n{body.strip()}\n\n_Measured {stamp} on {machine()}._\n{end}"
    if start in text:
        before, rest = text.split(start, 1)
        text = before + section + rest.split(end, 1)[1]
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    DOC.parent.mkdir(exist_ok=True)
    DOC.write_text(text)
