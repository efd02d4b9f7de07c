"""Local features of a clip's keyframes: ORB keypoints, for matching where PDQ goes blind.

PDQ hashes the whole picture, so a 10-25 % crop, a picture inside another picture or a clip
filmed off a screen moves it past any threshold. ORB describes small patches around corners
instead, each as 256 bits, turned with the patch: a patch that survives the copy keeps its
description, wherever it lands in the new frame and at whatever scale (measured on a 15 %
corner crop, a 40 % inset and a keystoned, blurred, noisy screen: 15-120 descriptors within 21
bits of the original's, none for an unrelated clip).

A keyframe is a still at most every `gap` seconds (at most MAX_KEYFRAMES a clip). ORB is not
mirror-invariant, so the query side also describes each keyframe mirrored, in memory only: a
mirrored copy then meets its original, in either upload order.
"""

from dataclasses import dataclass
from functools import cache
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

FEATURES = 250  # keypoints at the still's size: 6 ms of CPU at 640x360
HALF_FEATURES = 150  # and at half its size: 400 a keyframe, about 14 KB stored
# FAST's corner threshold below OpenCV's 20: a screen re-film's blur leaves softer corners.
FAST_THRESHOLD = 10
MAX_KEYFRAMES = 16
MIN_GAP = 1.0  # seconds: a still every second is as dense as the index samples


@dataclass(frozen=True)
class Keyframe:
    t_seconds: float
    width: int
    height: int
    points: npt.NDArray[np.float32]  # (n, 2) pixel positions in the still
    descriptors: npt.NDArray[np.uint8]  # (n, 32): ORB's 256 bits each
    mirrored: "Keyframe | None" = None  # the same still mirrored: for querying, never stored

    def __len__(self) -> int:
        return len(self.points)

    def to_bytes(self) -> tuple[bytes, bytes]:
        """Points as float16 (half a pixel at 640 px is finer than RANSAC's tolerance)."""
        return self.points.astype(np.float16).tobytes(), self.descriptors.tobytes()

    @classmethod
    def from_bytes(
        cls, t_seconds: float, width: int, height: int, points: bytes, descriptors: bytes
    ) -> "Keyframe":
        xy = np.frombuffer(points, np.float16).astype(np.float32).reshape(-1, 2)
        return cls(t_seconds, width, height, xy,
                   np.frombuffer(descriptors, np.uint8).reshape(-1, 32))  # fmt: skip


@cache
def _orb(features: int) -> Any:
    return cv2.ORB_create(nfeatures=features, fastThreshold=FAST_THRESHOLD)  # type: ignore[attr-defined]


def _detect(grey: npt.NDArray[np.uint8], features: int) -> tuple[list[Any], Any]:
    points, descriptors = _orb(features).detectAndCompute(grey, None)
    return (list(points), descriptors) if descriptors is not None else ([], None)


def describe(grey: npt.NDArray[np.uint8], t_seconds: float = 0.0) -> Keyframe:
    """ORB at the still's size and at half of it, in the still's pixel coordinates. ORB gives
    its coarse pyramid levels few keypoints, so a picture shown at half size or less (an inset,
    a split screen's tile) would meet few of the full-size picture's; at half size, the
    picture's own finest level meets the inset's."""
    h, w = grey.shape[:2]
    half = cv2.resize(grey, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
    xy, found = [], []
    for image, features, scale in ((grey, FEATURES, 1.0), (half, HALF_FEATURES, 2.0)):
        points, descriptors = _detect(np.asarray(image, np.uint8), features)
        if descriptors is not None:
            xy.append(np.array([p.pt for p in points], np.float32).reshape(-1, 2) * scale)
            found.append(np.asarray(descriptors, np.uint8))
    if not found:
        return Keyframe(t_seconds, w, h, np.empty((0, 2), np.float32), np.empty((0, 32), np.uint8))
    return Keyframe(t_seconds, w, h, np.concatenate(xy), np.concatenate(found))


def grey_of(rgb: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    return np.asarray(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), np.uint8)


def keyframe(rgb: npt.NDArray[np.uint8], t_seconds: float) -> Keyframe:
    """A still's features, and its mirror's for querying."""
    grey = grey_of(rgb)
    mirrored = describe(np.ascontiguousarray(grey[:, ::-1]), t_seconds)
    own = describe(grey, t_seconds)
    return Keyframe(own.t_seconds, own.width, own.height, own.points, own.descriptors, mirrored)


def gap(duration: float) -> float:
    return max(MIN_GAP, duration / MAX_KEYFRAMES)
