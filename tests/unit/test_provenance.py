"""The provenance rules: each kind of evidence points at the source, thin evidence answers
"can't tell", and the suggested split follows the ranking."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from mvq.review.provenance import Alignment, FileFacts, Ranking, compare
from mvq.scoring.disputes.suggestion import suggest

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
FULL = Alignment(1.0, 1.0)


def facts(sid: str, **kw: object) -> FileFacts:
    base = FileFacts(submission_id=sid, media_id=f"m-{sid}", uploaded_at=T0, duration=20.0,
                     pixels=1280 * 720, bit_rate=4_000_000, reencoded=True)  # fmt: skip
    return replace(base, **kw)  # type: ignore[arg-type]


def codes(verdict, side: str) -> set[str]:  # type: ignore[no-untyped-def]
    return {r.code for r in verdict.reasons[side]}


def test_a_copy_at_a_higher_crf_loses_bits_and_the_original_is_told_even_uploaded_second() -> None:
    a = facts("a", bit_rate=4_000_000, uploaded_at=T0 + timedelta(minutes=2))
    b = facts("b", bit_rate=1_800_000)
    verdict = compare(a, b, FULL)
    assert verdict.original == "a" and verdict.copy == "b"
    assert codes(verdict, "a") == {"bit_rate_much"} and codes(verdict, "b") == {"uploaded_first"}


def test_uploaded_first_alone_is_cant_tell() -> None:
    verdict = compare(facts("a", uploaded_at=T0 - timedelta(hours=1)), facts("b"), FULL)
    assert verdict.original is None
    assert codes(verdict, "a") == {"uploaded_first"}


def test_a_small_bit_rate_edge_alone_is_cant_tell() -> None:
    verdict = compare(facts("a", bit_rate=5_200_000), facts("b"), FULL)
    assert verdict.original is None and codes(verdict, "a") == {"bit_rate"}


def test_the_same_bytes_are_cant_tell() -> None:
    verdict = compare(facts("a", uploaded_at=T0 - timedelta(days=1)), facts("b"),
                      Alignment(1.0, 1.0, exact=True))  # fmt: skip
    assert verdict.original is None and verdict.same_file


def test_a_trimmed_copy_is_contained_in_the_longer_file() -> None:
    long, cut = facts("a", duration=45.0), facts("b", duration=20.0)
    # All of the cut's frames are in the long file; under half of the long file's in the cut.
    verdict = compare(cut, long, Alignment(share_a=1.0, share_b=0.44))
    assert verdict.original == "a"
    contains = [r for r in verdict.reasons["a"] if r.code == "contains"]
    assert contains and contains[0].params == {"seconds": 25}


def test_camera_tags_beat_a_reencode_and_outweigh_upload_order() -> None:
    camera = facts("a", camera=True, reencoded=False, uploaded_at=T0 + timedelta(hours=1))
    verdict = compare(camera, facts("b", camera=True, reencoded=True), FULL)
    assert verdict.original == "a"
    assert [r.params for r in verdict.reasons["a"] if r.code == "camera"] == [
        {"other_reencoded": True}]  # fmt: skip


def test_a_remux_without_metadata_of_a_camera_file() -> None:
    camera = facts("a", camera=True, reencoded=False, captured_at=T0, time_source="file metadata")
    stripped = facts("b", reencoded=False)
    verdict = compare(stripped, camera, FULL)
    assert verdict.original == "a" and codes(verdict, "a") == {"camera"}


def test_telemetry_hours_earlier_and_higher_resolution() -> None:
    a = facts("a", captured_at=T0, time_source="telemetry (dji-srt)", pixels=1920 * 1080)
    b = facts("b", captured_at=T0 + timedelta(hours=3), time_source="file metadata")
    verdict = compare(a, b, FULL)
    assert verdict.original == "a" and codes(verdict, "a") == {"earlier", "resolution"}
    earlier = next(r for r in verdict.reasons["a"] if r.code == "earlier")
    assert earlier.params["seconds"] == 3 * 3600


def test_conflicting_strong_evidence_is_cant_tell() -> None:
    # One keeps camera tags, the other has far more pixels: an honest "can't tell".
    a = facts("a", camera=True, reencoded=False, pixels=640 * 360, bit_rate=1_000_000)
    b = facts("b", pixels=1920 * 1080, bit_rate=1_000_000)
    assert compare(a, b, FULL).original is None


def test_a_c2pa_manifest_decides() -> None:
    verdict = compare(facts("a"), facts("b", c2pa_valid=True), FULL)
    assert verdict.original == "b" and codes(verdict, "b") == {"c2pa"}


def test_a_phone_filming_a_screen_is_not_told_the_source_by_its_camera_or_its_pixels() -> None:
    """Linked only by the scene's geometry (a screen filmed, an inset): the phone's file has
    real camera tags, more pixels and more bits, and none of it says which came first; only
    time and containment still do."""
    screen = facts("a", pixels=1280 * 720, bit_rate=2_000_000, uploaded_at=T0)
    phone = facts("b", camera=True, reencoded=False, pixels=1920 * 1080, bit_rate=9_000_000,
                  c2pa_valid=True, uploaded_at=T0 + timedelta(hours=1))  # fmt: skip
    refilm = Alignment(0.6, 0.9, geometric=True)
    assert compare(screen, phone, refilm).original is None
    assert compare(screen, phone, FULL).original == "b"  # the same picture: its evidence holds
    shot_before = replace(screen, captured_at=T0 - timedelta(hours=6), time_source="file metadata")
    told = compare(shot_before, replace(phone, captured_at=T0), refilm)
    assert told.original == "a" and "earlier" in codes(told, "a")
    assert codes(told, "b") == set()  # nothing of the phone's own counts


def _contest(*members: tuple[str, bool, int], worth: int = 40):  # type: ignore[no-untyped-def]
    """Members as (id, approved and unpaid, paid)."""
    out = [SimpleNamespace(submission=SimpleNamespace(id=sid), payable=payable, paid=paid,
                           approved=payable or paid > 0)
           for sid, payable, paid in members]  # fmt: skip
    return SimpleNamespace(members=out, worth=SimpleNamespace(points=worth))


def test_all_to_the_original_and_a_copys_payment_taken_back() -> None:
    ranking = Ranking([], "a", ["b"], [])
    found = suggest(_contest(("a", True, 0), ("b", False, 40)), ranking)  # type: ignore[arg-type]
    assert (found.kind, found.shares, found.reverse, found.blocked) == (
        "original", {"a": 40}, ["b"], None)  # fmt: skip


def test_the_original_already_paid_leaves_the_copy_nothing() -> None:
    found = suggest(_contest(("a", False, 40), ("b", True, 0)), Ranking([], "a", ["b"], []))  # type: ignore[arg-type]
    assert (found.shares, found.reverse) == ({"b": 0}, [])


def test_cant_tell_shares_equally_and_waits_for_an_unapproved_original() -> None:
    found = suggest(_contest(("a", True, 0), ("b", True, 0), worth=41), Ranking([], None, [], []))  # type: ignore[arg-type]
    assert (found.kind, found.shares) == ("shared", {"a": 21, "b": 20})
    waiting = suggest(_contest(("a", False, 0), ("b", True, 0)), Ranking([], "a", ["b"], []))  # type: ignore[arg-type]
    assert waiting.blocked == "wait_original"


def test_reasons_read_in_the_readers_language() -> None:
    from edge import i18n
    from mvq.review.provenance import Reason
    from web.provenance_words import reason

    said = [Reason("contains", {"seconds": 25}),
            Reason("earlier", {"seconds": 3 * 3600, "source": "telemetry (srt)"}),
            Reason("bit_rate_much", {"ratio": 2.2})]  # fmt: skip
    with i18n.using("en"):
        assert [reason(r) for r in said] == [
            "contains all of the other's frames plus 25 seconds more",
            "recorded 3 hours earlier (telemetry)", "higher bit rate (2.2 times)"]  # fmt: skip
    with i18n.using("uk"):
        assert [reason(r) for r in said] == [
            "містить усі кадри іншого файлу і ще 25 секунд",  # noqa: RUF001
            "записано на 3 години раніше (телеметрія)",
            "вищий бітрейт (у 2,2 раза)",  # noqa: RUF001
        ]  # fmt: skip
