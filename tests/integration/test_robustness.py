"""The robustness suite as a test: ten real-photo sources, each copied through every
transform (re-encode/360p/25 fps, trim, mirror, caption, 5 % crop, 20 % padding, inside a
longer video, screenshot still), must be found again with no false positive."""

from pathlib import Path

from bench.robustness import TARGETS, evaluate


def test_copies_are_found_and_nothing_else_is(tmp_path: Path) -> None:
    report = evaluate(tmp_path / "corpus", sources=10)
    assert report.queries == 10 * 8
    assert report.false_positives == 0
    for transform, recall in report.recall.items():
        assert recall >= TARGETS.get(transform, 0.95), (transform, recall)
