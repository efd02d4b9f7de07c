"""Re-used footage through the real queue and workers: an exact copy and a re-encoded copy
claimed by a second unit are flagged with evidence; staff see whose, units never do."""

from pathlib import Path

import pytest

from testkit import footage, harness
from testkit.claims import upload_claim, wait_for_status
from testkit.people import Accounts


@pytest.fixture(scope="session")
def original(clips: Path) -> Path:
    return footage.clip("astronaut", clips / "strike.mp4", seconds=6)


def test_reencoded_copy_by_another_unit_is_a_cross_unit_duplicate(
    stack: harness.Stack, accounts: Accounts, original: Path, tmp_path: Path
) -> None:
    first = upload_claim(stack, accounts.unit_token, original)
    wait_for_status(stack, accounts.unit_token, first, "in_queue")
    copy = footage.messenger_copy(original, tmp_path / "forwarded.mp4")
    second = upload_claim(stack, accounts.other_unit_token, copy)
    body = wait_for_status(stack, accounts.other_unit_token, second, "in_queue")
    # The unit is told that its footage was submitted before: not whose, nor that it was
    # another unit's (issue 30).
    told = [f for f in body["flags"] if f["kind"] == "already_submitted"]
    assert len(told) == 1 and told[0]["evidence"] == {}
    assert not {f["kind"] for f in body["flags"]} & {
        "near_duplicate", "cross_unit_duplicate", "exact_duplicate"}  # fmt: skip

    with stack.client(accounts.staff_tokens["reviewer"]) as staff:
        flags = {f["kind"]: f["evidence"] for f in
                 staff.get(f"/api/v1/submissions/{second}").json()["flags"]}  # fmt: skip
        matches = staff.get(f"/api/v1/submissions/{second}/matches").json()["matches"]
    assert {"near_duplicate", "cross_unit_duplicate"} <= set(flags)
    assert "exact_duplicate" not in flags
    match = flags["cross_unit_duplicate"]["matches"][0]
    assert match["submission_id"] == first and match["unit_id"] == accounts.unit_id
    assert match["submission_status"] == "in_queue"
    assert match["share_this"] >= 0.8 and match["share_other"] >= 0.8
    pairs = match["frame_pairs"]
    assert len(pairs) >= 4 and all(p["distance"] <= 31 for p in pairs)
    this_times = [p["this_t"] for p in pairs]
    assert this_times == sorted(set(this_times))  # one pair per matched frame, in clip order
    assert any(m["submission_id"] == first for m in matches)

    # The first claim was processed before the copy existed: nothing flags it.
    with stack.client(accounts.unit_token) as unit:
        earlier = unit.get(f"/api/v1/submissions/{first}").json()
    assert not {f["kind"] for f in earlier["flags"]} & {"already_submitted"}


def test_same_bytes_again_is_an_exact_duplicate(
    stack: harness.Stack, accounts: Accounts, original: Path
) -> None:
    again = upload_claim(stack, accounts.unit_token, original)
    body = wait_for_status(stack, accounts.unit_token, again, "in_queue")
    assert [f["kind"] for f in body["flags"]].count("already_submitted") == 1
    with stack.client(accounts.staff_tokens["senior"]) as staff:
        flags = {f["kind"]: f["evidence"] for f in
                 staff.get(f"/api/v1/submissions/{again}").json()["flags"]}  # fmt: skip
    assert {"exact_duplicate", "near_duplicate"} <= set(flags)
    exact = flags["exact_duplicate"]["matches"]
    assert exact and all(m["unit_id"] == accounts.unit_id for m in exact)
    # Its exact copy is the same unit's, but the other unit's re-encode matches it too.
    cross = flags["cross_unit_duplicate"]["matches"]
    assert {m["unit_id"] for m in cross} == {accounts.other_unit_id}


def test_unrelated_footage_matches_nothing(
    stack: harness.Stack, accounts: Accounts, tank_clip: Path
) -> None:
    submission = upload_claim(stack, accounts.unit_token, tank_clip)
    body = wait_for_status(stack, accounts.unit_token, submission, "in_queue")
    assert not {f["kind"] for f in body["flags"]} & {"already_submitted"}


def test_match_command_lists_the_holders(stack: harness.Stack, original: Path) -> None:
    done = harness.run_cli(["match", str(original)], stack.env)
    assert done.returncode == 0, done.stderr
    import json

    report = json.loads(done.stdout)
    kinds = {m["kind"] for m in report["matches"]}
    assert {"exact_duplicate", "near_duplicate"} <= kinds
