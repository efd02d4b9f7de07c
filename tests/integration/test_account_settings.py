"""A person's own settings: the pages' language and the zone their times are told in, stored
with them (for staff and units' members alike), checked, and audited."""

import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select

from mvq.audit.models import AuditEvent
from mvq.auth.models import Role, StaffUser
from mvq.db import session_factory
from testkit import harness
from testkit.claims import upload_claim
from testkit.people import Accounts, make_login, web_login

TIME = re.compile(r'<time datetime="([^"]+)" title="[^"]*">([^<]+)</time>')


def test_a_member_reads_times_in_their_zone_and_pages_in_their_language(
    stack: harness.Stack, accounts: Accounts, tank_clip: Path
) -> None:
    upload_claim(stack, accounts.unit_token, tank_clip)
    email, password = make_login(Role.unit, unit_id=accounts.unit_id)
    web = web_login(stack, email, password)
    form = {"csrf_token": web.csrf}
    refused = web.client.post("/account", data=form | {"time_zone": "Mars/Olympus_Mons"})
    assert refused.status_code == 422 and "Choose a time zone from the list." in refused.text

    saved = web.client.post("/account", data=form | {"time_zone": "Asia/Tokyo", "language": "uk"})
    assert saved.status_code == 303
    with session_factory()() as session:
        person = session.scalars(select(StaffUser).where(StaffUser.email == email)).one()
        assert (person.language, person.time_zone) == ("uk", "Asia/Tokyo")
        changed = session.scalars(select(AuditEvent).where(
            AuditEvent.action == "user.preferences_changed", AuditEvent.object_id == person.id
        )).all()  # fmt: skip
    assert [e.data for e in changed] == [{"language": "uk", "time_zone": "Asia/Tokyo"}]

    # The stored language wins over the browser's Accept-Language (en in web_login).
    page = web.client.get("/unit").text
    assert '<html lang="uk">' in page and "Мої заявки" in page
    iso, text = TIME.search(page).groups()  # type: ignore[union-attr]
    local = datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(ZoneInfo("Asia/Tokyo"))
    assert f"{local:%H:%M}" in text, (iso, text)

    # Back to the defaults: the browser's language, the configured zone (Europe/Kyiv).
    web.client.post("/account", data=form | {"time_zone": "", "language": ""})
    page = web.client.get("/unit").text
    assert '<html lang="en">' in page
    iso, text = TIME.search(page).groups()  # type: ignore[union-attr]
    local = datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(ZoneInfo("Europe/Kyiv"))
    assert f"{local:%H:%M}" in text, (iso, text)
