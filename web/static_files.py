"""/static: the install's hashed files (web/static_build.py) cached for a year, the plain
names as they are in web/static, asked again each time.

`asset("upload.js")` gives the hashed path while a build exists, else the plain one: a fresh
clone without `make static` still works, only its files are not cached. The gzip copy is sent
to a browser that accepts it, made at install: nothing is compressed per request."""

import json
import mimetypes
from functools import lru_cache
from pathlib import Path

from starlette.datastructures import Headers
from starlette.responses import FileResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from web.static_build import BUILT, MANIFEST, SOURCE, hashed_name

YEAR = "public, max-age=31536000, immutable"
# The plain names may change under the same URL (a deploy): the browser asks each time, and
# a 304 saves the bytes.
PLAIN = "no-cache"


def read_manifest(source: Path = SOURCE, built: Path = BUILT) -> dict[str, str]:
    """The build's names still true to `source`: a file edited since `make static` is
    served by its plain name (never a year-cached old copy), until the next build."""
    try:
        names = dict(json.loads((built / MANIFEST).read_text()))
    except (OSError, ValueError):
        return {}
    current = {}
    for plain, hashed in names.items():
        file = source / plain
        if file.is_file() and hashed_name(plain, file.read_bytes()) == hashed:
            current[plain] = hashed
    return current


@lru_cache(maxsize=1)
def manifest() -> dict[str, str]:
    return read_manifest()


def asset(path: str) -> str:
    """The path under /static to load `path` by: hashed when the install built it."""
    return manifest().get(path, path)


class HashedStatic(StaticFiles):
    def __init__(self, source: Path = SOURCE, built: Path = BUILT) -> None:
        super().__init__(directory=source)
        self.built = built
        self.hashed = set(read_manifest(source, built).values())

    async def get_response(self, path: str, scope: Scope) -> Response:
        if path in self.hashed:
            return self._hashed(path, scope)
        response = await super().get_response(path, scope)
        response.headers.setdefault("Cache-Control", PLAIN)
        return response

    def _hashed(self, path: str, scope: Scope) -> Response:
        media_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
        if media_type.startswith("text/") or media_type.endswith(("javascript", "json", "svg+xml")):
            media_type += "; charset=utf-8"
        headers = {"Cache-Control": YEAR, "Vary": "Accept-Encoding"}
        file = self.built / path
        packed = file.with_name(file.name + ".gz")
        accepts = Headers(scope=scope).get("accept-encoding", "")
        if "gzip" in accepts and packed.is_file():
            headers["Content-Encoding"] = "gzip"
            file = packed
        return FileResponse(file, media_type=media_type, headers=headers)
