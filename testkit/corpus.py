"""Benchmark footage for near-duplicate robustness, made from local assets only: scikit-image's
bundled photos flown over with camera-like motion, rendered terrain flights and Mandelbrot zooms,
footage that looks alike but is unrelated, and the transforms re-used footage goes through.
Every parameter is drawn from the caller's seeded generator, and a clip's file name carries a
digest of its parameters, so a cached clip is exactly the clip a rebuild would make.

    .venv/bin/python -m testkit.corpus   # a demo corpus in /tmp/corpus-demo (seed 1)
"""

import hashlib
import json
import math
import random
import subprocess
import time
from collections.abc import Callable, Collection, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageFilter
from skimage import data

W, H, FPS = 960, 540, 30
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
FFMPEG = ["ffmpeg", "-nostdin", "-v", "error", "-y"]
Spec = dict[str, Any]
Quad = list[tuple[float, float]]
Params = dict[str, float | str]


@dataclass(frozen=True)
class Clip:
    name: str  # unique, e.g. "photo-astronaut", "terrain-07"
    path: Path
    kind: str  # "photo", "rendered" or "lookalike-sky" / -night / -thermal / -terrain


# Originals use these photos; the look-alikes use others, so no look-alike shares a scene.
PHOTOS: dict[str, Callable[[], NDArray[Any]]] = {
    name: getattr(data, name)
    for name in ("astronaut", "camera", "chelsea", "coffee", "rocket", "hubble_deep_field",
                 "immunohistochemistry", "retina", "coins", "clock", "moon", "brick", "grass",
                 "cell", "page")
} | {"motorcycle_left": lambda: data.stereo_motorcycle()[0]}  # type: ignore[no-untyped-call]  # fmt: skip
SPARE_PHOTOS: dict[str, Callable[[], NDArray[Any]]] = {
    "gravel": data.gravel, "text": data.text, "colorwheel": data.colorwheel,
    "logo": data.logo, "microaneurysms": data.microaneurysms,
    "blobs": lambda: data.binary_blobs(1024, 0.06, rng=7).astype(np.uint8) * 255,  # type: ignore[no-untyped-call]
}  # fmt: skip
# Points on the Mandelbrot set's edge with varied structure, far enough apart not to share a view;
# no two are mirror images of each other, which a rotated copy would match.
MANDELBROT = [(-0.743643887, 0.131825904), (0.2750, 0.0070), (-1.250660, 0.020120),
              (-0.101096, 0.956286), (-1.768779, -0.001739), (0.001643, 0.822467),
              (0.360240, -0.641313), (0.375000, -0.216639), (-0.160700, 1.037600),
              (-0.235125, 0.827215)]  # fmt: skip
PALETTES = {  # height stops -> colour, as (height, r, g, b); water below stop 1
    "temperate": [(0.0, 20, 40, 90), (0.38, 40, 90, 140), (0.40, 194, 178, 128),
                  (0.43, 90, 140, 60), (0.60, 40, 90, 40), (0.75, 110, 95, 80),
                  (0.88, 150, 150, 150), (1.0, 245, 245, 250)],
    "desert": [(0.0, 60, 80, 90), (0.25, 90, 120, 120), (0.28, 220, 190, 140),
               (0.55, 200, 150, 90), (0.75, 160, 100, 60), (1.0, 110, 70, 50)],
    "arctic": [(0.0, 10, 30, 60), (0.35, 50, 90, 130), (0.37, 230, 235, 240),
               (0.6, 200, 210, 220), (0.8, 120, 120, 130), (1.0, 250, 250, 255)],
    "autumn": [(0.0, 20, 40, 70), (0.33, 40, 70, 100), (0.35, 150, 130, 90),
               (0.5, 190, 100, 30), (0.65, 140, 50, 20), (0.8, 90, 70, 50), (1.0, 200, 200, 190)],
}  # fmt: skip
TRANSFORMS: tuple[str, ...] = (
    "cut", "speed", "rotate 90", "rotate 180", "rotate 270", "mirror", "crop 9:16", "crop 4:5",
    "crf 35, 360p", "text overlay", "5% crop", "20% padding", "screen", "picture-in-picture",
    "split screen", "news layout", "screenshot still", "crop centre", "crop corner",
    "crop off-centre", "crop + mirror", "crop + rotate", "crop + caption", "screen re-film",
)  # fmt: skip
CROPS = ("crop centre", "crop corner", "crop off-centre", "crop + mirror", "crop + rotate",
         "crop + caption")  # fmt: skip
TINTS = [[1.0, 0.8, 0.55], [0.8, 0.9, 1.1], [1.0, 1.0, 1.0]]  # sodium lamps, moonlight, neutral
CAPTIONS = ["LIVE NOW", "Watch till the end", "This just happened", "Footage from today",
            "Unbelievable scenes tonight", "Share before it is deleted", "Drone view"]  # fmt: skip


def _ffmpeg(*args: str) -> None:
    subprocess.run([*FFMPEG, *args], check=True, capture_output=True, timeout=300)


def _duration(path: Path) -> float:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of",
                          "csv=p=0", str(path)], check=True, capture_output=True, text=True,
                         timeout=60)  # fmt: skip
    return float(out.stdout.strip())


def _noise(seed: int, size: int, octaves: int = 8, base: int = 4) -> NDArray[np.float32]:
    """Fractal value noise in [0, 1]: bicubic-upsampled random grids, halving per octave, each
    turned by a random angle so no grid axis shows."""
    gen = np.random.default_rng(seed)
    out = np.zeros((size, size), np.float32)
    big, cut = size * 3 // 2, size // 4
    for octave in range(octaves):
        n = base * 3 * 2**octave // 2 + 1
        grid = Image.fromarray(gen.standard_normal((n, n)).astype(np.float32), "F")
        layer = grid.resize((big, big), Image.Resampling.BICUBIC).rotate(gen.uniform(0, 360))
        out += 0.5**octave * np.asarray(layer)[cut : cut + size, cut : cut + size]
    return np.asarray((out - out.min()) / (out.max() - out.min()), np.float32)


def _terrain(seed: int, palette: str, size: int = 1536) -> Image.Image:
    """A coloured, hill-shaded height map, seen from above like a drone sees land; made at half
    size and upscaled, which is 4x cheaper and still finer than the flight looks at."""
    height = _noise(seed, size, octaves=7)
    stops = PALETTES[palette]
    rgb = np.stack([np.interp(height, [s[0] for s in stops], [s[c] for s in stops])
                    for c in (1, 2, 3)], axis=-1)  # fmt: skip
    gy, gx = np.gradient(np.maximum(height, stops[1][0]) * 250.0)  # water is flat
    angle = (seed % 360) * math.pi / 180
    shade = (1 - gx * math.cos(angle) - gy * math.sin(angle)) / np.sqrt(1 + gx**2 + gy**2)
    detail = _noise(seed + 1, size, octaves=3, base=64)
    rgb *= (0.45 + 0.6 * np.clip(shade, 0, 1.3))[..., None] * (0.8 + 0.4 * detail)[..., None]
    img = Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8))
    return img.resize((2 * size, 2 * size), Image.Resampling.BICUBIC)


def _sky(spec: Spec) -> Image.Image:
    """A blue or grey gradient with soft clouds: featureless footage that hashes alike. Made
    at half size: clouds are soft anyway."""
    size = 1200
    v = np.linspace(0, 1, size * 9 // 16, dtype=np.float32)[:, None, None]
    top, bottom = np.array(spec["top"], np.float32), np.array(spec["bottom"], np.float32)
    clouds = _noise(spec["seed"], size, octaves=6, base=3)[: size * 9 // 16, :, None]
    alpha = np.clip((clouds - spec["cover"]) / 0.3, 0, 1) ** 2 * 0.9
    shade = 200 + 55 * _noise(spec["seed"] + 1, size, octaves=5, base=6)[: size * 9 // 16, :, None]
    sky = (top + (bottom - top) * v) * (1 - alpha) + shade * alpha
    img = Image.fromarray(sky.astype(np.uint8))
    return img.resize((2 * img.width, 2 * img.height), Image.Resampling.BICUBIC)


def _still(spec: Spec) -> Image.Image:
    """The picture a clip is flown over, with any look (night, thermal) applied."""
    if spec["source"] == "terrain":
        img = _terrain(spec["seed"], spec["palette"])
    elif spec["source"] == "sky":
        img = _sky(spec)
    else:
        pixels = (PHOTOS | SPARE_PHOTOS)[spec["photo"]]()
        img = Image.fromarray(pixels.astype(np.uint8) if pixels.dtype != bool else pixels)
        img = img.convert("RGB")
        scale = max(1.0, 2000 / min(img.width, img.height * 16 / 9))
        size = (round(img.width * scale), round(img.height * scale))
        img = img.resize(size, Image.Resampling.LANCZOS)
    if spec.get("look") == "night":
        tint = np.array(spec["tint"], np.float32) * spec["brightness"]
        img = Image.fromarray((np.asarray(img, np.float32) * tint).astype(np.uint8))
    elif spec.get("look") == "thermal":
        grey = np.asarray(img.convert("L"), np.float32) / 255
        grey = (grey - grey.min()) / max(1e-6, float(grey.max() - grey.min()))
        grey = 1 - grey if spec["mode"] == "black-hot" else grey ** spec["gamma"]
        img = Image.fromarray((grey * 255).astype(np.uint8)).convert("RGB")
        img = img.filter(ImageFilter.GaussianBlur(spec["blur"] * max(img.size) / 600))
    return img


def _photo_path(spec: Spec, iw: int, ih: int) -> Iterator[Quad]:
    """A 16:9 window over the picture: moving centre, size (zoom), shake and roll."""
    for i in range(spec["frames"]):
        t, sec = i / (spec["frames"] - 1), i / FPS
        wobble = [math.sin(2 * math.pi * f * sec + p) for f, p in spec["shake_waves"]]
        angle = math.radians(spec["spin"] * t + spec["roll"] * wobble[2])
        ww = min(iw, ih * 16 / 9) * (spec["s0"] + (spec["s1"] - spec["s0"]) * t)
        ca, sa = abs(math.cos(angle)), abs(math.sin(angle))
        ex, ey = ww / 2 * ca + ww * 9 / 32 * sa, ww / 2 * sa + ww * 9 / 32 * ca
        shrink = min(1.0, iw / (2 * ex) / 1.02, ih / (2 * ey) / 1.02)
        ww, ex, ey = ww * shrink, ex * shrink, ey * shrink
        jx = spec["shake"] * ww * (wobble[0] + 0.5 * wobble[1])
        jy = spec["shake"] * ww * (wobble[1] + 0.5 * wobble[3])
        margin = 1.5 * spec["shake"] * ww  # the most the shake moves the window
        free_x, free_y = iw - 2 * (ex + margin), ih - 2 * (ey + margin)
        cx = ex + margin + free_x * (spec["x0"] + (spec["x1"] - spec["x0"]) * t) + jx
        cy = ey + margin + free_y * (spec["y0"] + (spec["y1"] - spec["y0"]) * t) + jy
        c, s, hw, hh = math.cos(angle), math.sin(angle), ww / 2, ww * 9 / 32
        yield [(cx + dx * c - dy * s, cy + dx * s + dy * c)
               for dx, dy in ((-hw, -hh), (hw, -hh), (hw, hh), (-hw, hh))]  # fmt: skip


def _flight_path(spec: Spec, iw: int, ih: int) -> Iterator[Quad]:
    """A drone flying forward over the map with the camera pitched down: the ground seen is a
    trapezoid (far edge wider), heading turning slowly, altitude breathing."""
    n, speed = spec["frames"], spec["speed"] / FPS
    mid = math.radians(spec["heading"] + spec["yaw"] / 2)
    travel = speed * n + spec["depth"]
    x, y = iw / 2 - math.cos(mid) * travel / 2, ih / 2 - math.sin(mid) * travel / 2
    for i in range(n):
        t = i / (n - 1)
        h = math.radians(spec["heading"] + spec["yaw"] * t)
        fx, fy, rx, ry = math.cos(h), math.sin(h), -math.sin(h), math.cos(h)
        alt = 1 + 0.08 * math.sin(2 * math.pi * t * spec["breath"] + spec["phase"])
        near, far, depth = spec["near"] * alt, spec["near"] * spec["ratio"] * alt, spec["depth"]
        fx2, fy2 = x + fx * depth * alt, y + fy * depth * alt
        yield [(fx2 - rx * far, fy2 - ry * far), (fx2 + rx * far, fy2 + ry * far),
               (x + rx * near, y + ry * near), (x - rx * near, y - ry * near)]  # fmt: skip
        x, y = x + fx * speed, y + fy * speed


def _coeffs(quad: Quad) -> tuple[float, ...]:
    """PIL's perspective coefficients taking the output frame's corners to `quad`."""
    rows, rhs = [], []
    for (x, y), (u, v) in zip([(0, 0), (W, 0), (W, H), (0, H)], quad, strict=True):
        rows += [[x, y, 1, 0, 0, 0, -u * x, -u * y], [0, 0, 0, x, y, 1, -v * x, -v * y]]
        rhs += [u, v]
    return tuple(float(c) for c in np.linalg.solve(np.array(rows, float), np.array(rhs, float)))


def _codec(spec: Spec) -> list[str]:
    gop = str(spec["gop"])
    if spec["codec"] == "hevc":
        return ["-c:v", "libx265", "-tag:v", "hvc1", "-preset", "veryfast", "-g", gop,
                "-x265-params", "log-level=error:scenecut=0", "-crf", "24"]  # fmt: skip
    return ["-c:v", "libx264", "-preset", "veryfast", "-g", gop, "-sc_threshold", "0",
            "-crf", "20"]  # fmt: skip


def _render(spec: Spec, dest: Path) -> None:
    """Frames made here are piped raw to the encoder; Mandelbrot zooms come from ffmpeg."""
    out = [*_codec(spec), "-pix_fmt", "yuv420p", "-an", "-movflags", "+faststart"]
    vf = ["-vf", spec["vf"]] if spec.get("vf") else []
    if spec["source"] == "mandelbrot":  # half size: the filter is single-threaded; end_pts
        # counts frames, not seconds
        src = (f"mandelbrot=s=480x270:r={FPS}:start_x={spec['x']}:start_y={spec['y']}"
               f":start_scale={spec['s0']}:end_scale={spec['s1']}:end_pts={spec['frames']}"
               ":maxiter=256:inner=black")  # fmt: skip
        _ffmpeg("-f", "lavfi", "-i", src, "-vf", f"scale={W}:{H}:flags=bicubic",
                "-frames:v", str(spec["frames"]), *out, str(dest))  # fmt: skip
        return
    img = _still(spec)
    path = _flight_path if spec["source"] == "terrain" else _photo_path
    argv = [*FFMPEG, "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{W}x{H}", "-r", str(FPS),
            "-i", "-", *vf, "-frames:v", str(spec["frames"]), *out, str(dest)]  # fmt: skip
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdin is not None
    for quad in path(spec, img.width, img.height):
        frame = img.transform((W, H), Image.Transform.PERSPECTIVE, _coeffs(quad),
                              Image.Resampling.BILINEAR)  # fmt: skip
        proc.stdin.write(frame.tobytes())
    _, err = proc.communicate(timeout=300)
    if proc.returncode:
        raise RuntimeError(f"ffmpeg failed for {dest.name}: {err.decode()[-500:]}")


def _timing(rng: random.Random, low: float = 8.0, high: float = 14.0) -> Spec:
    seconds = rng.uniform(low, high)
    frames = round(seconds * FPS)
    frames += 7 if frames % FPS == 0 else 0  # a whole number of seconds would be too tidy
    return {"frames": frames, "seconds": round(frames / FPS, 3), "gop": rng.randint(30, 60),
            "codec": "h264"}  # fmt: skip


def _motion(rng: random.Random, motion: str) -> Spec:
    """Camera moves with seeded parameters: handheld pan, drone zoom, sideways tracking."""
    u = rng.uniform
    waves = [(u(0.3, 2.5), u(0, 6.3)) for _ in range(4)]
    spec: Spec = {"motion": motion, "shake_waves": waves, "spin": 0.0}
    if motion == "handheld":
        x0, y0, s = u(0.2, 0.8), u(0.3, 0.7), u(0.55, 0.8)
        spec |= {"s0": s, "s1": s, "x0": x0, "x1": min(1, max(0, x0 + u(-0.35, 0.35))),
                 "y0": y0, "y1": y0 + u(-0.2, 0.2), "shake": u(0.003, 0.007),
                 "roll": u(0.2, 0.6)}  # fmt: skip
    elif motion == "zoom":
        s0 = u(0.82, 0.95)
        spec |= {"s0": s0, "s1": s0 * u(0.5, 0.7), "x0": u(0.4, 0.6), "x1": u(0.3, 0.7),
                 "y0": u(0.4, 0.6), "y1": u(0.3, 0.7), "shake": u(0.0005, 0.0015), "roll": 0.1,
                 "spin": u(-3, 3)}  # fmt: skip
    else:  # tracking
        x0, x1 = sorted((u(0.0, 0.15), u(0.85, 1.0)), reverse=rng.random() < 0.5)
        y, s = u(0.35, 0.65), u(0.55, 0.75)
        spec |= {"s0": s, "s1": s, "x0": x0, "x1": x1, "y0": y, "y1": y + u(-0.05, 0.05),
                 "shake": u(0.001, 0.003), "roll": u(0.1, 0.3)}  # fmt: skip
    return spec


def _flight(rng: random.Random, role: int) -> Spec:
    """A terrain flight; `role` keeps seeds of originals, look-alikes and filler disjoint."""
    u = rng.uniform
    return {"source": "terrain", "seed": rng.getrandbits(28) * 4 + role,
            "palette": rng.choice(sorted(PALETTES)), "heading": u(0, 360), "yaw": u(-25, 25),
            "speed": u(50, 90), "near": u(220, 320), "ratio": u(1.5, 2.0), "depth": u(500, 750),
            "breath": u(0.3, 1.2), "phase": u(0, 6.3)}  # fmt: skip


def _build(directory: Path, named: list[tuple[str, str, Spec]]) -> list[Clip]:
    """Renders what is not cached yet, two at a time in processes (threads serialise on
    the GIL while warping frames)."""
    directory.mkdir(parents=True, exist_ok=True)
    clips = []
    for name, kind, spec in named:
        digest = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:10]
        clips.append((Clip(name, directory / f"{name}-{digest}.mp4", kind), spec))

    missing = [(spec, clip.path) for clip, spec in clips if not clip.path.exists()]
    with ProcessPoolExecutor(2) as pool:
        list(pool.map(_make, *zip(*missing, strict=True)) if missing else [])
    return [clip for clip, _ in clips]


def _make(spec: Spec, path: Path) -> None:
    """Renders under a temporary name, so an interrupted build is never taken as cached."""
    part = path.with_suffix(".part.mp4")
    _render(spec, part)
    part.rename(path)


def original_names() -> list[str]:
    """Every source `originals` makes, by name, without making any."""
    return ([f"photo-{p}" for p in sorted(PHOTOS)] + [f"terrain-{i:02d}" for i in range(10)]
            + [f"mandelbrot-{i:02d}" for i in range(8)])  # fmt: skip


def lookalike_names() -> list[str]:
    return [f"{kind}-{i:02d}" for kind in ("sky", "night", "thermal", "lookalike-terrain")
            for i in range(6)]  # fmt: skip


def originals(
    directory: Path, rng: random.Random, only: Collection[str] | None = None
) -> list[Clip]:
    """34 distinct sources, 8-14 s at 960x540 30 fps: 16 photos with camera motion, 10 terrain
    flights, 8 Mandelbrot zooms; 4 of them HEVC. Cached by parameter digest. `only` builds just
    the named ones, with the same parameters as in the whole set."""
    named: list[tuple[str, str, Spec]] = []
    motions = (["handheld", "zoom", "tracking"] * 6)[: len(PHOTOS)]
    rng.shuffle(motions)
    for photo, motion in zip(sorted(PHOTOS), motions, strict=True):
        spec = {"source": "photo", "photo": photo, **_timing(rng), **_motion(rng, motion)}
        named.append((f"photo-{photo}", "photo", spec))
    for i in range(10):
        named.append((f"terrain-{i:02d}", "rendered", {**_timing(rng), **_flight(rng, 0)}))
    for i, (x, y) in enumerate(rng.sample(MANDELBROT, 8)):
        s0 = rng.uniform(0.03, 0.08)
        spec = {"source": "mandelbrot", "x": x, "y": y, "s0": round(s0, 5),
                "s1": round(s0 * rng.uniform(0.08, 0.2), 6), **_timing(rng)}  # fmt: skip
        named.append((f"mandelbrot-{i:02d}", "rendered", spec))
    for i in rng.sample(range(len(named)), 4):
        named[i][2]["codec"] = "hevc"
    return _build(directory, [n for n in named if only is None or n[0] in only])


def lookalikes(
    directory: Path, rng: random.Random, only: Collection[str] | None = None
) -> list[Clip]:
    """24 unrelated clips that look alike (sky, night, thermal-style grey, terrain from above):
    the false positives a matcher must not make. No scene is shared with an original. `only`
    builds just the named ones."""
    u = rng.uniform
    named: list[tuple[str, str, Spec]] = []
    for i in range(6):
        grey = rng.random() < 0.5
        top = [u(120, 150)] * 3 if grey else [u(40, 80), u(90, 130), u(180, 230)]
        bottom = [u(190, 220)] * 3 if grey else [u(150, 190), u(190, 215), u(225, 245)]
        spec = {"source": "sky", "seed": rng.getrandbits(28), "top": top, "bottom": bottom,
                "cover": u(0.35, 0.6), **_timing(rng), **_motion(rng, "tracking")}  # fmt: skip
        spec |= {"x0": 0.4, "x1": 0.4 + u(-0.25, 0.25), "shake": 0.0005}  # a slow drift
        named.append((f"sky-{i:02d}", "lookalike-sky", spec))
    sources: list[Spec] = [
        {"source": "photo", "photo": p} for p in ("gravel", "text", "colorwheel")
    ]
    sources += [_flight(rng, 2) for _ in range(3)]
    for i, source in enumerate(sources):  # dark footage: mostly sensor noise
        look = {"look": "night", "brightness": u(0.05, 0.15),
                "vf": f"noise=alls={rng.randint(6, 12)}:allf=t",
                "tint": rng.choice(TINTS)}  # fmt: skip
        spec = {**source, **look, **_timing(rng), **_motion(rng, "handheld")}
        named.append((f"night-{i:02d}", "lookalike-night", spec))
    sources = [{"source": "photo", "photo": p} for p in ("logo", "microaneurysms", "blobs")]
    sources += [_flight(rng, 2) for _ in range(3)]
    for i, source in enumerate(sources):
        look = {"look": "thermal", "mode": rng.choice(["white-hot", "black-hot"]),
                "gamma": u(1.5, 2.5), "blur": u(1.5, 3.5),
                "vf": f"format=gray,noise=alls={rng.randint(4, 10)}:allf=t"}  # fmt: skip
        spec = {**source, **look, **_timing(rng), **_motion(rng, "zoom")}
        named.append((f"thermal-{i:02d}", "lookalike-thermal", spec))
    for i in range(6):
        spec = {**_timing(rng), **_flight(rng, 1)}
        named.append((f"lookalike-terrain-{i:02d}", "lookalike-terrain", spec))
    return _build(directory, [n for n in named if only is None or n[0] in only])


def filler_clip(directory: Path, rng: random.Random) -> Path:
    """20 s of a terrain no original or look-alike uses: what a copy's frame is filled with
    (picture-in-picture, split screen)."""
    spec = {**_timing(rng, 20, 20), **_flight(rng, 3), "frames": 20 * FPS, "seconds": 20}
    return _build(directory, [("filler", "rendered", spec)])[0].path


def _crop(transform: str, rng: random.Random) -> tuple[str, Params]:
    """10-25 % of the frame's width and height cut away (centred, from a corner, or anywhere),
    scaled to a common size and re-encoded; then mirrored, turned or captioned."""
    u = rng.uniform
    keep = round(1 - u(0.10, 0.25), 3)
    spare = 1 - keep
    if transform == "crop centre":
        fx = fy = spare / 2
    elif transform == "crop corner":
        fx, fy = rng.choice([0.0, spare]), rng.choice([0.0, spare])
    else:
        fx, fy = u(0, spare), u(0, spare)
    size = rng.choice(["960:540", "640:360", "1280:720"])
    p: Params = {"keep": keep, "x": round(fx, 3), "y": round(fy, 3), "size": size}
    graph = (f"[0:v]crop=trunc(iw*{keep}/2)*2:trunc(ih*{keep}/2)*2:iw*{p['x']}:ih*{p['y']},"
             f"scale={size},setsar=1")  # fmt: skip
    if transform == "crop + mirror":
        graph += ",hflip"
    elif transform == "crop + rotate":
        p["turn"] = rng.choice(["transpose=1", "transpose=2", "hflip,vflip"])
        graph += f",{p['turn']}"
    elif transform == "crop + caption":
        p["caption"], p["fontsize"] = rng.choice(CAPTIONS), rng.randint(28, 56)
        graph += (f",drawtext=fontfile={FONT}:text='{p['caption']}':fontsize={p['fontsize']}"
                  ":fontcolor=white:box=1:boxcolor=black@0.55:boxborderw=12:x=(w-text_w)/2"
                  ":y=h-text_h-h*0.08")  # fmt: skip
    return graph + "[v]", p


def _tilted(yaw: float, pitch: float, roll: float, fill: float) -> list[int]:
    """The corners (x0:y0:x1:y1:x2:y2:x3:y3) where a W x H screen turned by these angles
    (degrees) lands in a W x H picture taken by a camera in front of it, the whole fitted into
    `fill` of the frame: the homography of filming a screen at an angle."""
    a, b, c = (math.radians(v) for v in (yaw, pitch, roll))
    ry = np.array([[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]])
    rx = np.array([[1, 0, 0], [0, math.cos(b), -math.sin(b)], [0, math.sin(b), math.cos(b)]])
    rz = np.array([[math.cos(c), -math.sin(c), 0], [math.sin(c), math.cos(c), 0], [0, 0, 1]])
    focal = 1.2 * W
    corners = np.array([[-W / 2, -H / 2, 0], [W / 2, -H / 2, 0], [-W / 2, H / 2, 0],
                        [W / 2, H / 2, 0]], float) @ (rz @ rx @ ry).T  # fmt: skip
    depth = corners[:, 2] + 1.6 * W
    xy = focal * corners[:, :2] / depth[:, None]
    span = xy.max(axis=0) - xy.min(axis=0)
    xy = (xy - xy.min(axis=0)) * min(fill * W / span[0], fill * H / span[1])
    xy += (np.array([W, H]) - (xy.max(axis=0) - xy.min(axis=0))) / 2
    return [round(float(v)) for v in xy.ravel()]


def _refilm(rng: random.Random, dest: Path) -> tuple[str, Params, int]:
    """Filmed off a laptop with a phone: the screen turned up to 20 degrees, a bezel and a dark
    room around it, the pixel grid's moire, a reflection's glare, soft focus, sensor noise, the
    phone's own exposure and a strong re-encode. Moire and glare are still images made here
    (seeded), blended over every frame."""
    u = rng.uniform
    yaw, pitch, roll = u(-20, 20), u(-12, 12), u(-4, 4)
    bezel = u(0.03, 0.07)
    p: Params = {"yaw": round(yaw, 2), "pitch": round(pitch, 2), "roll": round(roll, 2),
                 "fill": round(u(0.8, 0.97), 3), "bezel": round(bezel, 3),
                 "moire_period": round(u(2.2, 4.0), 2), "moire_angle": round(u(-0.3, 0.3), 3),
                 "moire_depth": round(u(0.06, 0.14), 3), "glare": round(u(0.15, 0.4), 3),
                 "glare_x": round(u(0.2, 0.8), 3), "glare_y": round(u(0.2, 0.8), 3),
                 "sigma": round(u(0.8, 1.8), 2), "noise": rng.randint(8, 18),
                 "crf": rng.randint(30, 34),
                 "size": rng.choice(["1280:720", "960:540"])}  # fmt: skip
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    turn, period = float(p["moire_angle"]), float(p["moire_period"])
    wave = np.sin(2 * math.pi * (xx * math.cos(turn) + yy * math.sin(turn)) / period)
    beat = np.sin(2 * math.pi * (xx * math.sin(turn) - yy * math.cos(turn)) / (period * 1.07))
    moire = 255 * (1 - float(p["moire_depth"]) * (0.5 + 0.25 * (wave + beat)))
    Image.fromarray(moire.astype(np.uint8)).convert("RGB").save(dest.with_suffix(".moire.png"))
    gx, gy = float(p["glare_x"]) * W, float(p["glare_y"]) * H
    spot = np.exp(-((xx - gx) ** 2 + (yy - gy) ** 2) / (2 * (0.22 * W) ** 2))
    glow = float(p["glare"]) * 255 * spot
    Image.fromarray(glow.astype(np.uint8)).convert("RGB").save(dest.with_suffix(".glare.png"))
    sw, sh = 2 * round(W * (1 - 2 * bezel) / 2), 2 * round(H * (1 - 2 * bezel) / 2)
    corners = ":".join(map(str, _tilted(yaw, pitch, roll, float(p["fill"]))))
    graph = (f"[0:v]scale={sw}:{sh},setsar=1,pad={W}:{H}:(ow-iw)/2:(oh-ih)/2:color=0x141414,"
             "format=rgb24[s];[1:v]format=rgb24[m];[s][m]blend=all_mode=multiply,"
             f"perspective={corners}:sense=destination,format=rgb24[w];[2:v]format=rgb24[g];"
             f"[w][g]blend=all_mode=screen,gblur=sigma={p['sigma']},"
             f"noise=alls={p['noise']}:allf=t,eq=contrast=0.9:brightness=0.02,"
             f"scale={p['size']},format=yuv420p[v]")  # fmt: skip
    return graph, p, int(p["crf"])


def _graph(transform: str, rng: random.Random, seconds: float) -> tuple[str, Params, int]:
    """The filter graph ([0:v] the original, [1:v] the filler, [v] out), its random parameters
    and the CRF to encode with."""
    u, p = rng.uniform, Params()
    fill = f"[1:v]scale={W}:{H},setsar=1,trim=duration={seconds},setpts=PTS-STARTPTS"
    if transform in CROPS:
        graph, p = _crop(transform, rng)
        return graph, p, 23
    if transform == "cut":
        start = round(u(0.3, 4.7), 3)
        p = {"start": start, "length": min(round(u(3.0, 6.0), 3), round(seconds - start, 3))}
        return f"[0:v]trim=start={start}:duration={p['length']},setpts=PTS-STARTPTS[v]", p, 23
    if transform == "speed":
        p = {"speed": round(u(0.75, 1.5), 3), "start": round(u(0.0, 1.5), 3)}
        return (f"[0:v]trim=start={p['start']},setpts=(PTS-STARTPTS)/{p['speed']},fps={FPS}[v]",
                p, 23)  # fmt: skip
    if transform in ("rotate 90", "rotate 180", "rotate 270", "mirror"):
        turn = {"rotate 90": "transpose=1", "rotate 180": "hflip,vflip",
                "rotate 270": "transpose=2", "mirror": "hflip"}[transform]  # fmt: skip
        return f"[0:v]{turn}[v]", p, 23
    if transform in ("crop 9:16", "crop 4:5"):
        ratio, sizes = {"crop 9:16": ("9/16", ["540x960", "720x1280"]),
                        "crop 4:5": ("4/5", ["864x1080", "432x540"])}[transform]  # fmt: skip
        size = p["size"] = rng.choice(sizes)
        return f"[0:v]crop=ih*{ratio}:ih,scale={size.replace('x', ':')},setsar=1[v]", p, 23
    if transform == "crf 35, 360p":
        return "[0:v]scale=-2:360,fps=25[v]", p, 35
    if transform == "text overlay":
        p = {"caption": rng.choice(CAPTIONS), "fontsize": rng.randint(36, 64),
             "band": rng.choice(["top", "bottom"])}  # fmt: skip
        at = "h*0.06" if p["band"] == "top" else "h-text_h-h*0.08"
        return (f"[0:v]drawtext=fontfile={FONT}:text='{p['caption']}':fontsize={p['fontsize']}"
                f":fontcolor=white:box=1:boxcolor=black@0.55:boxborderw=14:x=(w-text_w)/2:y={at}[v]",
                p, 23)  # fmt: skip
    if transform == "5% crop":
        p = {"jitter_x": round(u(-0.01, 0.01), 4), "jitter_y": round(u(-0.01, 0.01), 4)}
        return (f"[0:v]crop=trunc(iw*0.95/2)*2:trunc(ih*0.95/2)*2:(iw-ow)/2+{p['jitter_x']}*iw"
                f":(ih-oh)/2+{p['jitter_y']}*ih[v]", p, 23)  # fmt: skip
    if transform == "20% padding":
        f = p["factor"] = round(u(1.2, 1.25), 3)
        return f"[0:v]pad=trunc(iw*{f}/2)*2:trunc(ih*{f}/2)*2:(ow-iw)/2:(oh-ih)/2:black[v]", p, 23
    if transform == "screen":  # filmed off a monitor: smaller, keystoned, soft, grainy, flat
        scale, grey = u(0.6, 0.8), rng.randint(6, 16)
        sw, sh = 2 * round(W * scale / 2), 2 * round(H * scale / 2)
        x, y = round(u(0.3, 0.7) * (W - sw)), round(u(0.3, 0.7) * (H - sh))
        corners = [
            round(c + rng.choice([-1, 1]) * u(0.02, 0.06) * size)
            for c, size in zip((0, 0, W, 0, 0, H, W, H), (W, H) * 4, strict=True)
        ]
        p = {
            "scale": round(scale, 3),
            "x": x,
            "y": y,
            "corners": str(corners),
            "sigma": round(u(0.8, 1.6), 2),
            "noise": rng.randint(10, 20),
            "contrast": round(u(0.8, 0.95), 3),
            "brightness": round(u(-0.05, 0.05), 3),
        }
        return (
            f"color=c=0x{grey:02x}{grey:02x}{grey + 3:02x}:s={W}x{H}:r={FPS}[bg];"
            f"[0:v]scale={sw}:{sh},setsar=1[s];[bg][s]overlay={x}:{y}:shortest=1,"
            f"perspective={':'.join(map(str, corners))}:sense=destination,"
            f"gblur=sigma={p['sigma']},noise=alls={p['noise']}:allf=t,"
            f"eq=contrast={p['contrast']}:brightness={p['brightness']}[v]",
            p,
            28,
        )
    if transform == "picture-in-picture":
        width = 2 * round(W * u(0.4, 0.5) / 2)
        height, corner = 2 * round(width * 9 / 32), rng.choice(["top", "bottom"]) + "-"
        corner += rng.choice(["left", "right"])
        mx, my = round(W * u(0.02, 0.04)), round(H * u(0.02, 0.04))
        x = mx if "left" in corner else W - width - mx
        y = my if "top" in corner else H - height - my
        p = {"scale": round(width / W, 4), "corner": corner, "margin_x": mx, "margin_y": my}
        return (
            f"{fill}[bg];[0:v]scale={width}:{height},setsar=1[fg];"
            f"[bg][fg]overlay={x}:{y}:shortest=1[v]",
            p,
            23,
        )
    if transform == "split screen":  # 2-4 tiles; the original fills one at half size
        tiles = rng.choice([2, 3, 4])
        p = {"tiles": tiles, "at": rng.randrange(tiles)}
        if tiles == 2:
            pair = "[a][b]" if p["at"] == 0 else "[b][a]"
            return (f"[0:v]scale=480:270,setsar=1,pad=480:540:0:135[a];"
                    f"{fill},crop=480:540:240:0[b];{pair}hstack=shortest=1[v]", p, 23)  # fmt: skip
        # The other tiles are other parts of the filler, as another clip would be.
        others = [f"[f{n}]crop=480:270:{(n * 240) % 480}:{(n * 135) % 270}[o{n}]"
                  for n in range(tiles - 1)]  # fmt: skip
        names = [f"[o{n}]" for n in range(tiles - 1)]
        names.insert(int(p["at"]), "[a]")
        split = f"{fill},split={tiles - 1}" + "".join(f"[f{n}]" for n in range(tiles - 1))
        head = f"[0:v]scale=480:270,setsar=1[a];{split};{';'.join(others)};"
        if tiles == 4:
            grid = "xstack=inputs=4:layout=0_0|w0_0|0_h0|w0_h0:shortest=1[v]"
            return head + "".join(names) + grid, p, 23
        # three: the original's column is two tiles high (padded), the others stacked
        return (head + "".join(names)
                + "xstack=inputs=3:layout=0_0|w0_0|w0_h0:fill=black:shortest=1,"
                f"scale={W}:{H}[v]", p, 23)  # fmt: skip
    if transform == "news layout":  # on air: footage boxed on dark blue, lower third, ticker
        width, side = 2 * round(W * u(0.6, 0.7) / 2), rng.choice(["left", "right"])
        p = {
            "scale": round(width / W, 4),
            "side": side,
            "headline": rng.choice(["BREAKING NEWS", "DEVELOPING STORY", "EXCLUSIVE FOOTAGE"]),
        }
        text = f"drawtext=fontfile={FONT}:fontcolor"
        return (f"color=c=0x0b1e4a:s={W}x{H}:r={FPS}[bg];[0:v]scale={width}:-2,setsar=1[n];"
                f"[bg][n]overlay={24 if side == 'left' else W - width - 24}:24:shortest=1,"
                "drawbox=x=0:y=ih*0.76:w=iw:h=ih*0.13:color=0xc8102e@1:t=fill,"
                f"{text}=white:text='{p['headline']}':fontsize=34:x=28"
                ":y=h*0.76+(h*0.13-text_h)/2,drawbox=x=0:y=ih*0.89:w=iw:h=ih*0.11"
                f":color=0xf0f0f0@1:t=fill,{text}=0x101010:fontsize=22:y=h*0.89+(h*0.11-text_h)/2"
                ":text='Officials have not confirmed the details   Markets close higher   "
                "Weather warning for the coast':x='w-mod(t*150,w+tw)',"
                f"{text}=white:text='LIVE':fontsize=28:box=1:boxcolor=0xc8102e:boxborderw=8"
                f":x={W - 110 if side == 'left' else 30}:y=40[v]", p, 23)  # fmt: skip
    raise ValueError(f"unknown transform {transform!r}")


def make_copy(
    original: Clip, transform: str, dest: Path, rng: random.Random, filler: Path
) -> Params:
    """Writes `original` through `transform` to dest (H.264 mp4, or a .jpg for "screenshot
    still") and returns the random parameters used, with "path", so they can be printed."""
    seconds = _duration(original.path)
    if transform == "screenshot still":
        at, dest = round(rng.uniform(0.3, seconds - 0.3), 3), dest.with_suffix(".jpg")
        _ffmpeg("-ss", str(at), "-i", str(original.path), "-frames:v", "1", "-q:v", "3",
                str(dest))  # fmt: skip
        return {"at": at, "path": str(dest)}
    if transform == "screen re-film":
        graph, params, crf = _refilm(rng, dest)
        inputs = ["-loop", "1", "-i", str(dest.with_suffix(".moire.png")), "-loop", "1",
                  "-i", str(dest.with_suffix(".glare.png"))]  # fmt: skip
        _ffmpeg("-i", str(original.path), *inputs, "-filter_complex", graph, "-map", "[v]",
                "-t", str(seconds), "-c:v", "libx264", "-preset", "veryfast", "-crf", str(crf),
                "-pix_fmt", "yuv420p", "-an", "-movflags", "+faststart", str(dest))  # fmt: skip
        return params | {"path": str(dest)}
    graph, params, crf = _graph(transform, rng, seconds)
    filler_input = ["-stream_loop", "-1", "-i", str(filler)] if "[1:v]" in graph else []
    _ffmpeg("-i", str(original.path), *filler_input, "-filter_complex", graph, "-map", "[v]",
            "-c:v", "libx264", "-preset", "veryfast", "-crf", str(crf), "-pix_fmt", "yuv420p",
            "-an", "-movflags", "+faststart", str(dest))  # fmt: skip
    return params | {"path": str(dest)}


if __name__ == "__main__":
    started = time.monotonic()
    base = Path("/tmp/corpus-demo/seed1")  # noqa: S108 - a demo anyone may look at
    rng = random.Random(1)
    made = originals(base / "originals", rng)
    print(f"{len(made)} originals after {time.monotonic() - started:.1f} s")
    looks = lookalikes(base / "lookalikes", rng)
    print(f"{len(looks)} look-alikes after {time.monotonic() - started:.1f} s")
    filler = filler_clip(base, rng)
    print(f"filler {filler.name} after {time.monotonic() - started:.1f} s")
    for original in made[:2]:
        for transform in TRANSFORMS:
            slug = transform.replace(" ", "-").replace(":", "x").replace(",", "").replace("%", "pc")
            dest = base / "copies" / original.name / f"{slug}.mp4"
            dest.parent.mkdir(parents=True, exist_ok=True)
            began, seeded = time.monotonic(), random.Random(f"1/{original.name}/{transform}")
            got = make_copy(original, transform, dest, seeded, filler)
            print(f"{original.name:18} {transform:18} {time.monotonic() - began:5.2f} s  {got}")
    print(f"done after {time.monotonic() - started:.1f} s")
