"""Static files made ready at install (`make static`, run by `make install`), not per request:
each file under web/static is copied to web/.static-build/ under a name holding its content's
hash (`upload.js` → `upload.3f2a1b9c0d.js`), with a gzip copy beside it when that is smaller,
and a manifest mapping the plain names to the hashed ones.

A hashed name never changes its bytes, so the site serves it with a year's Cache-Control and
`immutable` (web/static_files.py): a returning phone asks for none of them again, and a
deploy that changes a file changes its name. gzip rather than brotli: the standard library
makes it, and Python's brotli is one more native dependency for a few percent."""

import gzip
import hashlib
import json
import shutil
import sys
from pathlib import Path

SOURCE = Path(__file__).parent / "static"
BUILT = Path(__file__).parent / ".static-build"
MANIFEST = "manifest.json"
# Already compressed, or too small to gain from it.
_STORED = {".png", ".jpg", ".jpeg", ".gif", ".webp", ".woff", ".woff2", ".gz", ".br", ".mp4"}
_SMALLEST = 512


def hashed_name(path: str, data: bytes) -> str:
    digest = hashlib.sha256(data).hexdigest()[:12]
    stem, dot, suffix = path.rpartition(".")
    if not dot or "/" in suffix:  # no suffix: the hash goes last
        return f"{path}.{digest}"
    return f"{stem}.{digest}.{suffix}"


def build(source: Path = SOURCE, out: Path = BUILT) -> dict[str, str]:
    """Writes `out` afresh; returns the manifest (plain path → hashed path)."""
    staging = out.with_name(out.name + ".new")
    shutil.rmtree(staging, ignore_errors=True)
    manifest: dict[str, str] = {}
    for file in sorted(p for p in source.rglob("*") if p.is_file()):
        rel = file.relative_to(source).as_posix()
        data = file.read_bytes()
        name = hashed_name(rel, data)
        target = staging / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        if file.suffix.lower() not in _STORED and len(data) >= _SMALLEST:
            # mtime=0: the same file gives the same bytes on every install.
            packed = gzip.compress(data, compresslevel=9, mtime=0)
            if len(packed) < len(data):
                target.with_name(target.name + ".gz").write_bytes(packed)
        manifest[rel] = name
    (staging / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))
    shutil.rmtree(out, ignore_errors=True)
    staging.rename(out)
    return manifest


if __name__ == "__main__":
    made = build()
    print(f"static: {len(made)} files hashed and compressed into {BUILT}", file=sys.stderr)
