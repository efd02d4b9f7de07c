"""Consistency flags: where the file's own record disagrees with the unit's claim, or is
missing. Pure functions of the facts, so the worker and `mvq analyze` raise the same flags."""

import math
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from mvq.settings import Settings

EARTH_RADIUS_KM = 6371.0
CONSISTENCY_KINDS = ("no_capture_time", "capture_time_mismatch", "location_mismatch", "reencoded",
                     "osd_mismatch")  # fmt: skip
DAY_MINUTES = 24 * 60


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
    if started is not None:
        return started, f"telemetry ({telemetry.get('source')})"
    overlay = facts.get("osd") or {}
    shown = _as_time(overlay.get("start")) if overlay.get("time_confirmed") else None
    return (shown, "osd") if shown else (None, None)


def position(facts: dict[str, Any]) -> tuple[tuple[float, float] | None, str | None]:
    if facts.get("lat") is not None and facts.get("lon") is not None:
        return (float(facts["lat"]), float(facts["lon"])), "file metadata"
    first = (facts.get("telemetry") or {}).get("first_position")
    if first:
        return (float(first[0]), float(first[1])), "telemetry"
    shown = facts.get("osd") or {}
    if shown.get("place_confirmed") and shown.get("lat") is not None:
        return (float(shown["lat"]), float(shown["lon"])), "osd"
    return None, None


@dataclass(frozen=True)
class OsdRule:
    """How far the picture's overlay may sit from the claim (settings.osd_*)."""

    tolerance_minutes: float
    tolerance_km: float
    clock_offsets_hours: tuple[float, ...]

    @classmethod
    def of(cls, settings: Settings) -> "OsdRule":
        return cls(settings.osd_tolerance_minutes, settings.osd_tolerance_km,
                   settings.osd_clock_offsets_hours)  # fmt: skip


def _circular_minutes(a: time, b: time) -> float:
    apart = abs((a.hour * 60 + a.minute + a.second / 60) - (b.hour * 60 + b.minute + b.second / 60))
    return min(apart, DAY_MINUTES - apart)


def osd_time_apart(
    osd: dict[str, Any], claimed: datetime, offsets_hours: tuple[float, ...]
) -> tuple[float, float] | None:
    """(minutes, UTC offset in hours) between the overlay's first moment and the claimed time,
    read in the zone that brings them closest: the overlay's own when it shows one. A clock
    without a date is compared by the time of day alone. None when the overlay shows no time."""
    local, clock = osd.get("start_local"), osd.get("start_clock")
    if not (local or clock):
        return None
    shown = osd.get("utc_offset_minutes")
    offsets = (shown / 60,) if shown is not None else offsets_hours
    claimed_utc = (claimed - (claimed.utcoffset() or timedelta())).replace(tzinfo=None)
    tries = []
    for hours in offsets:
        claimed_local = claimed_utc + timedelta(hours=hours)
        if local:
            minutes = abs((datetime.fromisoformat(local) - claimed_local).total_seconds()) / 60
        else:
            minutes = _circular_minutes(time.fromisoformat(str(clock)), claimed_local.time())
        tries.append((minutes, hours))
    return min(tries)


def osd_mismatch(osd: dict[str, Any], claim: Claim, rule: OsdRule) -> dict[str, Any] | None:
    """Evidence when the overlay's time or place disagrees with the claim beyond the rule;
    only what two stills confirm counts (osd.summarise), so one misread raises nothing."""
    evidence: dict[str, Any] = {
        "source": "osd", "frame_index": osd.get("frame_index"), "t_seconds": osd.get("t_seconds"),
        "text": osd.get("text"), "disagrees": []}  # fmt: skip
    apart = None
    if claim.occurred_at is not None and osd.get("time_confirmed"):
        apart = osd_time_apart(osd, claim.occurred_at, rule.clock_offsets_hours)
    if apart is not None and claim.occurred_at is not None and apart[0] > rule.tolerance_minutes:
        shown = osd.get("shown") or {}
        evidence["disagrees"].append("time")
        evidence |= {"osd_time": " ".join(v for v in (shown.get("date"), shown.get("time")) if v),
                     "claimed_at": claim.occurred_at.isoformat(), "dated": bool(osd.get("dated")),
                     "difference_minutes": round(apart[0], 1),
                     "read_at_utc_offset_hours": apart[1],
                     "tolerance_minutes": rule.tolerance_minutes}  # fmt: skip
    placed = osd.get("place_confirmed") and osd.get("lat") is not None
    if placed and claim.lat is not None and claim.lon is not None:
        where = (float(osd["lat"]), float(osd["lon"]))
        km = distance_km(where, (claim.lat, claim.lon))
        if km > rule.tolerance_km:
            evidence["disagrees"].append("place")
            evidence |= {"osd_position": list(where), "claimed_position": [claim.lat, claim.lon],
                         "position_format": osd.get("position_format"),
                         "distance_km": round(km, 2),
                         "tolerance_km": rule.tolerance_km}  # fmt: skip
    return evidence if evidence["disagrees"] else None


def consistency_flags(
    facts: dict[str, Any],
    claim: Claim,
    *,
    tolerance_minutes: float,
    tolerance_km: float,
    osd_rule: OsdRule,
) -> list[tuple[str, dict[str, Any]]]:
    """The overlay's own time and place are checked once, as osd_mismatch, even where they
    stand in for the file's missing ones."""
    flags: list[tuple[str, dict[str, Any]]] = []
    captured, time_source = capture_time(facts)
    if captured is None:
        flags.append(("no_capture_time", {"looked_in": ["container tags", "EXIF", "telemetry",
                                                        "on-screen display"]}))  # fmt: skip
    elif claim.occurred_at is not None and time_source != "osd":
        minutes = abs((captured - claim.occurred_at).total_seconds()) / 60
        if minutes > tolerance_minutes:
            flags.append(("capture_time_mismatch", {
                "captured_at": captured.isoformat(), "claimed_at": claim.occurred_at.isoformat(),
                "difference_minutes": round(minutes, 1), "tolerance_minutes": tolerance_minutes,
                "source": time_source}))  # fmt: skip
    where, place_source = position(facts)
    claimed_place = claim.lat is not None and claim.lon is not None
    if where is not None and place_source != "osd" and claimed_place:
        km = distance_km(where, (claim.lat, claim.lon))  # type: ignore[arg-type]
        if km > tolerance_km:
            flags.append(("location_mismatch", {
                "file_position": list(where), "claimed_position": [claim.lat, claim.lon],
                "distance_km": round(km, 2), "tolerance_km": tolerance_km,
                "source": place_source}))  # fmt: skip
    if facts.get("reencode_signals"):
        flags.append(("reencoded", {"signals": facts["reencode_signals"],
                                    "encoder": facts.get("encoder")}))  # fmt: skip
    if facts.get("osd") and (found := osd_mismatch(facts["osd"], claim, osd_rule)):
        flags.append(("osd_mismatch", found))
    return flags
