"""Consistency flags: where the file's own record disagrees with the unit's claim, or is
missing. Pure functions of the facts, so the worker and `mvq analyze` raise the same flags."""

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

EARTH_RADIUS_KM = 6371.0
CONSISTENCY_KINDS = ("no_capture_time", "capture_time_mismatch", "location_mismatch", "reencoded")


@dataclass(frozen=True)
class Claim:
    occurred_at: datetime | None
    lat: float | None
    lon: float | None


def distance_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle (haversine) distance."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (math.sin((lat2 - lat1) / 2) ** 2
         + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2)  # fmt: skip
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(h))


def _as_time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        return datetime.fromisoformat(value)
    return None


def capture_time(facts: dict[str, Any]) -> tuple[datetime | None, str | None]:
    captured = _as_time(facts.get("captured_at"))
    if captured is not None:
        return captured, "file metadata"
    telemetry = facts.get("telemetry") or {}
    started = _as_time(telemetry.get("start"))
    return (started, f"telemetry ({telemetry.get('source')})") if started else (None, None)


def position(facts: dict[str, Any]) -> tuple[tuple[float, float] | None, str | None]:
    if facts.get("lat") is not None and facts.get("lon") is not None:
        return (float(facts["lat"]), float(facts["lon"])), "file metadata"
    first = (facts.get("telemetry") or {}).get("first_position")
    return ((float(first[0]), float(first[1])), "telemetry") if first else (None, None)


def consistency_flags(
    facts: dict[str, Any], claim: Claim, *, tolerance_minutes: float, tolerance_km: float
) -> list[tuple[str, dict[str, Any]]]:
    flags: list[tuple[str, dict[str, Any]]] = []
    captured, time_source = capture_time(facts)
    if captured is None:
        flags.append(("no_capture_time", {"looked_in": ["container tags", "EXIF", "telemetry"]}))
    elif claim.occurred_at is not None:
        minutes = abs((captured - claim.occurred_at).total_seconds()) / 60
        if minutes > tolerance_minutes:
            flags.append(("capture_time_mismatch", {
                "captured_at": captured.isoformat(), "claimed_at": claim.occurred_at.isoformat(),
                "difference_minutes": round(minutes, 1), "tolerance_minutes": tolerance_minutes,
                "source": time_source}))  # fmt: skip
    where, place_source = position(facts)
    if where is not None and claim.lat is not None and claim.lon is not None:
        km = distance_km(where, (claim.lat, claim.lon))
        if km > tolerance_km:
            flags.append(("location_mismatch", {
                "file_position": list(where), "claimed_position": [claim.lat, claim.lon],
                "distance_km": round(km, 2), "tolerance_km": tolerance_km,
                "source": place_source}))  # fmt: skip
    if facts.get("reencode_signals"):
        flags.append(("reencoded", {"signals": facts["reencode_signals"],
                                    "encoder": facts.get("encoder")}))  # fmt: skip
    return flags
