"""The geometric stage on real photos (scikit-image's): a crop, a mirrored crop and an inset
are found by the descriptor index and verified with the region they show; an unrelated photo
and a shared caption are not."""

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont
from skimage import data

from mvq.matching import geometry
from mvq.matching.features import FeatureIndex
from mvq.matching.index import FrameIndex, max_radius
from mvq.media.ingest import keyframes

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"


def frame(pixels: np.ndarray, size: tuple[int, int] = (640, 360)) -> np.ndarray:  # type: ignore[type-arg]
    img = Image.fromarray(pixels).convert("RGB")
    return np.asarray(img.resize(size, Image.Resampling.LANCZOS))


def crop(rgb: np.ndarray, x: float, y: float, keep: float) -> np.ndarray:  # type: ignore[type-arg]
    h, w = rgb.shape[:2]
    left, top = round(w * x), round(h * y)
    return frame(rgb[top : top + round(h * keep), left : left + round(w * keep)])


def captioned(rgb: np.ndarray) -> np.ndarray:  # type: ignore[type-arg]
    img = Image.fromarray(rgb)
    draw = ImageDraw.Draw(img)
    draw.rectangle((120, 300, 520, 350), fill=(0, 0, 0))
    draw.text((135, 305), "LIVE FROM THE FRONT", font=ImageFont.truetype(FONT, 30), fill="white")
    return np.asarray(img)


@pytest.fixture(scope="module")
def photos() -> dict[str, np.ndarray]:  # type: ignore[type-arg]
    return {"astronaut": frame(data.astronaut()[:288]), "coffee": frame(data.coffee()),
            "chelsea": frame(data.chelsea())}  # fmt: skip


def test_a_corner_crop_is_verified_with_the_window_it_shows(photos: dict) -> None:  # type: ignore[type-arg]
    original = keyframes.keyframe(photos["astronaut"], 0.0)
    copy = keyframes.keyframe(crop(photos["astronaut"], 0.2, 0.0, 0.8), 0.0)
    found = geometry.verify(copy, original)
    assert found is not None and found.inliers >= 40
    window = [[0.2, 0.0], [1.0, 0.0], [1.0, 0.8], [0.2, 0.8]]
    assert np.allclose(found.other_quad, window, atol=0.02), found.other_quad
    assert found.share == round(found.inliers / len(copy), 3)


def test_a_mirrored_crop_needs_the_mirrored_query(photos: dict) -> None:  # type: ignore[type-arg]
    original = keyframes.keyframe(photos["chelsea"], 0.0)
    copy = keyframes.keyframe(
        np.ascontiguousarray(crop(photos["chelsea"], 0.1, 0.1, 0.8)[:, ::-1]), 0.0
    )
    assert geometry.verify(copy, original) is None
    assert copy.mirrored is not None and geometry.verify(copy.mirrored, original) is not None


def test_an_unrelated_photo_and_a_shared_caption_are_not_verified(photos: dict) -> None:  # type: ignore[type-arg]
    one = keyframes.keyframe(captioned(photos["coffee"]), 0.0)
    other = keyframes.keyframe(captioned(photos["chelsea"]), 0.0)
    assert geometry.verify(one, other) is None
    assert geometry.verify(other, one) is None


def test_the_index_proposes_and_verifies_an_inset(photos: dict) -> None:  # type: ignore[type-arg]
    index = FeatureIndex()
    for name, rgb in photos.items():
        index.add(name, [keyframes.keyframe(rgb, 0.0)])
    background = photos["coffee"].copy()
    small = np.asarray(Image.fromarray(photos["astronaut"]).resize((288, 162)))
    background[20:182, 330:618] = small  # 45 % wide, top right
    query = [keyframes.keyframe(background, 0.0)]
    agreed = index.verified(query, index.hits(query), exclude_media="coffee")
    assert set(agreed) == {"astronaut"}
    (pair,) = agreed["astronaut"]
    x = sum(p[0] for p in pair["this_quad"]) / 4
    y = sum(p[1] for p in pair["this_quad"]) / 4
    assert abs(x - 474 / 640) < 0.02 and abs(y - 101 / 360) < 0.02
    unrelated = [keyframes.keyframe(frame(data.rocket()), 0.0)]
    assert index.verified(unrelated, index.hits(unrelated), exclude_media=None) == {}


def test_one_flip_a_chunk_is_exact_up_to_21_bits() -> None:
    rng = np.random.default_rng(3)
    codes = rng.integers(0, 2**63, (3000, 4), dtype=np.uint64)
    index = FrameIndex()
    index.add(codes)
    queries = codes[:40].copy()
    for n, q in enumerate(queries):  # flip `n % 22` random bits of each
        for bit in rng.choice(256, n % 22, replace=False):
            q[bit // 64] ^= np.uint64(1 << (63 - bit % 64))
    found = index.search(queries, max_radius(1), flips=1)
    for n, (positions, _) in enumerate(found):
        assert n in positions.tolist()
    with pytest.raises(ValueError, match="exact only up to radius 21"):
        index.search(queries, 22, flips=1)
