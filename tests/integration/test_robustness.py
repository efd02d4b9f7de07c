"""The robustness suite as a test, small: three sources of the benchmark's corpus (a photo flown
over, a rendered terrain flight, a fractal zoom), each copied through every transform with
seeded random parameters (cuts at any moment, speeds, turns, mirrors, vertical crops,
re-encodes, captions, crops, padding, screens, picture-in-picture...), and four look-alikes
(sky, night, thermal-style grey, terrain). With the rule mvq is configured with, every
transform with a goal is found in both upload orders and nothing unrelated is. The full
measurement, tuned on one half of 34 sources and reported on the other, is
`python -m bench.robustness` (docs/BENCHMARKS.md)."""

from pathlib import Path

import pytest

from bench.robustness import TARGETS, evaluate, recall_and_false_positives
from mvq.matching.service import ClipRule
from mvq.settings import get_settings


# Building the corpus (about 60 clips through ffmpeg) is minutes of CPU; the guard is sized to
# the work when other test sessions share the cores, not to hide a hang.
@pytest.mark.timeout(1500)
def test_copies_are_found_in_both_orders_and_nothing_else_is(tmp_path: Path) -> None:
    evaluation = evaluate(
        15,
        sources={"photo-astronaut", "terrain-03", "mandelbrot-05"},
        lookalikes={"sky-01", "night-04", "thermal-02", "lookalike-terrain-00"},
        cache=tmp_path,
    )
    settings = get_settings()
    rule = ClipRule(settings.match_min_share, settings.match_min_frames)
    recall, false_positives = recall_and_false_positives(evaluation.forward, rule)
    reverse, reverse_false_positives = recall_and_false_positives(evaluation.reverse, rule)
    assert (false_positives, reverse_false_positives) == (0, 0)
    for transform, goal in TARGETS.items():
        if goal is None:
            continue
        assert reverse[transform] >= goal, (transform, "copy first", reverse[transform])
        if transform != "screenshot still":
            assert recall[transform] >= goal, (transform, "copy second", recall[transform])
    # The one known gap, measured in the benchmark (0.41 on its reported half): a still
    # grabbed between two indexed seconds of moving footage meets no indexed frame, as the
    # index holds one still a second. The original still finds a still uploaded before it.
