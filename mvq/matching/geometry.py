"""Geometric verification of two keyframes: do their ORB keypoints agree on one plane-to-plane
mapping (a homography, found by RANSAC)? A crop, an inset, a split screen or a screen filmed
at an angle is such a mapping; two unrelated pictures only agree by chance on a few points.

Run only on the pairs the candidate pass proposes (features.py): a few milliseconds each.
"""

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from mvq.media.ingest.keyframes import Keyframe

RATIO = 0.8  # Lowe's ratio test: a match clearly better than the second best
REPROJECTION = 4.0  # pixels in a 640 px still
MIN_INLIERS = 16  # unrelated keyframes measured here: at most 10 agreeing points
# The agreeing points must spread over a fair part of one of the two frames: a caption, a
# channel's logo or a lower third that two unrelated clips share covers a sliver of both.
MIN_SPREAD = 0.12
MAX_SCALE = 40.0  # area ratio between the two frames' views: beyond it, a degenerate fit


@dataclass(frozen=True)
class Verified:
    inliers: int
    matched: int  # ratio-test matches RANSAC was given
    keypoints: int  # the query keyframe's keypoints
    this_quad: list[list[float]]  # the other frame's outline seen in this one, 0..1 of its size
    other_quad: list[list[float]]  # this frame's outline seen in the other one, 0..1

    @property
    def share(self) -> float:
        """Of this keyframe's keypoints, the share that agree."""
        return round(self.inliers / max(1, self.keypoints), 3)

    def evidence(self, this_t: float, other_t: float) -> dict[str, Any]:
        return {"this_t": this_t, "other_t": round(other_t, 3), "inliers": self.inliers,
                "keypoints": self.keypoints, "share": self.share, "this_quad": self.this_quad,
                "other_quad": self.other_quad}  # fmt: skip


def _corners(frame: Keyframe) -> npt.NDArray[np.float32]:
    w, h = frame.width, frame.height
    return np.array([[[0, 0]], [[w, 0]], [[w, h]], [[0, h]]], np.float32)


def _normalised(quad: npt.NDArray[Any], frame: Keyframe) -> list[list[float]]:
    return [[round(float(x) / frame.width, 4), round(float(y) / frame.height, 4)]
            for x, y in quad.reshape(-1, 2)]  # fmt: skip


def _spread(points: npt.NDArray[np.float32], frame: Keyframe) -> float:
    hull = cv2.convexHull(points.reshape(-1, 1, 2))
    return float(cv2.contourArea(hull)) / (frame.width * frame.height)


def verify(this: Keyframe, other: Keyframe) -> Verified | None:
    """The homography taking `this` keyframe's picture onto `other`'s, when enough keypoints
    agree on it; None otherwise."""
    if len(this) < MIN_INLIERS or len(other) < MIN_INLIERS:
        return None
    pairs = cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(this.descriptors, other.descriptors, k=2)
    good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < RATIO * p[1].distance]
    if len(good) < MIN_INLIERS:
        return None
    src = this.points[[m.queryIdx for m in good]]
    dst = other.points[[m.trainIdx for m in good]]
    homography, mask = cv2.findHomography(src, dst, cv2.RANSAC, REPROJECTION)
    if homography is None or mask is None or int(mask.sum()) < MIN_INLIERS:
        return None
    agree = mask.ravel().astype(bool)
    if max(_spread(src[agree], this), _spread(dst[agree], other)) < MIN_SPREAD:
        return None
    seen_in_other = cv2.perspectiveTransform(_corners(this), homography)
    area = abs(float(cv2.contourArea(seen_in_other)))
    ratio = area / (other.width * other.height)
    if not cv2.isContourConvex(seen_in_other) or not 1 / MAX_SCALE < ratio < MAX_SCALE:
        return None
    seen_in_this = cv2.perspectiveTransform(_corners(other), np.linalg.inv(homography))
    return Verified(int(agree.sum()), len(good), len(this), _normalised(seen_in_this, this),
                    _normalised(seen_in_other, other))  # fmt: skip
