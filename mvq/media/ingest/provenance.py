"""C2PA content credentials: valid, invalid or absent (c2pa-python, the CAI's reader)."""

import json
from pathlib import Path
from typing import Any

import c2pa

MIME = {"mp4": "video/mp4", "jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp",
        "avi": "video/avi"}  # fmt: skip


def c2pa_status(path: Path, container: str) -> dict[str, Any]:
    mime = MIME.get(container)
    if mime is None:
        return {"status": "absent", "detail": f"C2PA is not defined for {container}"}
    try:
        with path.open("rb") as fh, c2pa.Reader(mime, fh) as reader:
            manifest = json.loads(reader.json())
    except c2pa.C2paError as exc:
        if "ManifestNotFound" in type(exc).__name__ or "no JUMBF" in str(exc):
            return {"status": "absent"}
        return {"status": "invalid", "detail": str(exc)[:300]}
    state = manifest.get("validation_state")
    problems = [s.get("code") for s in manifest.get("validation_status") or []]
    active = manifest.get("manifests", {}).get(manifest.get("active_manifest", ""), {})
    return {
        "status": "valid" if state in ("Valid", "Trusted") else "invalid",
        "state": state,
        "problems": problems[:20],
        "claim_generator": active.get("claim_generator"),
        "issuer": (active.get("signature_info") or {}).get("issuer"),
    }
