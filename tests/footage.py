"""Real test footage, made from real photos shipped with scikit-image: a slow pan and zoom
over a photo, encoded like a phone clip. Synthetic test patterns hash alike and prove little."""

import subprocess
from pathlib import Path

from PIL import Image
from skimage import data

PHOTOS = {
    "astronaut": data.astronaut,
    "coffee": data.coffee,
    "chelsea": data.chelsea,
    "rocket": data.rocket,
    "motorcycle_left": lambda: data.stereo_motorcycle()[0],
}


def photo(name: str, dest: Path) -> Path:
    Image.fromarray(PHOTOS[name]()).save(dest, quality=92)
    return dest


def clip(
    name: str, dest: Path, *, seconds: float = 4, size: str = "640x360", lossless: bool = False
) -> Path:
    """`lossless` makes a large file from a short clip (about 6 MB/s at 720p): multipart tests."""
    still = photo(name, dest.with_suffix(".src.jpg"))
    frames = int(seconds * 25)
    pan = (
        "zoompan=z='min(zoom+0.0015,1.3)':x='iw/2-(iw/zoom/2)':y='ih/2-(ih/zoom/2)'"
        f":d={frames}:s={size}:fps=25"
    )
    quality = ["-qp", "0", "-preset", "ultrafast"] if lossless else ["-preset", "veryfast"]
    argv = ["ffmpeg", "-nostdin", "-v", "error", "-y", "-loop", "1", "-i", str(still),
            "-vf", pan, "-t", str(seconds), "-c:v", "libx264", *quality,
            "-pix_fmt", "yuv420p", "-movflags", "+faststart", str(dest)]  # fmt: skip
    subprocess.run(argv, check=True, capture_output=True, timeout=120)
    return dest
