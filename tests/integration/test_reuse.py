"""Footage re-used the way copiers really do it, through the real queue and workers: cut at
a moment between two sampled seconds, sped up, turned, cropped to a vertical repost. Each copy
by another unit is flagged as theirs with frame evidence, whichever of the two came first;
unrelated footage of the same kind is not."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mvq.media.ingest import pipeline
from mvq.media.ingest.hashing import hamming
from testkit import footage, harness
from testkit.claims import upload_claim, wait_for_status
from testkit.people import Accounts

DUPLICATE_KINDS = {"near_duplicate", "cross_unit_duplicate", "exact_duplicate"}


def flags_seen_by_staff(stack: harness.Stack, accounts: Accounts, submission: str) -> dict:  # type: ignore[type-arg]
    with stack.client(accounts.staff_tokens["reviewer"]) as staff:
        body = staff.get(f"/api/v1/submissions/{submission}").json()
    return {f["kind"]: f["evidence"] for f in body["flags"]}


def claim_in_queue(stack: harness.Stack, token: str, clip: Path) -> str:
    submission = upload_claim(stack, token, clip)
    wait_for_status(stack, token, submission, "in_queue")
    return submission


def assert_copy_of(flags: dict, first: str, first_unit: str) -> None:  # type: ignore[type-arg]
    assert "cross_unit_duplicate" in flags, sorted(flags)
    match = next(m for m in flags["cross_unit_duplicate"]["matches"]
                 if m["submission_id"] == first)  # fmt: skip
    assert match["unit_id"] == first_unit
    pairs = match["frame_pairs"]
    assert len(pairs) >= 3 and all(p["distance"] <= 31 for p in pairs)


@pytest.mark.parametrize("copy_first", [False, True], ids=["original-first", "copy-first"])
def test_a_cut_between_two_seconds_by_another_unit_is_theirs(
    stack: harness.Stack, accounts: Accounts, tmp_path: Path, copy_first: bool
) -> None:
    source = "camera" if copy_first else "horse"  # each order its own footage
    original = footage.drone_clip(source, tmp_path / "strike.mp4")
    copy = footage.reused(original, tmp_path / "cut.mp4", start=2.43)
    # The case sampling once a second misses: no still of the copy is within PDQ's threshold
    # of any still of the original, as the two sample grids sit 0.43 s apart.
    ours, theirs = pipeline.analyse(original).stills, pipeline.analyse(copy).stills
    assert min(hamming(a.hashes.pdq, b.hashes.pdq) for a in ours for b in theirs) > 31

    first_clip, second_clip = (copy, original) if copy_first else (original, copy)
    first = claim_in_queue(stack, accounts.unit_token, first_clip)
    second = claim_in_queue(stack, accounts.other_unit_token, second_clip)
    flags = flags_seen_by_staff(stack, accounts, second)
    assert_copy_of(flags, first, accounts.unit_id)
    assert "exact_duplicate" not in flags
    if copy_first:  # the original probes the copy's stills: pairs sit 2.43 s apart
        pairs = flags["cross_unit_duplicate"]["matches"][0]["frame_pairs"]
        assert all(abs(p["this_t"] - p["other_t"] - 2.43) < 0.2 for p in pairs)


@pytest.mark.parametrize(
    ("source", "vf"),
    [("coins", "setpts=PTS/1.25"), ("clock", "transpose=1"),
     ("astronaut", "crop=ih*9/16:ih,scale=360:640")],
    ids=["1.25x faster", "turned 90 degrees", "vertical 9:16 crop"],
)  # fmt: skip
def test_a_sped_up_turned_or_vertical_copy_is_flagged(
    stack: harness.Stack, accounts: Accounts, tmp_path: Path, source: str, vf: str
) -> None:
    original = footage.drone_clip(source, tmp_path / "strike.mp4")
    first = claim_in_queue(stack, accounts.unit_token, original)
    copy = footage.reused(original, tmp_path / "copy.mp4", start=0.7, vf=vf)
    second = claim_in_queue(stack, accounts.other_unit_token, copy)
    assert_copy_of(flags_seen_by_staff(stack, accounts, second), first, accounts.unit_id)


def test_unrelated_look_alike_footage_is_not_a_copy(
    stack: harness.Stack, accounts: Accounts, tmp_path: Path
) -> None:
    """Night footage and thermal-style grey footage of different places look alike to a
    person skimming: dark, grainy, low contrast. None is a copy of another."""
    looks = {
        "night-a": "eq=brightness=-0.35:contrast=0.6,noise=alls=14:allf=t",
        "night-b": "eq=brightness=-0.35:contrast=0.6,noise=alls=14:allf=t",
        "thermal-a": "format=gray,negate,gblur=sigma=1.2,noise=alls=8:allf=t,format=yuv420p",
        "thermal-b": "format=gray,negate,gblur=sigma=1.2,noise=alls=8:allf=t,format=yuv420p",
    }
    sources = {"night-a": "gravel", "night-b": "grass", "thermal-a": "brick",
               "thermal-b": "immunohistochemistry"}  # fmt: skip
    submitted = []
    for n, (name, vf) in enumerate(looks.items()):
        flown = footage.drone_clip(sources[name], tmp_path / f"{name}-src.mp4", seconds=6)
        clip = footage.reused(flown, tmp_path / f"{name}.mp4", vf=vf)
        token = accounts.unit_token if n % 2 else accounts.other_unit_token
        submitted.append((token, claim_in_queue(stack, token, clip)))
    for token, submission in submitted:
        with stack.client(token) as unit:
            body = unit.get(f"/api/v1/submissions/{submission}").json()
        assert not {f["kind"] for f in body["flags"]} & DUPLICATE_KINDS, body["flags"]


def approve_over_api(stack: harness.Stack, accounts: Accounts, submission: str) -> None:
    """A reviewer approves this claim: whatever else the queue offers first is set aside to the
    seniors' lane (escalated), which the reviewer does not see again."""
    with stack.client(accounts.staff_tokens["reviewer"]) as api:
        for _ in range(50):
            lease = api.post("/api/v1/review/claim")
            assert lease.status_code == 200, lease.text
            mine = lease.json()["submission_id"] == submission
            body = {"lease_token": lease.json()["lease_token"],
                    "decision": "approve" if mine else "escalate"}  # fmt: skip
            done = api.post(f"/api/v1/review/{lease.json()['item_id']}/decision", json=body)
            assert done.status_code == 200, done.text
            if mine:
                return
    raise AssertionError("the claim never came up")


def test_a_copy_of_a_paid_claim_is_already_credited_and_never_paid_twice(
    stack: harness.Stack, accounts: Accounts, tmp_path: Path
) -> None:
    original = footage.drone_clip("rocket", tmp_path / "strike.mp4")
    first = claim_in_queue(stack, accounts.unit_token, original)
    approve_over_api(stack, accounts, first)
    # Another unit re-encodes it, cut at 1.37 s, and says the hit was 300 days earlier.
    copy = footage.reused(original, tmp_path / "copy.mp4", start=1.37)
    earlier = (datetime.now(UTC) - timedelta(days=300)).isoformat()
    second = upload_claim(stack, accounts.other_unit_token, copy, occurred_at=earlier)
    wait_for_status(stack, accounts.other_unit_token, second, "in_queue")

    flags = flags_seen_by_staff(stack, accounts, second)
    (credited,) = flags["already_credited"]["claims"]
    assert credited["submission_id"] == first and credited["submission_status"] == "approved"
    assert credited["decision"] == "approve"
    assert [s["kind"] for s in credited["signals"]] == ["same_footage"]
    with stack.client(accounts.other_unit_token) as unit:
        mine = unit.get(f"/api/v1/submissions/{second}").json()
    assert {f["kind"]: f["evidence"] for f in mine["flags"]}["already_credited"] == {}

    approve_over_api(stack, accounts, second)  # held: the target is disputed
    with stack.client(accounts.staff_tokens["senior"]) as senior:
        (dispute,) = [d for d in senior.get("/api/v1/disputes").json()
                      if {m["submission_id"] for m in d["members"]} == {first, second}]  # fmt: skip
        # Priced when the first claim said the hit was, not 300 days before; already paid.
        assert (dispute["worth"]["points"], dispute["paid"], dispute["left"]) == (40, 40, 0)
        payable = {m["submission_id"]: m["payable"] for m in dispute["members"]}
        assert payable == {first: False, second: True}
        refused = senior.post(f"/api/v1/disputes/{dispute['id']}/settle",
                              json={"shares": {second: 40}})  # fmt: skip
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"]["code"] == "over_worth"
        assert "40 + 40 = 80 > 40" in refused.json()["error"]["message"]
