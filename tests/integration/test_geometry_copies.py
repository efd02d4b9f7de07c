"""Copies PDQ goes blind to, through the real queue and workers: a 15 % crop, a clip shown as
a picture inside another, a clip filmed off a screen at an angle. Each is flagged as the other
unit's footage by the geometric stage, with the region each frame shows of the other and the
share of keypoints that agree; unrelated look-alike footage sharing a caption gets nothing."""

from pathlib import Path
from typing import Any

import cv2
import numpy as np

from mvq.media.ingest import pipeline
from mvq.media.ingest.hashing import hamming
from testkit import footage, harness
from testkit.claims import upload_claim, wait_for_status
from testkit.people import Accounts

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
DUPLICATE_KINDS = {"near_duplicate", "cross_unit_duplicate", "exact_duplicate"}


def claim_in_queue(stack: harness.Stack, token: str, clip: Path) -> str:
    submission = upload_claim(stack, token, clip)
    wait_for_status(stack, token, submission, "in_queue")
    return submission


def flags_of(stack: harness.Stack, token: str, submission: str) -> dict[str, Any]:
    with stack.client(token) as client:
        body = client.get(f"/api/v1/submissions/{submission}").json()
    return {f["kind"]: f["evidence"] for f in body["flags"]}


def geometric_match(stack: harness.Stack, accounts: Accounts, second: str, first: str) -> Any:
    flags = flags_of(stack, accounts.staff_tokens["reviewer"], second)
    assert "cross_unit_duplicate" in flags, sorted(flags)
    match = next(m for m in flags["cross_unit_duplicate"]["matches"]
                 if m["submission_id"] == first)  # fmt: skip
    assert match["unit_id"] == accounts.unit_id
    assert "geometry" in match["signals"]
    pairs = match["geometry"]
    assert pairs, match
    for pair in pairs:
        assert pair["inliers"] >= 16 and 0 < pair["share"] <= 1
        assert pair["share"] == round(pair["inliers"] / pair["keypoints"], 3)
        assert len(pair["this_quad"]) == len(pair["other_quad"]) == 4
    return pairs


def aligned(pairs: list[dict[str, Any]]) -> dict[str, Any]:
    """The verified pair closest in time: the clips below are copied whole (no cut), so the
    region it outlines is where the copy put the picture (a slow zoom moves it a little)."""
    return min(pairs, key=lambda p: (abs(p["this_t"] - p["other_t"]), -p["inliers"]))


def centre(quad: list[list[float]]) -> tuple[float, float]:
    return sum(p[0] for p in quad) / 4, sum(p[1] for p in quad) / 4


def pdq_misses(a: Path, b: Path) -> bool:
    """No still of one within PDQ's threshold of any still of the other, on any hash kind the
    first stage compares (full, centre crop, upper part)."""
    ours, theirs = pipeline.analyse(a).stills, pipeline.analyse(b).stills
    return all(
        hamming(getattr(x.hashes, k1), getattr(y.hashes, k2)) > 31
        for x in ours for y in theirs
        for k1, k2 in (("pdq", "pdq"), ("center", "pdq"), ("pdq", "center"), ("upper", "upper"))
    )  # fmt: skip


def test_a_15_percent_crop_is_flagged_with_the_region_it_shows(
    stack: harness.Stack, accounts: Accounts, tmp_path: Path
) -> None:
    original = footage.clip("chelsea", tmp_path / "strike.mp4", seconds=5)
    first = claim_in_queue(stack, accounts.unit_token, original)
    # 15 % off the right and the bottom, scaled back up and re-encoded.
    copy = footage.reused(
        original, tmp_path / "crop.mp4", vf="crop=iw*0.85:ih*0.85:0:0,scale=640:360"
    )
    assert pdq_misses(original, copy)
    second = claim_in_queue(stack, accounts.other_unit_token, copy)
    best = aligned(geometric_match(stack, accounts, second, first))
    # The copy's whole frame is the original's top-left 85 %.
    window = [[0, 0], [0.85, 0], [0.85, 0.85], [0, 0.85]]
    for seen, expected in zip(best["other_quad"], window, strict=True):
        assert abs(seen[0] - expected[0]) < 0.06 and abs(seen[1] - expected[1]) < 0.06, best


def test_a_picture_in_picture_copy_is_flagged_with_the_inset_outlined(
    stack: harness.Stack, accounts: Accounts, tmp_path: Path
) -> None:
    original = footage.clip("coffee", tmp_path / "strike.mp4", seconds=5, zoom_step=0)
    first = claim_in_queue(stack, accounts.unit_token, original)
    background = footage.drone_clip("grass", tmp_path / "background.mp4", seconds=5)
    copy = footage.inset(original, background, tmp_path / "pip.mp4", width=0.45, x=0.5, y=0.05)
    assert pdq_misses(original, copy)
    second = claim_in_queue(stack, accounts.other_unit_token, copy)
    best = aligned(geometric_match(stack, accounts, second, first))
    # The original's frame sits in the copy's top right: 0.5-0.95 wide, 0.05-0.5 high.
    x, y = centre(best["this_quad"])
    assert abs(x - 0.725) < 0.06 and abs(y - 0.275) < 0.06, best


def test_a_screen_refilm_at_an_angle_is_flagged(
    stack: harness.Stack, accounts: Accounts, tmp_path: Path
) -> None:
    original = footage.clip("rocket", tmp_path / "strike.mp4", seconds=5, zoom_step=0)
    first = claim_in_queue(stack, accounts.unit_token, original)
    copy = footage.refilmed(original, tmp_path / "refilm.mp4")
    second = claim_in_queue(stack, accounts.other_unit_token, copy)
    best = aligned(geometric_match(stack, accounts, second, first))
    # Where the filter put the original's corners: the padded frame's corners go to the
    # screen's, and the picture sits 1/22 inside them.
    square = np.float32([[0, 0], [1, 0], [0, 1], [1, 1]])
    screen = np.float32(footage.SCREEN_CORNERS).reshape(4, 2)
    inside = 0.05 / 1.1
    picture = np.float32([[inside, inside], [1 - inside, inside], [1 - inside, 1 - inside],
                          [inside, 1 - inside]])  # fmt: skip
    expected = cv2.perspectiveTransform(
        picture.reshape(-1, 1, 2), cv2.getPerspectiveTransform(square, screen)
    ).reshape(-1, 2)
    for seen, want in zip(best["this_quad"], expected, strict=True):
        assert abs(seen[0] - want[0]) < 0.06 and abs(seen[1] - want[1]) < 0.06, best


def test_unrelated_look_alike_footage_with_the_same_caption_gets_nothing(
    stack: harness.Stack, accounts: Accounts, tmp_path: Path
) -> None:
    """Dark, grainy flights over different ground, and a thermal-style one, all carrying the
    same bold caption: the caption's corners agree between them, over a sliver of the frame."""
    caption = (
        f"drawtext=fontfile={FONT}:text='LIVE FROM THE FRONT':fontsize=40"
        ":fontcolor=white:box=1:boxcolor=black@0.6:boxborderw=12:x=(w-text_w)/2:y=h-text_h-30"
    )
    looks = {
        "gravel": f"eq=brightness=-0.3:contrast=0.6,noise=alls=12:allf=t,{caption}",
        # not "grass": the picture-in-picture copy above is flown over it (a true match)
        "retina": f"eq=brightness=-0.3:contrast=0.6,noise=alls=12:allf=t,{caption}",
        "brick": f"format=gray,negate,gblur=sigma=1.2,format=yuv420p,{caption}",
    }
    submitted = []
    for n, (source, vf) in enumerate(looks.items()):
        flown = footage.drone_clip(source, tmp_path / f"{source}-src.mp4", seconds=5)
        clip = footage.reused(flown, tmp_path / f"{source}.mp4", vf=vf)
        token = accounts.unit_token if n % 2 else accounts.other_unit_token
        submitted.append((token, claim_in_queue(stack, token, clip)))
    for token, submission in submitted:
        assert not set(flags_of(stack, token, submission)) & DUPLICATE_KINDS
