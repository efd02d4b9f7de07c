"""Static files made at install: named by their content's hash, gzipped beside, served with a
year's immutable Cache-Control and the gzip copy to a browser that takes it; a file edited
after the build is served by its plain name, never as the old copy."""

import gzip
from pathlib import Path

from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.testclient import TestClient

from web.static_build import build, hashed_name
from web.static_files import YEAR, HashedStatic, read_manifest

SCRIPT = b"// a script long enough to be worth packing\n" + b"console.log('mvq');\n" * 100


def _site(tmp_path: Path) -> tuple[Path, Path, dict[str, str]]:
    source, out = tmp_path / "static", tmp_path / "built"
    (source / "vendor").mkdir(parents=True)
    (source / "upload.js").write_bytes(SCRIPT)
    (source / "vendor" / "tiny.css").write_bytes(b"a{}")
    return source, out, build(source, out)


def test_names_carry_the_content_hash_and_big_text_is_gzipped(tmp_path: Path) -> None:
    source, out, manifest = _site(tmp_path)
    assert manifest["upload.js"] == hashed_name("upload.js", SCRIPT) != "upload.js"
    assert manifest["upload.js"].startswith("upload.") and manifest["upload.js"].endswith(".js")
    assert manifest["vendor/tiny.css"].startswith("vendor/tiny.")
    packed = out / (manifest["upload.js"] + ".gz")
    assert gzip.decompress(packed.read_bytes()) == SCRIPT
    assert not (out / (manifest["vendor/tiny.css"] + ".gz")).exists()  # too small to gain
    assert build(source, tmp_path / "again") == manifest  # the same bytes, the same names


def test_hashed_names_are_cached_a_year_and_sent_packed(tmp_path: Path) -> None:
    source, out, manifest = _site(tmp_path)
    app = Starlette(routes=[Mount("/static", HashedStatic(source, out))])
    client = TestClient(app)
    hashed = client.get(f"/static/{manifest['upload.js']}", headers={"Accept-Encoding": "gzip"})
    assert hashed.status_code == 200 and hashed.content == SCRIPT
    assert hashed.headers["cache-control"] == YEAR
    assert hashed.headers["content-encoding"] == "gzip"
    assert hashed.headers["content-type"].startswith("text/javascript")
    raw = client.get(f"/static/{manifest['upload.js']}", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in raw.headers and raw.content == SCRIPT
    plain = client.get("/static/upload.js")
    assert plain.status_code == 200 and plain.headers["cache-control"] == "no-cache"


def test_a_file_edited_after_the_build_loses_its_hashed_name(tmp_path: Path) -> None:
    source, out, manifest = _site(tmp_path)
    (source / "upload.js").write_bytes(SCRIPT + b"// edited\n")
    assert "upload.js" not in read_manifest(source, out)
    assert read_manifest(source, out)["vendor/tiny.css"] == manifest["vendor/tiny.css"]
    app = Starlette(routes=[Mount("/static", HashedStatic(source, out))])
    stale = TestClient(app).get(f"/static/{manifest['upload.js']}")
    assert stale.status_code == 404  # never the old bytes under a year's cache


def test_the_map_outline_is_served_packed_as_json(tmp_path: Path) -> None:
    # The position map's offline base layer (vendor/countries-land-10km-*): a fetch() of JSON,
    # a quarter of its size over the wire.
    source = Path("web/static")
    plain = "vendor/countries-land-10km-0.6.0/region.geo.json"
    manifest = build(source, tmp_path / "built")
    assert manifest[plain].endswith(".json")
    app = Starlette(routes=[Mount("/static", HashedStatic(source, tmp_path / "built"))])
    sent = TestClient(app).get(f"/static/{manifest[plain]}", headers={"Accept-Encoding": "gzip"})
    assert sent.headers["content-type"].startswith("application/json")
    assert sent.headers["content-encoding"] == "gzip"
    assert int(sent.headers["content-length"]) < (source / plain).stat().st_size / 3
