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

# Each keypoint's best match, kept when it is the other's best too and within MAX_DISTANCE bits.
# Not Lowe's ratio test: a keyframe is described at two sizes (keyframes.py), so a corner's
# second-best match is often the same corner, and the test would drop the true ones.
MAX_DISTANCE = 64
REPROJECTION = 4.0  # pixels in a 640 px still
# Measured on every keyframe pair of unrelated clips here (look-alikes included): at most 12
# agreeing points, and at most a quarter of the matches; copies 23 and more, and half.
MIN_INLIERS = 18
MIN_AGREEMENT = 0.3
# A caption, a channel's logo or a lower third that two unrelated clips share sits at the same
# place in both: the mapping is the identity. A real copy mapped by the identity is the whole
# picture (and PDQ finds it first), so such a mapping must spread over a fair part of the frame.
# Any other mapping may rest on a small textured patch (a cup's foam in a zoom: 2-7 %).
IDENTITY = 0.01  # the agreeing points moved less than this share of the frame (median)
MIN_IDENTITY_SPREAD = 0.25
MAX_SCALE = 40.0  # area ratio between the two frames' views: beyond it, a degenerate fit


@dataclass(frozen=True)
class Verified:
    inliers: int
    matched: int  # cross-checked matches RANSAC was given
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
    pairs = cv2.BFMatcher(cv2.NORM_HAMMING, crossCheck=True).match(
        this.descriptors, other.descriptors
    )
    good = [p for p in pairs if p.distance <= MAX_DISTANCE]
    if len(good) < MIN_INLIERS:
        return None
    src = this.points[[m.queryIdx for m in good]]
    dst = other.points[[m.trainIdx for m in good]]
    homography, mask = cv2.findHomography(src, dst, cv2.RANSAC, REPROJECTION)
    if homography is None or mask is None or int(mask.sum()) < MIN_INLIERS:
        return None
    if mask.sum() < MIN_AGREEMENT * len(good):
        return None
    agree = mask.ravel().astype(bool)
    seen_in_other = cv2.perspectiveTransform(_corners(this), homography)
    size_this, size_other = [this.width, this.height], [other.width, other.height]
    moved = np.abs(src[agree] / size_this - dst[agree] / size_other).max(axis=1)
    if np.median(moved) < IDENTITY and _spread(dst[agree], other) < MIN_IDENTITY_SPREAD:
        return None
    area = abs(float(cv2.contourArea(seen_in_other)))
    ratio = area / (other.width * other.height)
    if not cv2.isContourConvex(seen_in_other) or not 1 / MAX_SCALE < ratio < MAX_SCALE:
        return None
    seen_in_this = cv2.perspectiveTransform(_corners(other), np.linalg.inv(homography))
    return Verified(int(agree.sum()), len(good), len(this), _normalised(seen_in_this, this),
                    _normalised(seen_in_other, other))  # fmt: skip
